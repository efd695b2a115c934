"""Domain errors of the ledger. Callers map them to exit codes, HTTP statuses or messages."""


class LedgerError(Exception):
    """Base of every ledger domain error."""

    code = "LEDGER_ERROR"


class UnknownCurrency(LedgerError):
    code = "UNKNOWN_CURRENCY"


class InvalidAmount(LedgerError):
    code = "INVALID_AMOUNT"


class UnbalancedOperation(LedgerError):
    code = "UNBALANCED_OPERATION"


class InsufficientFunds(LedgerError):
    code = "INSUFFICIENT_FUNDS"

    def __init__(self, message: str, *, account_id: int) -> None:
        super().__init__(message)
        self.account_id = account_id


class AccountMissing(LedgerError):
    code = "ACCOUNT_MISSING"


class IdempotencyConflict(LedgerError):
    """The idempotency key was already used for a different operation."""

    code = "IDEMPOTENCY_CONFLICT"
