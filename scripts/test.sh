#!/usr/bin/env bash
# Set up a fresh machine for the test suite and run it: venv, project + test extras, the official
# Kronos code as a test oracle (never a runtime dependency), Debian's chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e ".[test]"
# Oracle for equivalence tests: its pins (old huggingface_hub, matplotlib) must not touch our env.
.venv/bin/pip install -q --disable-pip-version-check --no-deps kronos-model-arch==0.1.0
# Debian's chromium for the browser tests (never `playwright install`: it downloads a browser build).
# In CI a missing browser fails the run; on a developer's machine the browser tests skip.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) \
      >/tmp/kronos-chromium-install.log 2>&1; then
    echo "chromium install failed (see /tmp/kronos-chromium-install.log)" >&2
    [ -n "${CI:-}" ] && exit 1
  fi
fi
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
