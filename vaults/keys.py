"""The idempotency keys of a lot's releases and of their reversals: each release and each
reversal happens at most once because PostgreSQL refuses a second operation with its key.
The release SQL (planning.sql) and the reversal SQL (chunk.sql) build the same strings."""


def release_idempotency_key(lot_id: int, reversal_count: int = 0) -> str:
    """The key of a lot's release number reversal_count + 1: the first is the lot's id alone;
    a lot whose release was reversed is released again under the key of its next number."""
    return f"avenir-vesting-release:{lot_id}" + (f":{reversal_count + 1}" if reversal_count else "")


def reversal_idempotency_key(release_operation_id) -> str:
    """The key of the one reversal a release operation can have."""
    return f"avenir-vesting-release-reversal:{release_operation_id}"
