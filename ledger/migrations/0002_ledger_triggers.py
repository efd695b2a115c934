"""Ledger invariants enforced by PostgreSQL itself, not only by the ORM."""

from django.db import migrations

BALANCED = """
CREATE FUNCTION ledger_check_operation_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    op uuid := COALESCE(NEW.operation_id, OLD.operation_id);
    bad record;
BEGIN
    SELECT currency, SUM(amount) AS total INTO bad
      FROM ledger_entries WHERE operation_id = op
     GROUP BY currency HAVING SUM(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: entries of operation % sum to % %, not zero', op, bad.total, bad.currency
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

-- Checked at COMMIT, once all the legs of the operation are written.
CREATE CONSTRAINT TRIGGER ledger_entries_balanced
    AFTER INSERT OR UPDATE OR DELETE ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_operation_balanced();
"""

BALANCED_REVERSE = """
DROP TRIGGER ledger_entries_balanced ON ledger_entries;
DROP FUNCTION ledger_check_operation_balanced();
"""

IMMUTABLE = """
CREATE FUNCTION ledger_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % rows are immutable once posted (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER operations_immutable BEFORE UPDATE OR DELETE ON operations
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
"""

IMMUTABLE_REVERSE = """
DROP TRIGGER operations_immutable ON operations;
DROP TRIGGER ledger_entries_immutable ON ledger_entries;
DROP FUNCTION ledger_reject_change();
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunSQL(BALANCED, BALANCED_REVERSE),
        migrations.RunSQL(IMMUTABLE, IMMUTABLE_REVERSE),
    ]
