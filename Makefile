.PHONY: demo test bench lint db-stop

# The two commands of the README, and the benchmark.
demo:
	scripts/demo.sh

test:
	scripts/test.sh

bench:
	scripts/bench.sh --lots 200000 --history 1000000

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

# Stops the embedded PostgreSQL of the checkout (.pgdata/), which the demo leaves running.
db-stop:
	.venv/bin/python -m common.embedded_postgres stop
