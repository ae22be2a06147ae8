#!/usr/bin/env bash
# auth.sh: the authoritative benchmark. Serves the same zone (mkzone.sh)
# with applayer, Knot and BIND, one server thread each, in turn, and runs
# dnsperf against each on loopback. The server is pinned to CPU 1 and
# dnsperf to CPU 0; the figure that counts is the server's CPU time per
# answered query, read from /proc/PID/stat, because on two cores the load
# generator saturates before the fast servers do.
#
#   bench/dns/auth.sh                 # UDP, 10 s per server
#   MODE=tcp DURATION=5 bench/dns/auth.sh
#   ROUNDS=3 bench/dns/auth.sh        # alternate order, report medians
#
# Environment: APPLAYER (binary; built from the checkout when unset),
# DURATION (seconds, default 10), MODE (udp or tcp), ROUNDS (default 1),
# SERVERS (default "applayer knot named").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
DURATION=${DURATION:-10}
MODE=${MODE:-udp}
ROUNDS=${ROUNDS:-1}
SERVERS=${SERVERS:-"applayer knot named"}
if [ -z "${APPLAYER:-}" ]; then
  (cd "$here/../.." && go build -o "$work/applayer.bin" ./cmd/applayer)
  APPLAYER=$work/applayer.bin
fi
"$here/mkzone.sh" "$work" >/dev/null
zonefile=$work/example.test.zone
hz=$(getconf CLK_TCK)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_server() { # name port -> prints pid
  local name=$1 port=$2 d=$work/$1
  mkdir -p "$d"
  case $name in
    applayer)
      GOMAXPROCS=1 taskset -c 1 "$APPLAYER" --log-level warn dns serve --zone "$zonefile" --listen "127.0.0.1:$port" >"$d/log" 2>&1 &
      ;;
    knot)
      cat >"$d/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$port
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    rundir: $d
database:
    storage: $d
template:
  - id: default
    storage: $d
zone:
  - domain: example.test
    file: $zonefile
log:
  - target: stderr
    any: error
CONF
      taskset -c 1 knotd -c "$d/knot.conf" >"$d/log" 2>&1 &
      ;;
    named)
      cat >"$d/named.conf" <<CONF
options { directory "$d"; listen-on port $port { 127.0.0.1; }; listen-on-v6 { none; };
  pid-file none; recursion no; dnssec-validation no; session-keyfile none; lock-file none; };
controls { };
zone "example.test" { type primary; file "$zonefile"; };
CONF
      taskset -c 1 named -g -n 1 -U 1 -c "$d/named.conf" >"$d/log" 2>&1 &
      ;;
  esac
  echo $!
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run_one() { # name -> prints "name qps lost cpu_us_per_q"
  local name=$1 port pid
  port=$(free_port)
  pid=$(start_server "$name" "$port")
  for _ in $(seq 50); do
    dig +time=1 +tries=1 @127.0.0.1 -p "$port" example.test SOA >/dev/null 2>&1 && break
    sleep 0.1
  done
  local before after out
  before=$(cpu_ticks "$pid")
  out=$(taskset -c 0 dnsperf -s 127.0.0.1 -p "$port" -m "$MODE" -d "$work/queries.txt" -l "$DURATION" -c 4 -Q 200000 -q 100 2>&1)
  after=$(cpu_ticks "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local completed lost qps
  completed=$(awk '/Queries completed:/ {print $3}' <<<"$out")
  lost=$(awk '/Queries lost:/ {print $3}' <<<"$out")
  qps=$(awk '/Queries per second:/ {print $4}' <<<"$out")
  awk -v n="$name" -v c="$completed" -v l="$lost" -v q="$qps" -v t=$((after - before)) -v hz="$hz" \
    'BEGIN { printf "%s %.0f %d %.2f\n", n, q, l, t / hz * 1e6 / c }'
}

results=$work/results
: >"$results"
for round in $(seq "$ROUNDS"); do
  list=$SERVERS
  [ $((round % 2)) -eq 0 ] && list=$(tr ' ' '\n' <<<"$SERVERS" | tac | tr '\n' ' ')
  for s in $list; do run_one "$s" >>"$results"; done
done
echo "mode $MODE, $DURATION s per server, $ROUNDS round(s); medians"
printf '%-10s %10s %6s %12s %8s\n' server QPS lost 'µs CPU/q' 'x knot'
knot=$(awk '$1=="knot"{print $4}' "$results" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
for s in $SERVERS; do
  awk -v s="$s" '$1==s' "$results" | sort -k4 -n | awk -v k="${knot:-0}" '{q[NR]=$2; l[NR]=$3; c[NR]=$4; n=$1}
    END { m=int((NR+1)/2); printf "%-10s %10.0f %6d %12.2f %8s\n", n, q[m], l[m], c[m], (k>0 ? sprintf("%.2f", c[m]/k) : "-") }'
done
