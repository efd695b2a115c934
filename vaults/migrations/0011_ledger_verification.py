# The record of each ledger verification (verify_ledger), exported by /metrics.

import django.db.models.functions.datetime
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("vaults", "0010_reversal_runs"),
    ]

    operations = [
        migrations.CreateModel(
            name="LedgerVerificationRecord",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("checked_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                ("currency", models.CharField(blank=True, max_length=3)),
                ("ok", models.BooleanField()),
                ("violations", models.PositiveIntegerField()),
                ("failed_checks", models.JSONField(blank=True, default=list)),
                ("seconds", models.FloatField()),
                (
                    "trigger",
                    models.CharField(
                        choices=[("after_release", "After a release"), ("cli", "Command line")], max_length=16
                    ),
                ),
                ("actor", models.CharField(blank=True, max_length=150)),
                ("trace_id", models.CharField(blank=True, max_length=64)),
            ],
            options={
                "verbose_name": "ledger verification",
                "db_table": "vault_ledger_verifications",
                "ordering": ["-checked_at", "-id"],
                "indexes": [
                    models.Index(
                        models.OrderBy(models.F("checked_at"), descending=True),
                        models.OrderBy(models.F("id"), descending=True),
                        name="ledger_verifications_newest",
                    )
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("ok", True), ("violations", 0)),
                            models.Q(("ok", False), ("violations__gt", 0)),
                            _connector="OR",
                        ),
                        name="ledger_verification_ok_iff_clean",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("seconds__gte", 0)), name="ledger_verification_seconds_non_negative"
                    ),
                ],
            },
        ),
    ]
