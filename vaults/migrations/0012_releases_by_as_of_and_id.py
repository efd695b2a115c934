"""The release operations of a business day, walked in id order: the reversal of a run or
of a day hands out key ranges of them (an index range scan whatever the history). The
runbook's count of a day's releases uses the same index, by its first two columns."""

from django.db import migrations

WITH_ID = """
DROP INDEX operations_release_as_of;
CREATE INDEX operations_release_as_of ON operations (currency, (operation_metadata->>'as_of'), id)
 WHERE type = 'VAULT_VESTING_RELEASE';
"""

WITHOUT_ID = """
DROP INDEX operations_release_as_of;
CREATE INDEX operations_release_as_of ON operations (currency, (operation_metadata->>'as_of'))
 WHERE type = 'VAULT_VESTING_RELEASE';
"""


class Migration(migrations.Migration):
    dependencies = [("vaults", "0011_ledger_verification")]

    operations = [migrations.RunSQL(WITH_ID, WITHOUT_ID)]
