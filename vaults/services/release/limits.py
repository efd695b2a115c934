"""A run's chunk size and writer count: the caller's, else the settings', within the bounds
operators set (AVENIR_RELEASE_MAX_CHUNK_SIZE, AVENIR_RELEASE_MAX_WORKERS)."""

from django.conf import settings

from vaults.exceptions import InvalidRelease


def run_limits(*, chunk_size: int | None, workers: int | None) -> tuple[int, int]:
    """(chunk_size, workers); InvalidRelease when one is out of bounds."""
    return (
        _bounded(
            "chunk_size",
            settings.AVENIR_RELEASE_CHUNK_SIZE if chunk_size is None else chunk_size,
            settings.AVENIR_RELEASE_MAX_CHUNK_SIZE,
            "AVENIR_RELEASE_MAX_CHUNK_SIZE",
        ),
        _bounded(
            "workers",
            settings.AVENIR_RELEASE_WORKERS if workers is None else workers,
            settings.AVENIR_RELEASE_MAX_WORKERS,
            "AVENIR_RELEASE_MAX_WORKERS",
        ),
    )


def _bounded(name: str, value: object, maximum: int, setting: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidRelease(f"{name} must be a whole number between 1 and {maximum} ({setting}), not {value!r}")
    return value
