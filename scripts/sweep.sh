#!/usr/bin/env bash
# sweep.sh DIR: ends the process groups of every process whose working directory or command
# line is under DIR — dev servers, installs and agents the process runtime started, which
# outlive a stopped `mgx up` on purpose (a restarted MGX re-attaches them) or a killed test.
# Never its caller's own process group.
set -uo pipefail
root=${1:?usage: sweep.sh DIR}
label=${2:-sweep}
self=$(ps -o pgid= $$ | tr -d ' ')
pids=() groups=()
for d in /proc/[0-9]*; do
  pid=${d#/proc/}
  [ "$pid" = $$ ] && continue
  cwd=$(readlink "$d/cwd" 2>/dev/null) || continue
  cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
  if [[ "$cwd" == "$root"* || "$cmd" == *"$root"* ]]; then
    pg=$(awk '{print $5}' "$d/stat" 2>/dev/null) || continue
    pids+=("$pid")
    [ -n "$pg" ] && [ "$pg" != "$self" ] && [ "$pg" != 0 ] && [ "$pg" != 1 ] && groups+=("$pg")
  fi
done
if [ ${#pids[@]} -gt 0 ]; then
  echo "$label: ending ${#pids[@]} leftover processes (pids ${pids[*]})"
  for pg in $(printf '%s\n' "${groups[@]}" | sort -u); do kill -KILL -- "-$pg" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
fi
exit 0
