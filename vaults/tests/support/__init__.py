"""Helpers shared by the vaults tests (the factories are in vaults/tests/factories.py):
- database: the invariants check, a fingerprint of every table, another session, a bulk seed;
- ledger: money moved outside the release job;
- concurrency: wait_for, and code run in real threads;
- admin: staff users, and every kind of lock inconsistency seeded;
- stack: the compose services' commands run locally against the test database;
- production: the production environment and the shared gunicorn `web` fixture.
"""
