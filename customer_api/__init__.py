"""The customer transactions API: GET /api/v1/transactions with Bearer tokens, and its tokens.

It reads the ledger and the vaults and nothing imports it: `customer_api` → `vaults` → `ledger`.
"""
