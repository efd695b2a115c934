# Migration 0004_lean_indexes_uuid7 references ledger.ids.uuid7 as a field default.
from common.ids import uuid7  # noqa: F401
