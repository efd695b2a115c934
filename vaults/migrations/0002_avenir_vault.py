"""Creates the AVENIR vault ("COFFRE AVENIR", AED) with the configured vesting period."""

from django.conf import settings
from django.db import migrations


def create_avenir(apps, schema_editor):
    Vault = apps.get_model("vaults", "Vault")
    Vault.objects.get_or_create(
        code="AVENIR",
        currency="AED",
        defaults={
            "product_label": "COFFRE AVENIR",
            "vesting_days": settings.AVENIR_VESTING_DAYS,
        },
    )


def delete_avenir(apps, schema_editor):
    apps.get_model("vaults", "Vault").objects.filter(code="AVENIR", currency="AED", lots__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("vaults", "0001_initial")]

    operations = [migrations.RunPython(create_avenir, delete_avenir)]
