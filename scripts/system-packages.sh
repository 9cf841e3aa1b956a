#!/usr/bin/env bash
# Debian packages Custody needs to build and run (and, with --test, for the test suite): gcc and
# libssl-dev build the ledger's native hashing module (decision 0031).
set -euo pipefail
pkgs=(gcc libssl-dev gettext fonts-noto-core libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b sqlite3)
[[ "${1:-}" == "--test" ]] && pkgs+=(chromium poppler-utils)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "Installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
