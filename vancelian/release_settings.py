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
) -> None:
    """A run renews its lease at least once per chunk and once per heartbeat; a chunk's
    statements are bounded by the timeouts. The lease must outlast both, or a live run
    could be taken over."""
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
    ):
        if not value > 0:
            problems.append(f"{name} must be positive")
    if not problems and lease <= 3 * max(statement_timeout, heartbeat):
        problems.append(
            "AVENIR_RELEASE_LEASE_SECONDS must be more than 3 times the statement timeout and the heartbeat "
            f"({lease:g} <= 3 x {max(statement_timeout, heartbeat):g}): a live run could be taken over"
        )
    if problems:
        raise ImproperlyConfigured("; ".join(problems))
