"""Domain errors of the vaults app. Each caller maps them (exit code 2, HTTP 400, admin error)."""

from ledger.exceptions import LedgerError


class VaultError(Exception):
    """Base of every vaults domain error."""

    code = "VAULT_ERROR"


class VaultNotFound(VaultError):
    code = "VAULT_NOT_FOUND"


class FutureAsOf(VaultError):
    """Releasing before maturity is refused: as_of may not be after today's UTC date."""

    code = "FUTURE_AS_OF"


class InvalidRelease(VaultError):
    code = "INVALID_RELEASE"


class DepositConflict(VaultError):
    code = "DEPOSIT_CONFLICT"


class LeaseLost(VaultError):
    """Another run took this run's lease over (its heartbeat was too old, or an operator
    took it over): this run stops writing. What it committed stays released and counted."""

    code = "LEASE_LOST"


# Errors a caller treats as bad input (exit code 2 / HTTP 400).
USAGE_ERRORS: tuple[type[Exception], ...] = (
    VaultNotFound,
    FutureAsOf,
    InvalidRelease,
    LedgerError,
)
