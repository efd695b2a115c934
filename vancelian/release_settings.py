"""Validation of the release job's limits, used by settings.py.

Each failure is an ImproperlyConfigured with a one-line message (manage.py: exit 2).
"""

from django.core.exceptions import ImproperlyConfigured


def check_release_limits(
    *,
    chunk_size: int,
    max_chunk_size: int,
    workers: int,
    max_workers: int,
    lock_timeout: float,
    statement_timeout: float,
    heartbeat: float,
    lease: float,
    idle_in_transaction: float,
    reconnect: float,
) -> None:
    """A run renews its lease from a thread of its own every heartbeat, whatever its chunks
    do: the lease must outlast a few missed beats, or a live run could be taken over. A
    frozen run's open transaction is ended by the server after `idle_in_transaction`: that
    must happen before its lease can expire, so the run that takes over finds the rows free."""
    problems = []
    if not 1 <= chunk_size <= max_chunk_size:
        problems.append(
            f"AVENIR_RELEASE_CHUNK_SIZE must be between 1 and AVENIR_RELEASE_MAX_CHUNK_SIZE ({max_chunk_size})"
        )
    if not 1 <= workers <= max_workers:
        problems.append(f"AVENIR_RELEASE_WORKERS must be between 1 and AVENIR_RELEASE_MAX_WORKERS ({max_workers})")
    for name, value in (
        ("AVENIR_RELEASE_LOCK_TIMEOUT_SECONDS", lock_timeout),
        ("AVENIR_RELEASE_STATEMENT_TIMEOUT_SECONDS", statement_timeout),
        ("AVENIR_RELEASE_HEARTBEAT_SECONDS", heartbeat),
        ("AVENIR_RELEASE_LEASE_SECONDS", lease),
        ("AVENIR_RELEASE_IDLE_IN_TRANSACTION_SECONDS", idle_in_transaction),
        ("AVENIR_RELEASE_RECONNECT_SECONDS", reconnect),
    ):
        if not value > 0:
            problems.append(f"{name} must be positive")
    if not problems and lease <= 3 * heartbeat:
        problems.append(
            "AVENIR_RELEASE_LEASE_SECONDS must be more than 3 times AVENIR_RELEASE_HEARTBEAT_SECONDS "
            f"({lease:g} <= 3 x {heartbeat:g}): a live run could be taken over"
        )
    if not problems and idle_in_transaction + heartbeat >= lease:
        problems.append(
            "AVENIR_RELEASE_IDLE_IN_TRANSACTION_SECONDS + AVENIR_RELEASE_HEARTBEAT_SECONDS must be less than "
            f"AVENIR_RELEASE_LEASE_SECONDS ({idle_in_transaction:g} + {heartbeat:g} >= {lease:g}): a frozen run "
            "would still hold its rows when another run takes over"
        )
    if problems:
        raise ImproperlyConfigured("; ".join(problems))
