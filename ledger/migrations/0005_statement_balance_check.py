"""The balance check runs once per INSERT statement instead of once per entry row.

The row-level deferred trigger of 0002 summed every operation's entries again for
each of its rows at COMMIT (two index lookups and aggregates per release). Entries
are immutable (0002 rejects UPDATE and DELETE), so an operation balances if every
INSERT statement's entries balance per operation and currency: the total is the sum
of the statements' sums. One aggregate over the statement's transition table checks
that, whatever the number of rows. It is stricter than before: the legs of an
operation that one statement writes must balance on their own, so an operation
can no longer be written leg by leg across statements (nothing in this code does).
It relies on 0002's triggers that reject UPDATE and DELETE of entries. TRUNCATE bypasses
row triggers (as it did before); it is not rejected because the test suite's flush uses it.

Also drops the varchar_pattern_ops index Django adds beside a unique varchar:
idempotency keys are looked up by equality only, and each index costs every posting.
"""

from importlib import import_module

from django.db import migrations

STATEMENT_CHECK = """
CREATE FUNCTION ledger_check_statement_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT operation_id, currency, SUM(amount) AS total INTO bad
      FROM new_entries GROUP BY operation_id, currency HAVING SUM(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: entries of operation % sum to % %, not zero', bad.operation_id, bad.total, bad.currency
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_balanced_per_statement
    AFTER INSERT ON ledger_entries REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_statement_balanced();
DROP TRIGGER ledger_entries_balanced ON ledger_entries;
DROP FUNCTION ledger_check_operation_balanced();
"""

# The reverse restores 0002's deferred row trigger, with 0002's own SQL.
STATEMENT_CHECK_REVERSE = (
    """
DROP TRIGGER ledger_entries_balanced_per_statement ON ledger_entries;
DROP FUNCTION ledger_check_statement_balanced();
"""
    + import_module("ledger.migrations.0002_ledger_triggers").BALANCED
)

DROP_PATTERN_INDEX = "DROP INDEX IF EXISTS operations_idempotency_key_db858294_like"
DROP_PATTERN_INDEX_REVERSE = (
    "CREATE INDEX operations_idempotency_key_db858294_like ON operations (idempotency_key varchar_pattern_ops)"
)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_lean_indexes_uuid7")]

    operations = [
        migrations.RunSQL(STATEMENT_CHECK, STATEMENT_CHECK_REVERSE),
        migrations.RunSQL(DROP_PATTERN_INDEX, DROP_PATTERN_INDEX_REVERSE),
    ]
