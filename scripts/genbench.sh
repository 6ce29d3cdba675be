#!/usr/bin/env bash
# The offline generator's full-set benchmark: prompts of agent/appgen/testdata/prompts.txt
# posted as sessions to an in-process MGX (process runtime, offline LLM), one app at a
# time, each generated, installed, tested, linted and built by the agent team and shown by
# its dev preview. Prints a table (prompt, framework, status, prompt → FINISH,
# prompt → preview, failure reason) and the success rate; exits 1 when an app failed.
#
#   MGX_GENBENCH_N=20 bash scripts/genbench.sh          # 20 prompts spread over the corpus
#
# MGX_GENBENCH_N (default: all 112 prompts), MGX_GENBENCH_MATCH (a regexp: only the prompts
# it matches), MGX_GENBENCH_FRAMEWORKS (default
# nextjs,fastapi-react: prompts take them in turn), MGX_GENBENCH_EACH=1 (every prompt on
# every framework), MGX_GENBENCH_TIMEOUT (per app, default 20m), MGX_GENBENCH_KEEP=1 (keep
# the data dir), MGX_GENBENCH_CACHE (npm/pip cache shared across runs, default
# ~/.cache/mgx-genbench), MGX_GENBENCH_REPORT (table file, default a temp file). Each app
# takes a few minutes on 2 cores: the whole corpus is hours.
set -euo pipefail
cd "$(dirname "$0")/.."
export MGX_TEST_GENBENCH=1
export MGX_GENBENCH_REPORT=${MGX_GENBENCH_REPORT:-$(mktemp -t genbench-XXXXXX.txt)}
rc=0
# No go test timeout: MGX_GENBENCH_TIMEOUT bounds each app.
go test -tags ferretdb_no_postgresql -run '^TestPromptCorpus$' -count=1 -v -timeout 0 ./agent/genbench/ || rc=$?
echo
echo "==> report ($MGX_GENBENCH_REPORT)"
cat "$MGX_GENBENCH_REPORT" 2>/dev/null || echo "no report written"
exit "$rc"
