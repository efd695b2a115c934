"""Transactions with guarantees the database enforces."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def read_only_transaction() -> Iterator[None]:
    """A transaction in which the database itself refuses every write; always rolled back.

    READ ONLY, and REPEATABLE READ (one consistent snapshot) when it is the outermost
    transaction.
    """
    nested = connection.in_atomic_block
    with transaction.atomic():
        with connection.cursor() as cursor:
            if nested:  # the isolation level can only be set before the first query
                cursor.execute("SET TRANSACTION READ ONLY")
            else:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            # Rolling back also undoes SET TRANSACTION inside a savepoint.
            transaction.set_rollback(True)
