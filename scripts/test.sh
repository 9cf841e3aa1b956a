#!/usr/bin/env bash
# Install what the tests need (Debian chromium and fonts included) and run the whole suite, on SQLite
# and then on PostgreSQL (127.0.0.1:5432, started by this machine kind before every session and CI run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh --test
bash scripts/python-env.sh test
export CUSTODY_VAR_DIR="$PWD/var/test" CUSTODY_FAST_HASHER=1
mkdir -p "$CUSTODY_VAR_DIR" test-artifacts
.venv/bin/ruff check custody tests bench
# One pytest-xdist worker per core (this machine kind has two): the suite takes ~3 min instead of ~10.
workers=(-n "${CUSTODY_TEST_WORKERS:-2}")
echo "== SQLite =="
.venv/bin/pytest -q -p no:cacheprovider "${workers[@]}" "$@"
echo "== PostgreSQL =="
DATABASE_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}" .venv/bin/pytest -q -p no:cacheprovider -m "not browser and not engine_only" "${workers[@]}" "$@"
