# Two commands keep the README's promise; both install what they need first (seconds when
# nothing changed). OUT is where the quickstart writes.
OUT ?= outputs/quickstart
PYTHON := .venv/bin/python
ACCELERATE := .venv/bin/accelerate launch --num_processes 1 --num_machines 1 --mixed_precision no --dynamo_backend no

.PHONY: setup quickstart test

setup:
	@bash scripts/bootstrap.sh

quickstart: setup
	$(PYTHON) -m tokenizer.codebook build --config configs/codebook/default.yaml --out $(OUT)/codebook_prior
	$(ACCELERATE) tokenizer/train.py --config configs/tokenizer/shapes.yaml \
		output_dir=$(OUT)/tokenizer codebook_prior=$(OUT)/codebook_prior
	@echo "quickstart done: tokenizer in $(OUT)/tokenizer/final, metrics in $(OUT)/tokenizer/metrics.json, grids in $(OUT)/tokenizer/samples"

test: setup
	$(PYTHON) -m pytest -q $(PYTEST_ARGS)
