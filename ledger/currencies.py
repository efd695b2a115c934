"""Currencies the ledger knows, with their minor units."""

from decimal import Decimal

from ledger.exceptions import InvalidAmount, UnknownCurrency

MINOR_UNITS: dict[str, int] = {"AED": 2, "EUR": 2, "USD": 2}
# Every amount column is numeric(20, 2): all supported currencies have 2 minor units.
AMOUNT_MAX_DIGITS = 20
AMOUNT_DECIMAL_PLACES = 2


def check_currency(code: str) -> str:
    if code not in MINOR_UNITS:
        raise UnknownCurrency(f"unknown currency {code!r}; known: {', '.join(sorted(MINOR_UNITS))}")
    return code


_QUANTA: dict[str, Decimal] = {code: Decimal(1).scaleb(-units) for code, units in MINOR_UNITS.items()}


def quantum(currency: str) -> Decimal:
    return _QUANTA[check_currency(currency)]


def format_amount(amount: Decimal, currency: str) -> str:
    """The machine string of an amount, with the currency's minor units ("30000.00"): the
    runbook's JSON and logs. People read display_amount."""
    return str(Decimal(amount).quantize(quantum(currency)))


def display_amount(amount: Decimal | None, currency: str | None) -> str:
    """An amount for people: thousands separators, the currency's minor units and its code
    ("30,000.00 AED", "-1,234.50 AED"). Never raises: a currency the ledger does not know
    is shown as stored, and no amount as an empty string."""
    if amount is None:
        return ""
    value = Decimal(amount)
    if currency in _QUANTA:
        value = value.quantize(_QUANTA[currency])
    return f"{value:,f} {currency or ''}".rstrip()


def parse_amount(value: Decimal | str, currency: str, *, positive: bool = True) -> Decimal:
    """A Decimal with at most the currency's minor units; never a float."""
    if isinstance(value, float):
        raise InvalidAmount("amounts must be Decimal or str, never float")
    try:
        amount = Decimal(value)
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise InvalidAmount(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise InvalidAmount(f"not a finite amount: {value!r}")
    if amount != amount.quantize(quantum(currency)):
        raise InvalidAmount(f"{value} has more than {MINOR_UNITS[currency]} decimals for {currency}")
    if positive and amount <= 0:
        raise InvalidAmount(f"amount must be positive, got {value}")
    return amount.quantize(quantum(currency))
