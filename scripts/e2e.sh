#!/usr/bin/env bash
# Browser tests: start a fresh `mgx up` on a temp data dir, then drive it with
# playwright-core and Debian's Chromium. Screenshots land in the folder it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(mktemp -d /tmp/mgx-e2e.XXXXXX)
port=${MGX_E2E_PORT:-18090}
export MGX_DATA_DIR=$data MGX_HTTP_ADDR=127.0.0.1:$port MGX_ADMIN_PASSWORD=e2e-admin-password MGX_SSH_ADDR=off
# The browser suite tests the UI; the process runtime keeps it independent of images.
export MGX_RUNTIME=${MGX_E2E_RUNTIME:-process}
./bin/mgx up >"$data/mgx.log" 2>&1 &
pid=$!
# Stopping mgx up leaves the app's dev servers running (a restarted MGX re-attaches them):
# end them too.
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; bash scripts/sweep.sh "$data" e2e' EXIT
for _ in $(seq 1 60); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "mgx did not become ready"; cat "$data/mgx.log"; exit 1; }
export MGX_URL=http://127.0.0.1:$port MGX_ADMIN_EMAIL=admin@mgx.local MGX_TEST_BROWSER=1
export E2E_SHOTS=${E2E_SHOTS:-$data/screenshots}
echo "screenshots: $E2E_SHOTS; MGX log: $data/mgx.log"
if npm --prefix web run e2e; then
  echo "e2e: passed"
else
  echo "e2e: failed; last MGX log lines:"; tail -40 "$data/mgx.log"; exit 1
fi
