#!/usr/bin/env bash
# Runs every Go benchmark once (a few seconds each) and prints one table.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
go test -tags ferretdb_no_postgresql -run '^$' -bench "${BENCH:-.}" -benchtime "${BENCHTIME:-1s}" -benchmem ./... 2>&1 | tee "$out" >/dev/null || true
printf '\n%-58s %14s %12s %12s  %s\n' "benchmark" "ns/op" "B/op" "allocs/op" "extra"
printf '%s\n' "$(printf '%.0s-' {1..120})"
awk '
/^pkg:/ {pkg=$2; sub("github.com/mgx-dev/mgx/","",pkg)}
/^Benchmark/ {
  name=pkg "." $1; sub(/-[0-9]+$/,"",name)
  ns=""; b=""; a=""; extra=""
  for (i=3;i<=NF;i+=2) {
    if ($(i+1)=="ns/op") ns=$i; else if ($(i+1)=="B/op") b=$i; else if ($(i+1)=="allocs/op") a=$i;
    else extra=extra $i " " $(i+1) "  "
  }
  printf "%-58s %14s %12s %12s  %s\n", name, ns, b, a, extra
}' "$out"
if grep -q -- "--- FAIL\|^FAIL" "$out"; then echo; echo "some benchmarks failed:"; grep -B2 -A8 -- "--- FAIL" "$out" | head -40; exit 1; fi
