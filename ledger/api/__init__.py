"""The customer REST API (issue 5): GET /api/v1/transactions with Bearer tokens."""
