"""Every reference of a wallet lock to an operation checked once per statement.

The lock's deposit operation and the reversal that re-created it join its release operation
(ledger 0007) in the statement check: a reversal inserts a lock per lot, and per-row
foreign-key triggers at COMMIT would cost it as much as the rest of its writes. Operations
are never deleted, and a TRUNCATE of operations alone stays refused while a lock points at one.
"""

from django.db import migrations, models

LOCKS_CHECK = """
CREATE OR REPLACE FUNCTION ledger_check_lock_release_operations() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT w.id, ref.operation_id INTO bad
      FROM changed_locks w
     CROSS JOIN LATERAL (VALUES (w.operation_id), (w.release_operation_id), (w.reversal_operation_id))
           AS ref(operation_id)
     WHERE ref.operation_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM operations o WHERE o.id = ref.operation_id)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: wallet lock % refused: operation % does not exist', bad.id, bad.operation_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION ledger_reject_orphaning_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger_entries)
       OR (TG_TABLE_NAME = 'operations' AND EXISTS (
               SELECT 1 FROM wallet_locks
                WHERE operation_id IS NOT NULL OR release_operation_id IS NOT NULL
                   OR reversal_operation_id IS NOT NULL)) THEN
        RAISE EXCEPTION 'ledger: cannot truncate % alone: other rows refer to it (truncate them in the same command)',
            TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
"""

# 0007's functions, as they were.
LOCKS_CHECK_REVERSE = """
CREATE OR REPLACE FUNCTION ledger_check_lock_release_operations() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION ledger_reject_orphaning_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
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
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0009_reversal_operation")]

    operations = [
        migrations.RunSQL(LOCKS_CHECK, LOCKS_CHECK_REVERSE),
        migrations.AlterField(
            model_name="walletlock",
            name="operation",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=models.deletion.PROTECT,
                related_name="wallet_locks",
                to="ledger.operation",
            ),
        ),
        migrations.AlterField(
            model_name="walletlock",
            name="reversal_operation",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=models.deletion.PROTECT,
                related_name="reversal_locks",
                to="ledger.operation",
            ),
        ),
    ]
