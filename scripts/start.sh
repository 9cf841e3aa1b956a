#!/usr/bin/env bash
# Quick start: install everything, create the SQLite database with the seeded demo, start the web app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
bash scripts/python-env.sh
export CUSTODY_DEMO=1 CUSTODY_VAR_DIR="${CUSTODY_VAR_DIR:-$PWD/var}"
# The ledger's signing key is encrypted with a passphrase given at start (docs/ledger.md, "Key custody").
# The demo makes one on first start; a deployment keeps key and passphrase outside the data directory.
export CUSTODY_LEDGER_KEY_PASSPHRASE_FILE="${CUSTODY_LEDGER_KEY_PASSPHRASE_FILE:-$CUSTODY_VAR_DIR/demo-ledger-key.passphrase}"
if [[ ! -s "$CUSTODY_LEDGER_KEY_PASSPHRASE_FILE" ]]; then
  mkdir -p "$(dirname "$CUSTODY_LEDGER_KEY_PASSPHRASE_FILE")"
  (umask 077; head -c 24 /dev/urandom | base64 >"$CUSTODY_LEDGER_KEY_PASSPHRASE_FILE")
fi
PORT="${PORT:-8000}"
C=.venv/bin/custody
$C migrate -v0
if [[ "$($C shell -c 'from custody.registry.models import Person; print(Person.objects.exists())')" != "True" ]]; then
  $C generate --seed "${CUSTODY_SEED:-2026}" --scale "${CUSTODY_SCALE:-real}"
fi
$C ledger schedule >/dev/null  # periodic checkpoints and reconciliation, run by the worker
$C db_worker >"$CUSTODY_VAR_DIR/worker.log" 2>&1 &
echo
echo "Custody is running at http://127.0.0.1:${PORT}/   (Arabic: http://127.0.0.1:${PORT}/ar/)"
echo "Demo logins (password custody-demo-2026, no second factor in demo mode):"
echo "  cio.supervisor  mil.clerk  mfa.analyst  fbi.clerk  irq.clerk  irq.supervisor  sdf.clerk  hum.viewer  cio.administrator"
echo "  (every agency CIO MIL MFA FBI IRQ SDF HUM x role viewer clerk analyst supervisor administrator: e.g. irq.analyst)"
echo
exec .venv/bin/gunicorn custody.wsgi --bind "0.0.0.0:${PORT}" --workers 2 --threads 4 --timeout 120 --access-logfile -
