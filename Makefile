# Two commands keep the README's promise; both install what they need first (seconds when
# nothing changed). OUT is where the quickstart writes.
OUT ?= outputs/quickstart
PYTHON := .venv/bin/python
# accelerate launch gives a process one CPU thread (OMP_NUM_THREADS=1) unless told otherwise; the
# quickstart trains on every core (docs/training.md, "Threads and processes on a CPU"). --quiet: a
# user error stays one line, without the launcher's CalledProcessError traceback after it.
THREADS := $(shell nproc 2>/dev/null || echo 1)
ACCELERATE := .venv/bin/accelerate launch --quiet --num_processes 1 --num_machines 1 \
	--num_cpu_threads_per_process $(THREADS) --mixed_precision no --dynamo_backend no

.PHONY: setup quickstart test test-fast lint

setup:
	@bash scripts/bootstrap.sh

quickstart: setup
	.venv/bin/vqct-language-codebook build --config configs/language_codebook/default.yaml --out $(OUT)/language_codebook
	$(ACCELERATE) tokenizer/train.py --config configs/tokenizer/shapes.yaml \
		output_dir=$(OUT)/tokenizer language_codebook=$(OUT)/language_codebook
	$(ACCELERATE) prior/train.py --config configs/prior/shapes.yaml \
		output_dir=$(OUT)/prior tokenizer=$(OUT)/tokenizer/final
	.venv/bin/vqct-sample --prior $(OUT)/prior/final --num 8 --out $(OUT)/samples
	.venv/bin/vqct-evaluate prior --prior $(OUT)/prior/final --num 128 --out $(OUT)/prior_eval
	@$(PYTHON) -c "import json; m = json.load(open('$(OUT)/tokenizer/metrics.json'))['final']; \
		print(f\"tokenizer, validation at step {m['step']}: PSNR {m['val/psnr']:.2f} dB, SSIM {m['val/ssim']:.3f},\", \
		f\"codes used: adjectives {m['val/usage/adjective_percent']:.0f}%, nouns {m['val/usage/noun_percent']:.0f}%\")"
	@echo "quickstart done:"
	@echo "  samples (label maps → images): $(OUT)/samples/grid.png, one PNG per sample beside it"
	@echo "  prior metrics (label following, completion, FID): $(OUT)/prior_eval/metrics.md"
	@echo "  tokenizer metrics and grids: $(OUT)/tokenizer/metrics.json, $(OUT)/tokenizer/samples/"
	@echo "  models: $(OUT)/tokenizer/final (VQCTTokenizer), $(OUT)/prior/final (VQCTPrior, tokenizer inside)"

# one pytest worker per core (pytest-xdist); TEST_WORKERS=0 runs the suite in this process
TEST_WORKERS ?= auto

test: setup
	$(PYTHON) -m pytest -q -n $(TEST_WORKERS) $(PYTEST_ARGS)

# the unmarked tier: no fresh interpreters, no browser (docs/architecture.md, "Tests")
test-fast: setup
	$(PYTHON) -m pytest -q -n $(TEST_WORKERS) -m "not slow and not browser" $(PYTEST_ARGS)

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
