# Two commands on a fresh clone:
#   make run    set up .venv, then the live station on a Pi with a camera, the demo elsewhere
#               (arguments through ARGS, e.g. make run ARGS="--duration-s 30")
#   make test   set up .venv, then ruff and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup run test bench clean

$(BIN)/gait-station: pyproject.toml
	scripts/setup-venv.sh $(VENV)
	@touch $@

setup: $(BIN)/gait-station

run: setup
	scripts/start.sh $(ARGS)

test: setup
	$(BIN)/ruff check station web tests scripts
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/gait-station bench

clean:
	rm -rf $(VENV) build *.egg-info
