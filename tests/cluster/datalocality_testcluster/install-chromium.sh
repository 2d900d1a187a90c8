#!/usr/bin/env bash
# Installs Debian's chromium for the UI plugin's browser tests (tests/airflow/ui), with
# apt-get, only when /usr/bin/chromium is missing (Playwright cannot download its own
# browsers here). Quiet on success; on failure names the step and shows its output's end.
#   install-chromium.sh          install when missing, then check it starts
set -euo pipefail

CHROMIUM=/usr/bin/chromium
LOG=$(mktemp -t install-chromium.XXXXXX)
trap 'rm -f "$LOG"' EXIT

fail() {
  echo "install-chromium.sh: $1 failed" >&2
  tail -n 20 "$LOG" >&2
  exit 1
}

if [[ ! -x $CHROMIUM ]]; then
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-chromium.sh: $CHROMIUM is missing and installing it needs root (no sudo)" >&2; exit 1; }
    SUDO=(sudo -n)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq >"$LOG" 2>&1 || fail "apt-get update"
  "${SUDO[@]}" apt-get install -y -qq chromium >"$LOG" 2>&1 \
    || fail "apt-get install chromium"
  [[ -x $CHROMIUM ]] || { echo "install-chromium.sh: apt-get installed chromium but $CHROMIUM is missing" >&2; exit 1; }
fi
"$CHROMIUM" --version >"$LOG" 2>&1 || fail "$CHROMIUM --version"
