"""Creates the catch-up PeriodicTask (django-celery-beat): every 30 seconds, kwargs
{"currency": "AED"}. Only when missing; `manage.py setup_avenir_schedule` does the same on
every deploy."""

from django.db import migrations


def create_catch_up(apps, schema_editor):
    from vaults.services.schedule import ensure_catch_up_schedule

    ensure_catch_up_schedule(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("vaults", "0008_run_holder_catch_up"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    # Reverse keeps the row: it may carry operators' edits, and beat ignores it once the task is gone.
    operations = [migrations.RunPython(create_catch_up, migrations.RunPython.noop)]
