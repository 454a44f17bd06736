#!/usr/bin/env bash
# Set up a fresh machine for the test suite and run it: venv, project + test extras, the official
# Kronos code as a test oracle (never a runtime dependency), Debian's chromium for the browser tests and
# Debian's PostgreSQL server for the ledger tests (a throwaway cluster, started here, stopped at exit).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e ".[test]"
# Oracle for equivalence tests: its pins (old huggingface_hub, matplotlib) must not touch our env.
.venv/bin/pip install -q --disable-pip-version-check --no-deps kronos-model-arch==0.1.0
# Debian's chromium for the browser tests (never `playwright install`: it downloads a browser build).
# In CI a missing browser fails the run; on a developer's machine the browser tests skip.
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# A C++ compiler for torch.compile's CPU code (decode='compiled', tests/kronos/test_static_decode.py).
command -v g++ >/dev/null 2>&1 || missing+=(g++)
[ -n "${KRONOS_STUDIO_TEST_PG:-}" ] || [ -n "$(pg_bin)" ] || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}") >/tmp/kronos-apt-install.log 2>&1; then
    echo "installing ${missing[*]} failed (see /tmp/kronos-apt-install.log)" >&2
    [ -n "${CI:-}" ] && exit 1
  fi
fi

# PostgreSQL for the ledger tests: a throwaway cluster in a temporary folder on a free loopback port,
# trust authentication, stopped and removed at exit. KRONOS_STUDIO_TEST_PG already set: that server is
# used instead. In CI a server that cannot start fails the run; elsewhere the PostgreSQL cases skip.
PG_DIR=""
stop_postgres() {
  if [ -n "$PG_DIR" ]; then
    as_postgres "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
as_postgres() {  # initdb and the server refuse to run as root
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
start_postgres() {
  local bin port
  bin=$(pg_bin)
  [ -n "$bin" ] || { echo "no PostgreSQL server (Debian package postgresql)" >&2; return 1; }
  PG_DIR=$(mktemp -d /tmp/kronos-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres: "$PG_DIR"
  port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_postgres "$bin/initdb" -D "$PG_DIR/data" -U kronos --auth=trust -E UTF8 >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  # fsync off: a throwaway cluster needs no durability, and the tests run faster without it.
  as_postgres "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off" start >/dev/null \
    || { cat "$PG_DIR/server.log" >&2; return 1; }
  export KRONOS_STUDIO_TEST_PG="postgresql+psycopg://kronos@127.0.0.1:$port/postgres"
}
if [ -z "${KRONOS_STUDIO_TEST_PG:-}" ]; then
  trap stop_postgres EXIT
  if ! start_postgres; then
    echo "PostgreSQL could not start for the ledger tests" >&2
    [ -n "${CI:-}" ] && exit 1
  fi
fi

.venv/bin/ruff check .
.venv/bin/lint-imports  # the layers' import contracts in pyproject.toml ([tool.importlinter])
# One worker per core (at most 4), each taking whole test files: a file's module fixtures (a trained model, a
# service, a browser) are built once, on one worker. Each worker has its own session (ledger, cache, servers).
# The tests that start a local Ray cluster run apart, afterwards, in one fresh process: two workers' clusters
# starting at once contended for the machine (a cluster's start timed out), and a worker's leftover libcurl
# handles (yfinance's sessions) were freed inside Ray's start and crashed it.
.venv/bin/python -m pytest --numprocesses auto --maxprocesses 4 --dist loadfile -m "not ray" "$@"
.venv/bin/python -m pytest -m ray "$@" || [ $? -eq 5 ]  # 5: none selected (a path without Ray tests)
