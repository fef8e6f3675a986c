# The two commands a fresh machine needs (see README.md):
#   make demo   query p0f end to end (the real daemon as root, else samples)
#   make test   the whole test suite, then mypy --strict
# Also: make docs (HTML in docs/_build/html, warnings are errors).
.PHONY: demo test typecheck bench setup docs

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

docs: setup
	rm -rf docs/_build/html docs/reference
	.venv/bin/python -m sphinx -W --keep-going -n -q -b html docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"
