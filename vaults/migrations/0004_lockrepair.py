"""The record of lock-audit repairs, with the permission that guards them."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0002_ledger_triggers"),
        ("vaults", "0003_avenir_schedule"),
    ]

    operations = [
        migrations.CreateModel(
            name="LockRepair",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("amount", models.DecimalField(decimal_places=2, max_digits=20)),
                ("actor", models.CharField(max_length=150)),
                ("trace_id", models.CharField(db_index=True, max_length=64)),
                ("created_at", models.DateTimeField()),
                (
                    "lock",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="repairs", to="ledger.walletlock"
                    ),
                ),
                (
                    "lot",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="lock_repairs",
                        to="vaults.vestinglot",
                    ),
                ),
            ],
            options={
                "db_table": "vault_lock_repairs",
                "ordering": ["-created_at", "-id"],
                "permissions": [("repair_wallet_lock", "Can close the ACTIVE wallet lock of a released lot")],
            },
        ),
    ]
