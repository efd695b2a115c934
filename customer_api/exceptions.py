"""Domain errors of the customer API. Callers map them to exit codes, HTTP statuses or messages."""


class CustomerApiError(Exception):
    """Base of every customer API domain error."""

    code = "CUSTOMER_API_ERROR"


class ApiTokenError(CustomerApiError):
    """A token cannot be issued, listed or revoked: unknown or inactive user, unknown key, bad lifetime."""

    code = "API_TOKEN_ERROR"
