#!/usr/bin/env bash
# Runs every Go benchmark once and prints one table (metrics reported with b.ReportMetric
# in the "extra" column; skipped benchmarks with their reason).
#
# Most benchmarks run for BENCHTIME (default 1s). Two run a fixed count instead:
#   scheduler BenchmarkEnqueueToAgentStartDocker  DOCKER_RUNS agents (default 20), for p50/p99;
#                                                 skipped when no Docker daemon answers
#   agent/genbench BenchmarkPromptToPreview       one generated app per framework through an
#                                                 in-process MGX (a few minutes each);
#                                                 BENCH_APPS=0 leaves it out
# BENCH (a -bench regexp, default .) picks benchmarks. Packages run one at a time (-p 1):
# on a 2-core machine two packages' benchmarks at once would measure each other.
set -euo pipefail
cd "$(dirname "$0")/.."
bench=${BENCH:-.}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
gotest=(go test -tags ferretdb_no_postgresql -run '^$' -benchmem -v -p 1 -timeout 60m)

# name|package|benchtime of the benchmarks with a fixed count.
fixed=(
  "BenchmarkEnqueueToAgentStartDocker|./scheduler/|${DOCKER_RUNS:-20}x"
  "BenchmarkPromptToPreview|./agent/genbench/|1x"
)
skip=$(printf '^%s$\n' "${fixed[@]%%|*}" | paste -sd'|')

"${gotest[@]}" -bench "$bench" -skip "$skip" -benchtime "${BENCHTIME:-1s}" ./... >>"$out" 2>&1 || true
for f in "${fixed[@]}"; do
  IFS='|' read -r name pkg times <<<"$f"
  # Only when BENCH selects it (the default . does).
  if [ "$bench" != . ] && ! grep -qE -- "$bench" <<<"$name"; then continue; fi
  echo "pkg: github.com/mgx-dev/mgx/${pkg#./}" >>"$out"
  if [ "$name" = BenchmarkPromptToPreview ] && [ "${BENCH_APPS:-1}" = 0 ]; then
    printf -- '    bench.sh: BENCH_APPS=0\n--- SKIP: %s\n' "$name" >>"$out"; continue
  fi
  "${gotest[@]}" -bench "^$name\$" -benchtime "$times" "$pkg" >>"$out" 2>&1 || true
done

printf '\n%-58s %14s %12s %12s  %s\n' "benchmark" "ns/op" "B/op" "allocs/op" "extra"
printf '%s\n' "$(printf '%.0s-' {1..120})"
awk '
/^pkg:/ {pkg=$2; sub("github.com/mgx-dev/mgx/","",pkg); sub("/$","",pkg)}
/^Benchmark/ && NF >= 4 && $2 ~ /^[0-9]+$/ {
  name=pkg "." $1; sub(/-[0-9]+$/,"",name)
  ns=""; b=""; a=""; extra=""
  for (i=3;i<=NF;i+=2) {
    if ($(i+1)=="ns/op") ns=$i; else if ($(i+1)=="B/op") b=$i; else if ($(i+1)=="allocs/op") a=$i;
    else extra=extra $i " " $(i+1) "  "
  }
  printf "%-58s %14s %12s %12s  %s\n", name, ns, b, a, extra
}
/^Benchmark[^ \t]*$/ {logline=""}
/^    [^ :]+:[0-9]*:? / {logline=$0; sub(/^ +[^ :]+:[0-9]*:? */,"",logline)}
/^--- SKIP: Benchmark/ {printf "%-58s %14s  %s\n", pkg "." $3, "skipped", logline; logline=""}' "$out"
if grep -q -- "--- FAIL\|^FAIL" "$out"; then echo; echo "some benchmarks failed:"; grep -B2 -A12 -- "--- FAIL" "$out" | head -60; exit 1; fi
