# Two commands keep the README's promise; both install what they need first (seconds when
# nothing changed). OUT is where the quickstart writes.
OUT ?= outputs/quickstart
PYTHON := .venv/bin/python

.PHONY: setup quickstart test

setup:
	@bash scripts/bootstrap.sh

quickstart: setup
	$(PYTHON) -m tokenizer.codebook build --config configs/codebook/default.yaml --out $(OUT)/codebook_prior

test: setup
	$(PYTHON) -m pytest -q $(PYTEST_ARGS)
