"""Creates the daily AVENIR release PeriodicTask (django-celery-beat): 5 0 * * * UTC,
kwargs {"currency": "AED"}. Only when missing; `manage.py setup_avenir_schedule` does
the same on every deploy, so a database migrated before this file also gets it."""

from django.db import migrations


def create_schedule(apps, schema_editor):
    from vaults.services.schedule import ensure_avenir_schedule

    ensure_avenir_schedule(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("vaults", "0002_avenir_vault"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    # Reverse keeps the row: it may carry operators' edits, and beat ignores it once the task is gone.
    operations = [migrations.RunPython(create_schedule, migrations.RunPython.noop)]
