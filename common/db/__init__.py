"""Database helpers with no domain: set-based bulk writes, a read-only transaction, raw row reads."""

from common.db.bulk import filter_in, insert_rows, pg_array, update_rows
from common.db.queries import fetch_rows
from common.db.transactions import read_only_transaction

__all__ = ["fetch_rows", "filter_in", "insert_rows", "pg_array", "read_only_transaction", "update_rows"]
