#!/usr/bin/env bash
# The template conformance suite (templates/conformance), for CI and by hand:
#
#   bash scripts/templates-conformance.sh            # every template
#   MGX_TEMPLATES=nextjs bash scripts/templates-conformance.sh
#
# Each template is rendered, installed (npm, pip from PyPI through the host's CA bundle),
# tested, linted and built, then run on the process runtime of an in-process `mgx up` and
# walked through as a browser would. About 5 minutes per template on 2 idle cores.
#
# Everything the run creates lives under one temporary directory (TMPDIR points there),
# so that afterwards, even when the test binary was killed or timed out, every process
# still working there is ended and the directory removed. CONFORMANCE_TIMEOUT bounds the
# go test run (default 25m); MGX_CONFORMANCE_KEEP=1 keeps the directory.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "templates-conformance: $*" >&2; exit 2; }
command -v node >/dev/null || fail "node is not on PATH (the templates need Node >= 20.19)"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&b>=19)?0:1)' ||
  fail "node $(node --version) is too old: Vite 8 needs >= 20.19, Next.js 16 >= 20.9"
command -v npm >/dev/null || fail "npm is not on PATH"
python3 -c 'import venv, ensurepip' 2>/dev/null || fail "python3 with venv and ensurepip is needed (Debian: apt-get install python3-venv)"

# The registries are reached through a proxy that re-signs TLS on these machines.
ca=/etc/ssl/certs/ca-certificates.crt
if [ -f "$ca" ]; then
  export NODE_EXTRA_CA_CERTS="${NODE_EXTRA_CA_CERTS:-$ca}" PIP_CERT="${PIP_CERT:-$ca}"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1 NEXT_TELEMETRY_DISABLED=1

root=$(mktemp -d "${TMPDIR:-/tmp}/mgx-conformance.XXXXXX")
export TMPDIR="$root"

# sweep ends the process groups of every process whose working directory or command line
# is under $root: servers and installs a killed test binary could not stop.
sweep() { bash scripts/sweep.sh "$root" templates-conformance; }

cleanup() {
  local code=$?
  sweep
  if [ "${MGX_CONFORMANCE_KEEP:-}" = 1 ]; then
    echo "templates-conformance: kept $root"
  else
    rm -rf "$root"
  fi
  exit $code
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$(date +%s)
set +e
MGX_TEST_TEMPLATES=1 go test -tags ferretdb_no_postgresql -count=1 -timeout "${CONFORMANCE_TIMEOUT:-25m}" \
  -run '^TestConformance$' -v ./templates/conformance
code=$?
set -e
echo "templates-conformance: exit $code after $(( $(date +%s) - start ))s"
exit $code
