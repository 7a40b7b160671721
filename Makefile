# One task runner: README, CI and people run the same targets.
# Every target sets up .venv itself (pinned versions) before it runs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The command line of the course; it runs in the grading environment (course.grading_env:
# autograder/ on PYTHONPATH, no display), and `run --` runs another command in it.
GRADER := $(PY) autograder/classroom.py
RUN := $(GRADER) run --

.PHONY: demo test mutants grade serve check lab release solutions lock clean venv

venv: $(STAMP)

# pip installs uv (pinned here: it only builds .venv; nothing imports it), and uv installs the
# lock file's pins, downloading side by side and compiling bytecode (the sandboxed kernels read
# site-packages read-only): a fresh .venv in 13 s against pip's 51 s with nothing cached.
UV_PIN := uv==0.13.10
UV := $(VENV)/bin/uv pip install --quiet --python $(PY)
$(STAMP): requirements.txt requirements-lock.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(UV_PIN)
	$(UV) --compile-bytecode -c requirements-lock.txt -r requirements.txt
	$(UV) --compile-bytecode --no-deps -e .
	touch $(STAMP)

## demo: release the course, grade a sample class with nbgrader, print the grades
demo: $(STAMP)
	$(GRADER) demo

## mutants: every known mistake caught and named by the hidden tests, no correct variant failed
mutants: $(STAMP)
	$(RUN) $(PY) -m mutants

## test: everything (unit tests, the mutation test, strict nbval on solutions/, release sync, leaks, nbgrader end to end)
# nbval compares a cell's outputs only where the notebook stored a run of it: the solutions are
# compared, and the release (notebooks/: nbgrader clears outputs and counts) must run without an
# error, as --nbval-lax would check, in the same run.
# Test modules run side by side (pytest-xdist; a module and its fixtures stay on one worker), one
# worker per core (one more was slower: 1,107 against 960 CPU-seconds on 2 cores, the grading pools
# competing). TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 1)
PYTEST_PARALLEL := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
test: $(STAMP)
	$(RUN) $(PY) -m pytest -q $(PYTEST_PARALLEL) --durations=25 \
		--nbval --nbval-sanitize-with autograder/nbval_sanitize.cfg tests solutions notebooks

## grade: grade a class, sandboxed, on every core: make grade STAGE=02-propagate [COURSE=dir] [ARGS="--force"]
grade: $(STAMP)
	@test -n "$(STAGE)" || { echo "usage: make grade STAGE=02-propagate [COURSE=path/to/course] [ARGS=...]"; exit 2; }
	$(GRADER) grade $(STAGE) --course $(or $(COURSE),.) $(ARGS)

## serve: grade each submission in the exchange as it arrives and release its feedback: make serve [COURSE=dir] [ARGS="--once"]
serve: $(STAMP)
	$(GRADER) serve --course $(or $(COURSE),.) $(ARGS)

## check: grade your own notebook, hidden tests included: make check STAGE=02-propagate [NOTEBOOK=path]
# NOTEBOOK= is a path from this folder, or a name in the stage's folder (JupyterLab's Duplicate puts
# its copy there): NOTEBOOK=my-copy.ipynb finds notebooks/02-propagate/my-copy.ipynb.
check: $(STAMP)
	@test -n "$(STAGE)" || { echo "usage: make check STAGE=01-sigmoid [NOTEBOOK=path/to/notebook.ipynb]"; exit 2; }
	$(GRADER) check $(STAGE) $(if $(NOTEBOOK),"$(NOTEBOOK)")

## lab: open the course (the release notebooks) in the learners' JupyterLab [LAB_ARGS="--port=8899 ..."]
# learner-lab/ (on JUPYTER_CONFIG_PATH) turns off nbgrader's instructor extensions (formgrader,
# course list, create assignment); learners keep Validate, and the assignment list where an
# exchange is set up. Learners' kernels never see autograder/ (no PYTHONPATH). As root (a
# container), Jupyter needs --allow-root. binder/start applies the same.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
lab: $(STAMP)
	cd notebooks && env -u PYTHONPATH JUPYTER_CONFIG_PATH=$(CURDIR)/learner-lab \
		../$(VENV)/bin/jupyter lab $(ALLOW_ROOT) $(LAB_ARGS)

## release: regenerate notebooks/ from solutions/ with nbgrader generate_assignment
release: $(STAMP)
	$(GRADER) release

## solutions: re-execute the solution notebooks and store their outputs (for nbval) [STAGES="03-optimize ..."]
solutions: $(STAMP)
	$(GRADER) execute-solutions $(STAGES)

## lock: re-pin everything after changing requirements.txt (resolves in a scratch venv)
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	( echo "# Full pin set for .venv (pip constraints). Regenerate with: make lock"; \
	  .venv-lock/bin/python -m pip freeze ) > requirements-lock.txt
	rm -rf .venv-lock

clean:
	rm -rf .grading
