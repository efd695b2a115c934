from django.db import migrations, models

# Rows left RUNNING by runs that died before the lease existed: the newest per
# (vault, currency, as_of) keeps the lease (its heartbeat is its start, so it expires
# and is taken over by the next run); any older one is marked ABANDONED here.
BACKFILL = """
UPDATE vault_release_runs SET heartbeat_at = started_at WHERE status = 'RUNNING';
UPDATE vault_release_runs r
   SET status = 'ABANDONED', finished_at = now(), exit_code = 1,
       error = 'abandoned: still RUNNING when the run lease was introduced'
 WHERE r.status = 'RUNNING'
   AND EXISTS (SELECT 1 FROM vault_release_runs n
                WHERE n.status = 'RUNNING' AND n.vault_id = r.vault_id AND n.currency = r.currency
                  AND n.as_of = r.as_of AND (n.started_at, n.id) > (r.started_at, r.id));
"""

# Operators find a business day's releases by the as_of in their metadata (the runbook);
# this keeps that query's cost independent of the history's size.
RELEASES_BY_AS_OF = """
CREATE INDEX operations_release_as_of ON operations (currency, (operation_metadata->>'as_of'))
 WHERE type = 'VAULT_VESTING_RELEASE';
"""


class Migration(migrations.Migration):
    dependencies = [
        ("vaults", "0005_lots_vault_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="releaserun",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="releaserun",
            name="locks_closed_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="releaserun",
            name="status",
            field=models.CharField(
                choices=[
                    ("RUNNING", "Running"),
                    ("SUCCEEDED", "Succeeded"),
                    ("COMPLETED_WITH_ERRORS", "Completed with errors"),
                    ("FAILED", "Failed"),
                    ("ABANDONED", "Abandoned"),
                ],
                default="RUNNING",
                max_length=32,
            ),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name="releaserun",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "RUNNING")),
                fields=("vault", "currency", "as_of"),
                name="release_run_lease",
            ),
        ),
        migrations.RunSQL(RELEASES_BY_AS_OF, reverse_sql="DROP INDEX operations_release_as_of;"),
    ]
