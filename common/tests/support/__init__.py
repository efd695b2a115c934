"""Helpers shared by the tests of every app (servers in front of the test database)."""
