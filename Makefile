# The course's commands. Students and maintainers need two of them:
#   make lab    set up (first time only) and open the student's JupyterLab on their workspace
#               (workspace/, made from the released notebooks; nothing of theirs is overwritten)
#   make test   set up (first time only) and run every test: ruff, pytest, nbval
# Instructor workflow targets follow (see README, "Instructor workflow"); `make instructor`
# opens the instructor's JupyterLab (Formgrader, Create Assignment) at the course root.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
KERNEL := nn-course
STAMP := $(VENV)/.course-installed
export PATH := $(BIN):$(PATH)
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONHASHSEED ?= 0

# Build machines keep a copy of MNIST beside the repository; elsewhere the loader
# downloads it on first use (or set COURSE_DATA_DIR yourself).
SHARED_DATA := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)/mnist/*),)
export COURSE_DATA_DIR ?= $(SHARED_DATA)
endif

LAB_ARGS ?=
# The student's workspace (default: workspace/ in the course root) and the course root.
WORKSPACE ?=
COURSE_ROOT ?= .
LAB := $(BIN)/python -m course_utils.lab
# Jupyter refuses to run as root unless told; build machines and containers run as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=
TEST_WORKERS ?= 2
NBVAL_CELL_TIMEOUT ?= 600

.PHONY: lab instructor test setup lint unit nbval bench release clean-venv

lab: setup
	$(LAB) student --course-root $(COURSE_ROOT) $(if $(WORKSPACE),--workspace $(WORKSPACE),) \
		-- $(ROOT_FLAG) $(LAB_ARGS)

instructor: setup
	$(LAB) instructor --course-root $(COURSE_ROOT) -- $(ROOT_FLAG) $(LAB_ARGS)

test: setup
	@set -e; t0=$$SECONDS; \
	$(MAKE) --no-print-directory lint; t1=$$SECONDS; \
	$(MAKE) --no-print-directory unit; t2=$$SECONDS; \
	$(MAKE) --no-print-directory nbval; t3=$$SECONDS; \
	echo "[timing] ruff $$((t1-t0)) s, pytest $$((t2-t1)) s, nbval $$((t3-t2)) s"

setup: $(STAMP)

lint: setup
	$(BIN)/ruff check .

# Unit tests in parallel (one pytest worker per core); then the end-to-end tests (`slow`:
# nbgrader, JupyterLab, Dask), two files at a time: they mostly wait on kernels and servers.
unit: setup
	$(BIN)/python -m pytest -q -ra -n $(TEST_WORKERS) -m "not slow" tests $(PYTEST_ARGS)
	$(BIN)/python -m pytest -q -ra -n $(TEST_WORKERS) --dist loadfile --durations=15 -m slow tests $(PYTEST_ARGS)

# Each notebook runs top to bottom in one worker (--dist loadfile), two notebooks at a time.
nbval: setup
	$(BIN)/python -m pytest -q -ra -p no:cacheprovider --nbval-lax -n $(TEST_WORKERS) \
		--dist loadfile --nbval-kernel-name=$(KERNEL) \
		--nbval-cell-timeout=$(NBVAL_CELL_TIMEOUT) solutions

bench: setup
	@failed=0; for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || failed=1; done; \
	exit $$failed

# --- set-up: idempotent; the second run only checks the stamp -------------------------
$(BIN)/python:
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else \
		f"Python >= 3.11 is needed (nbgrader 0.9), found {sys.version.split()[0]}: run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml jupyterlab-overrides.json | $(BIN)/python
	@t0=$$SECONDS; \
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' && \
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) \
		--display-name "Python 3 (nn-course)" --env TF_CPP_MIN_LOG_LEVEL 3 >/dev/null && \
	for ext in formgrader validate_assignment assignment_list course_list; do \
		$(BIN)/jupyter server extension enable --sys-prefix nbgrader.server_extensions.$$ext >/dev/null 2>&1 || exit 1; \
	done && \
	$(BIN)/jupyter labextension enable --level=sys_prefix @jupyter/nbgrader >/dev/null 2>&1 && \
	mkdir -p $(VENV)/share/jupyter/lab/settings && \
	cp jupyterlab-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json && \
	touch $(STAMP) && echo "[timing] install $$((SECONDS-t0)) s"

clean-venv:
	rm -rf $(VENV)

# --- Instructor workflow (the `course` CLI; `course --help`, README "Instructor workflow") --
# make instructor                                  JupyterLab with Formgrader at the course root
# make release [ASSIGNMENT="01_tf_basics ..."]     solutions/ -> notebooks/
# make collect ASSIGNMENT=00_welcome FROM=inbox/   or   ZIP=canvas.zip [PATTERN='regex']
# make autograde ASSIGNMENT=00_welcome [JOBS=2]     parallel grading, table of problems
# make feedback ASSIGNMENT=00_welcome               feedback/<student>/<assignment>/*.html
# make export [GRADES=grades.csv]                   one row per student per assignment
ASSIGNMENT ?=
JOBS ?= 2
GRADES ?= grades.csv
COURSE := $(BIN)/course

.PHONY: collect autograde feedback export _need-assignment

release: setup
	$(COURSE) release $(ASSIGNMENT)

collect: setup _need-assignment
	@if [ -n "$(ZIP)" ]; then \
		$(COURSE) collect $(ASSIGNMENT) --zip "$(ZIP)" $(if $(PATTERN),--pattern '$(PATTERN)',); \
	elif [ -n "$(FROM)" ]; then \
		$(COURSE) collect $(ASSIGNMENT) --from "$(FROM)"; \
	else echo "make collect needs FROM=<folder> or ZIP=<lms.zip>" >&2; exit 2; fi

autograde: setup _need-assignment
	$(COURSE) autograde $(ASSIGNMENT) --jobs $(JOBS)

feedback: setup _need-assignment
	$(COURSE) feedback $(ASSIGNMENT)

export: setup
	$(COURSE) export --to $(GRADES)

_need-assignment:
	@if [ -z "$(ASSIGNMENT)" ]; then echo "set ASSIGNMENT=<id>, e.g. make $(MAKECMDGOALS) ASSIGNMENT=00_welcome" >&2; exit 2; fi
# --- end of Instructor workflow -----------------------------------------------------------
