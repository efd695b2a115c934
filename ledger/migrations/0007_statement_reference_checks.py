"""References to operations and accounts checked once per statement instead of once per row.

A release writes, per lot, two entries (each pointing at an operation and an account) and
closes a lock (pointing at its release operation). As deferred foreign keys, each of
those references fired its own trigger per row at COMMIT, with a row lock on the
referenced operation or account: about a quarter of a release's time. Here each INSERT
or UPDATE statement checks the references of all its rows at once, from its transition
table, through the primary-key indexes.

The guarantee stays that of the foreign keys because what they point at never goes away:
- operations are immutable (0002 rejects UPDATE and DELETE);
- accounts can no longer be deleted, nor their id changed (triggers below);
- TRUNCATE of operations or ledger_accounts is refused while rows still point at them,
  as a foreign key would (TRUNCATE of every table at once, as the test suite's flush
  does, still works: the check runs after the whole command).

The entries' check also refuses an entry in another currency than its account's, and
keeps 0005's rule that each statement's entries balance per operation and currency.
The foreign keys to users stay: users can be deleted.
"""

from importlib import import_module

from django.db import migrations, models

ENTRIES_CHECK = """
CREATE FUNCTION ledger_check_new_entries() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT e.operation_id INTO bad
      FROM new_entries e
     WHERE NOT EXISTS (SELECT 1 FROM operations o WHERE o.id = e.operation_id)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: entry refused: operation % does not exist', bad.operation_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT e.account_id, e.currency, a.currency AS account_currency INTO bad
      FROM new_entries e LEFT JOIN ledger_accounts a ON a.id = e.account_id
     WHERE a.id IS NULL OR a.currency <> e.currency
     LIMIT 1;
    IF FOUND AND bad.account_currency IS NULL THEN
        RAISE EXCEPTION 'ledger: entry refused: account % does not exist', bad.account_id
            USING ERRCODE = 'foreign_key_violation';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'ledger: entry refused: % entry on account %, which holds %',
            bad.currency, bad.account_id, bad.account_currency
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT operation_id, currency, SUM(amount) AS total INTO bad
      FROM new_entries GROUP BY operation_id, currency HAVING SUM(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: entries of operation % sum to % %, not zero', bad.operation_id, bad.total, bad.currency
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_checked_per_statement
    AFTER INSERT ON ledger_entries REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_new_entries();
DROP TRIGGER ledger_entries_balanced_per_statement ON ledger_entries;
DROP FUNCTION ledger_check_statement_balanced();
"""

# The reverse restores 0005's balance check, with 0005's own SQL (its CREATE statements).
BALANCE_CHECK_0005 = import_module("ledger.migrations.0005_statement_balance_check").STATEMENT_CHECK.split(
    "DROP TRIGGER ledger_entries_balanced ON"
)[0]
ENTRIES_CHECK_REVERSE = (
    "DROP TRIGGER ledger_entries_checked_per_statement ON ledger_entries;\n"
    "DROP FUNCTION ledger_check_new_entries();\n" + BALANCE_CHECK_0005
)

# One function for INSERT and UPDATE (a trigger with a transition table has one event).
LOCKS_CHECK = """
CREATE FUNCTION ledger_check_lock_release_operations() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT w.id, w.release_operation_id INTO bad
      FROM changed_locks w
     WHERE w.release_operation_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM operations o WHERE o.id = w.release_operation_id)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: wallet lock % refused: release operation % does not exist',
            bad.id, bad.release_operation_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER wallet_locks_inserted_release_operation
    AFTER INSERT ON wallet_locks REFERENCING NEW TABLE AS changed_locks
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_lock_release_operations();
CREATE TRIGGER wallet_locks_updated_release_operation
    AFTER UPDATE ON wallet_locks REFERENCING NEW TABLE AS changed_locks
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_lock_release_operations();
"""

LOCKS_CHECK_REVERSE = """
DROP TRIGGER wallet_locks_inserted_release_operation ON wallet_locks;
DROP TRIGGER wallet_locks_updated_release_operation ON wallet_locks;
DROP FUNCTION ledger_check_lock_release_operations();
"""

# What the references point at stays: no account is deleted or re-keyed, and neither table
# is truncated while rows point at it (a whole-schema TRUNCATE empties both sides first).
KEEP_REFERENCED = """
CREATE FUNCTION ledger_reject_account_removal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: account % cannot be deleted or get another id: entries refer to it', OLD.id
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER ledger_accounts_not_deleted BEFORE DELETE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_account_removal();
CREATE TRIGGER ledger_accounts_id_kept BEFORE UPDATE OF id ON ledger_accounts
    FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION ledger_reject_account_removal();

CREATE FUNCTION ledger_reject_orphaning_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger_entries)
       OR (TG_TABLE_NAME = 'operations'
           AND EXISTS (SELECT 1 FROM wallet_locks WHERE release_operation_id IS NOT NULL)) THEN
        RAISE EXCEPTION 'ledger: cannot truncate % alone: other rows refer to it (truncate them in the same command)',
            TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER operations_not_orphaned AFTER TRUNCATE ON operations
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_orphaning_truncate();
CREATE TRIGGER ledger_accounts_not_orphaned AFTER TRUNCATE ON ledger_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_orphaning_truncate();
"""

KEEP_REFERENCED_REVERSE = """
DROP TRIGGER ledger_accounts_not_deleted ON ledger_accounts;
DROP TRIGGER ledger_accounts_id_kept ON ledger_accounts;
DROP FUNCTION ledger_reject_account_removal();
DROP TRIGGER operations_not_orphaned ON operations;
DROP TRIGGER ledger_accounts_not_orphaned ON ledger_accounts;
DROP FUNCTION ledger_reject_orphaning_truncate();
"""


def _no_constraint(to: str, **kwargs) -> models.ForeignKey:
    return models.ForeignKey(on_delete=models.deletion.PROTECT, to=to, db_constraint=False, **kwargs)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0006_ledgerentry_verbose_name_plural")]

    operations = [
        migrations.RunSQL(ENTRIES_CHECK, ENTRIES_CHECK_REVERSE),
        migrations.RunSQL(LOCKS_CHECK, LOCKS_CHECK_REVERSE),
        migrations.RunSQL(KEEP_REFERENCED, KEEP_REFERENCED_REVERSE),
        migrations.AlterField(
            model_name="ledgerentry",
            name="operation",
            field=_no_constraint("ledger.operation", related_name="entries"),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="account",
            field=_no_constraint("ledger.account", related_name="entries"),
        ),
        migrations.AlterField(
            model_name="walletlock",
            name="release_operation",
            field=_no_constraint(
                "ledger.operation", blank=True, null=True, related_name="released_locks", db_index=False
            ),
        ),
    ]
