#!/usr/bin/env bash
# Builds datalocality/ui/static/datalocality.js; silent on success, non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
npm run --silent build >/dev/null
test -s ../static/datalocality.js
