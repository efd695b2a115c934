"""A lot's release operation checked once per statement instead of once per row.

Like the ledger's references (ledger 0007): the release updates a chunk of lots in one
statement, and one anti-join over the statement's rows replaces a deferred foreign-key
trigger per lot. Operations are immutable and never deleted, and a TRUNCATE of
operations alone is refused while a lot still points at one.
"""

from django.db import migrations, models

LOTS_CHECK = """
CREATE FUNCTION vaults_check_lot_release_operations() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT l.id, l.last_release_operation_id INTO bad
      FROM changed_lots l
     WHERE l.last_release_operation_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM operations o WHERE o.id = l.last_release_operation_id)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'vaults: lot % refused: release operation % does not exist',
            bad.id, bad.last_release_operation_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER lots_inserted_release_operation
    AFTER INSERT ON vault_vesting_lots REFERENCING NEW TABLE AS changed_lots
    FOR EACH STATEMENT EXECUTE FUNCTION vaults_check_lot_release_operations();
CREATE TRIGGER lots_updated_release_operation
    AFTER UPDATE ON vault_vesting_lots REFERENCING NEW TABLE AS changed_lots
    FOR EACH STATEMENT EXECUTE FUNCTION vaults_check_lot_release_operations();

CREATE FUNCTION vaults_reject_orphaning_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM vault_vesting_lots WHERE last_release_operation_id IS NOT NULL) THEN
        RAISE EXCEPTION 'vaults: cannot truncate operations alone: lots refer to their release operations'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER operations_not_orphaned_by_lots AFTER TRUNCATE ON operations
    FOR EACH STATEMENT EXECUTE FUNCTION vaults_reject_orphaning_truncate();
"""

LOTS_CHECK_REVERSE = """
DROP TRIGGER lots_inserted_release_operation ON vault_vesting_lots;
DROP TRIGGER lots_updated_release_operation ON vault_vesting_lots;
DROP FUNCTION vaults_check_lot_release_operations();
DROP TRIGGER operations_not_orphaned_by_lots ON operations;
DROP FUNCTION vaults_reject_orphaning_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0007_statement_reference_checks"),
        ("vaults", "0006_release_run_lease"),
    ]

    operations = [
        migrations.RunSQL(LOTS_CHECK, LOTS_CHECK_REVERSE),
        migrations.AlterField(
            model_name="vestinglot",
            name="last_release_operation",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=models.deletion.PROTECT,
                related_name="released_lots",
                to="ledger.operation",
            ),
        ),
    ]
