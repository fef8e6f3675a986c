# The two commands a fresh machine needs (see README.md):
#   make demo   query p0f end to end (the real daemon as root, else samples)
#   make test   the whole test suite, then mypy --strict
.PHONY: demo test typecheck bench setup

setup:
	scripts/setup.sh

demo: setup
	scripts/demo.sh

test: setup
	.venv/bin/python -m pytest
	.venv/bin/python -m mypy

typecheck: setup
	.venv/bin/python -m mypy

bench: setup
	.venv/bin/python -m benchmarks
