#!/usr/bin/env bash
# Measures the embedded gateway against a direct connection and against nginx (Debian's) as
# reverse proxy, on this machine in one run: wrk at c=64 with 1 KiB responses (requests/s,
# p50/p99), wrk at c=1 (added latency p50/p99 with no queueing), and one SSE stream
# (time to first event, events/s). Prints a table.
#
# Usage: gateway/bench/run.sh            (DURATION=10 ROUNDS=2 CONNS=64 to change)
# Installs nginx and wrk with apt-get when they are missing.
set -euo pipefail

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
CONNS=${CONNS:-64}
# Free loopback ports, picked by the kernel.
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
UP=127.0.0.1:$(freeport) GW=127.0.0.1:$(freeport) NGX=127.0.0.1:$(freeport)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/mgx-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} from Debian…" >&2
  apt-get install -y "${need[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "${need[@]}" >/dev/null; }
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

echo "building benchserver…" >&2
(cd "$root" && go build -o "$work/benchserver" ./gateway/bench/benchserver)
"$work/benchserver" -mode upstream -listen $UP & pids+=($!)
"$work/benchserver" -mode gateway -listen $GW -upstream $UP & pids+=($!)

mkdir -p "$work/nginx/logs"
cat >"$work/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream up { server $UP; keepalive 128; }
  server {
    listen $NGX;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
    location ~ /sse\$ {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
"$NGINX" -p "$work/nginx" -c "$work/nginx.conf"

for a in $UP $GW $NGX; do
  for _ in $(seq 50); do curl -fsS -o /dev/null "http://$a/apps/bench/x" 2>/dev/null && break; sleep 0.1; done
done

# to_ms converts wrk's "812.00us" / "1.23ms" / "1.02s" to milliseconds.
to_ms() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); printf "%.3f", v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); printf "%.3f", v} else {sub(/s$/,"",v); printf "%.3f", v*1000} }'; }

# run NAME ADDR CONNS SECONDS → appends "rps p50 p99" to $work/NAME.cCONNS
run() {
  local out
  local t=2; [ "$3" -lt 2 ] && t=1
  out=$(wrk -t"$t" -c"$3" -d"$4"s --latency "http://$2/apps/bench/items/42")
  local rps p50 p99
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
  echo "$rps $p50 $p99" >>"$work/$1.c$3"
}

names=(direct embedded nginx)
addrs=($UP $GW $NGX)
echo "warming up…" >&2
for i in 0 1 2; do wrk -t2 -c"$CONNS" -d2s "http://${addrs[$i]}/apps/bench/x" >/dev/null; done
# Interleave targets and rounds so that background load on the machine hits all alike.
for r in $(seq "$ROUNDS"); do
  for i in 0 1 2; do
    echo "round $r: ${names[$i]} c=$CONNS…" >&2
    run "${names[$i]}" "${addrs[$i]}" "$CONNS" "$DURATION"
    run "${names[$i]}" "${addrs[$i]}" 1 "$(( (DURATION + 1) / 2 ))"
  done
done
for i in 0 1 2; do
  "$work/benchserver" -mode sse -url "http://${addrs[$i]}/apps/bench/sse" -events 20000 >"$work/${names[$i]}.sse"
done

# Medians over rounds (rounds are few: the middle value, or the mean of the two middles).
median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
col() { awk -v c="$2" '{print $c}' "$work/$1" | median; }
nginx_rps=$(col nginx.c"$CONNS" 1)
d50=$(col direct.c1 2) d99=$(col direct.c1 3)

printf "\nEmbedded gateway vs direct vs nginx %s — %s cores, load %s, %s rounds of %ss, 1 KiB responses\n\n" \
  "$("$NGINX" -v 2>&1 | sed 's/.*\///')" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$ROUNDS" "$DURATION"
printf "%-9s | %10s | %8s | %8s | %8s | %9s | %9s | %11s | %11s | %9s | %10s\n" \
  target "req/s c=$CONNS" "% nginx" "p50 ms" "p99 ms" "c=1 p50" "c=1 p99" "added p50" "added p99" "SSE ev/s" "SSE 1st µs"
for n in "${names[@]}"; do
  rps=$(col "$n.c$CONNS" 1) p50=$(col "$n.c$CONNS" 2) p99=$(col "$n.c$CONNS" 3)
  l50=$(col "$n.c1" 2) l99=$(col "$n.c1" 3)
  sse=$(sed -n 's/.*events_per_s=\([0-9]*\).*/\1/p' "$work/$n.sse")
  first=$(sed -n 's/first_event_us=\([0-9]*\).*/\1/p' "$work/$n.sse")
  printf "%-9s | %14.0f | %7.0f%% | %8.3f | %8.3f | %9.3f | %9.3f | %9.3fms | %9.3fms | %9s | %10s\n" \
    "$n" "$rps" "$(awk -v a="$rps" -v b="$nginx_rps" 'BEGIN{print 100*a/b}')" "$p50" "$p99" "$l50" "$l99" \
    "$(awk -v a="$l50" -v b="$d50" 'BEGIN{print a-b}')" "$(awk -v a="$l99" -v b="$d99" 'BEGIN{print a-b}')" "$sse" "$first"
done
echo
echo "Allocations per request (Go benchmark, whole process; the gateway's share is embedded − direct):"
(cd "$root" && go test -run '^$' -bench 'BenchmarkProxy|BenchmarkServeHTTP' -benchtime 2s ./gateway/ | grep -E '^Benchmark')
