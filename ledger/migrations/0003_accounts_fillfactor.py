"""Account rows are rewritten on every posting: leave room in each page so PostgreSQL
can update balances in place (HOT updates, no index churn)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_ledger_triggers")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE ledger_accounts SET (fillfactor = 70);",
            "ALTER TABLE ledger_accounts RESET (fillfactor);",
        )
    ]
