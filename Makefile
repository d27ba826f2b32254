# `make demo` and `make test` do all set-up themselves on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATA   := data/nasdaq_composite_daily_1999_2018.csv
DEMO   := out/demo
TEST_WORKERS ?= 2
export TF_CPP_MIN_LOG_LEVEL ?= 2
# TensorFlow's flavour: the CUDA build where an NVIDIA driver answers, else the smaller, faster-importing CPU wheel
TF     ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo gpu || echo cpu)
OTHER_TF := $(if $(filter gpu,$(TF)),tensorflow-cpu,tensorflow)

.PHONY: demo test install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# both wheels install the same `tensorflow` package: the other one goes first (a no-op in a new venv)
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip uninstall -q -y $(OTHER_TF) 2>/dev/null || true
	$(BIN)/python -m pip install -q -e ".[$(TF)]"
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip uninstall -q -y $(OTHER_TF) 2>/dev/null || true
	$(BIN)/python -m pip install -q -e ".[dev,$(TF)]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(BIN)/forecast train $(DATA) --model $(DEMO)/model --force --seed 42 --plots $(DEMO)
	$(BIN)/forecast predict --model $(DEMO)/model --horizon 10 --out $(DEMO)/forecast.csv
	$(BIN)/forecast plot --model $(DEMO)/model --out $(DEMO)
	@echo "demo outputs in $(DEMO)/"

test: $(VENV)/.installed-dev
	@# best effort: the report test renders in headless Chromium and is skipped without it
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 \
		|| echo "chromium not installed: report rendering test will be skipped"
	@# two workers, each file on one of them (module fixtures train once): 449 s against 675 s serially on 2 cores
	CUDA_VISIBLE_DEVICES="" $(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

clean:
	rm -rf $(VENV) out models .pytest_cache
