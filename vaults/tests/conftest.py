"""Fixtures of the vaults tests."""

from vaults.tests.production import web  # noqa: F401 - gunicorn with DEBUG off, shared by the production tests
