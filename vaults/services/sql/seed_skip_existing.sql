-- Operations whose idempotency key exists are not written again.
DELETE FROM seed_funding f USING operations o WHERE o.idempotency_key = f.idempotency_key;

DELETE FROM seed_deposits d USING operations o WHERE o.idempotency_key = d.idempotency_key;
