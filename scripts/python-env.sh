#!/usr/bin/env bash
# Creates .venv and installs the custody package into it (with extras given as $1, e.g. "test").
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x .venv/bin/python ]] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip "setuptools<81" wheel
extra="${1:-}"
if [[ -n "$extra" ]]; then .venv/bin/pip install -q -e ".[$extra]"; else .venv/bin/pip install -q -e .; fi
# Translations are compiled from the committed .po files, never committed as .mo.
(cd custody && ../.venv/bin/python -m custody compilemessages -v0 --ignore '.venv')
