.PHONY: demo test bench lint

# The two commands of the README, and the benchmark.
demo:
	scripts/demo.sh

test:
	scripts/test.sh

bench:
	scripts/bench.sh --lots 200000 --history 1000000

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
