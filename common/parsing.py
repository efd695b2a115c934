"""Reading ids that a person typed or a form posted.

`str.isdigit()` also accepts "²" and other digits that `int()` refuses, and a 20-digit
number overflows PostgreSQL's bigint: either would be a 500. Both are simply "not an id".
"""

MAX_BIGINT = 2**63 - 1


def parse_id(text: str) -> int | None:
    """A positive bigint written in ASCII digits, else None."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 0 < value <= MAX_BIGINT else None


def parse_ids(values: list[str]) -> list[int]:
    """The valid ids among `values`, sorted, without duplicates."""
    return sorted({value for value in map(parse_id, values) if value is not None})
