"""Helpers shared by the customer API tests."""
