#!/usr/bin/env bash
# resolver.sh: the resolver benchmark. A three-level hierarchy on loopback,
# port 53 (root on 127.53.1.1, test. on 127.53.1.2, example.test. with
# 10 000 hosts on 127.53.1.3, each an `applayer dns serve` with --trace so
# that the queries it receives can be counted); then each resolver in turn
# (applayer and Unbound, one thread each, pinned to CPU 1, empty cache):
#   cold: dnsperf asks each of the 10 000 names once (-n 1);
#   warm: dnsperf asks them again for DURATION seconds (all cache hits).
# Reports server CPU per query (/proc), upstream queries per cold query
# (queries the three servers received / names), and resident memory per
# cached name (VmRSS after the cold pass minus before, / names).
#
#   bench/dns/resolver.sh
#   DURATION=5 RESOLVERS="applayer" bench/dns/resolver.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
DURATION=${DURATION:-10}
RESOLVERS=${RESOLVERS:-"applayer unbound"}
NAMES=${NAMES:-10000}
if [ -z "${APPLAYER:-}" ]; then
  (cd "$here/../.." && go build -o "$work/applayer.bin" ./cmd/applayer)
  APPLAYER=$work/applayer.bin
fi
hz=$(getconf CLK_TCK)
cat >"$work/root.zone" <<'Z'
$ORIGIN .
$TTL 86400
@ SOA a.root-servers.test. admin.test. 1 1800 900 604800 86400
@ NS a.root-servers.test.
test. NS ns.test.
ns.test. A 127.53.1.2
a.root-servers.test. A 127.53.1.1
Z
cat >"$work/test.zone" <<'Z'
$ORIGIN test.
$TTL 86400
@ SOA ns admin 1 1800 900 604800 300
@ NS ns
ns A 127.53.1.2
a.root-servers A 127.53.1.1
example NS ns.example
ns.example A 127.53.1.3
Z
{
  echo '$ORIGIN example.test.'
  echo '$TTL 3600'
  echo '@ SOA ns admin 1 1800 900 604800 300'
  echo '@ NS ns'
  echo 'ns A 127.53.1.3'
  for i in $(seq 1 "$NAMES"); do echo "host$i A 10.$((i / 65536)).$((i / 256 % 256)).$((i % 256))"; done
} >"$work/example.zone"
for i in $(seq 1 "$NAMES"); do echo "host$i.example.test A"; done >"$work/names.txt"
printf '. 3600000 NS a.root-servers.test.\na.root-servers.test. 3600000 A 127.53.1.1\n' >"$work/root.hints"

i=0
for z in root test example; do
  i=$((i + 1))
  taskset -c 0 "$APPLAYER" --log-level warn dns serve --zone "$work/$z.zone" --listen "127.53.1.$i:53" --trace 2>"$work/$z.trace" >/dev/null &
done
sleep 0.5

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
upstream() { cat "$work"/*.trace | grep -c ' C: query' || true; }

start_resolver() { # name port -> pid
  local name=$1 port=$2 d=$work/$1
  mkdir -p "$d"
  case $name in
    applayer)
      GOMAXPROCS=1 taskset -c 1 "$APPLAYER" --log-level warn dns resolve --root-hints "$work/root.hints" --listen "127.0.0.1:$port" --cache-size 200000 >"$d/log" 2>&1 &
      ;;
    unbound)
      cat >"$d/unbound.conf" <<CONF
server:
  interface: 127.0.0.1@$port
  port: $port
  do-ip6: no
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  root-hints: "$work/root.hints"
  do-not-query-localhost: no
  username: ""
  chroot: ""
  directory: "$d"
  pidfile: "$d/pid"
  use-syslog: no
  logfile: ""
  module-config: "iterator"
  qname-minimisation: no
  rrset-cache-size: 64m
  msg-cache-size: 32m
  local-zone: "test." nodefault
CONF
      taskset -c 1 unbound -d -c "$d/unbound.conf" >"$d/log" 2>&1 &
      ;;
  esac
  echo $!
}

printf '%-9s %9s %9s %10s %9s %9s %10s %12s\n' resolver 'cold QPS' 'cold lost' 'cold µs/q' 'up/cold' 'warm QPS' 'warm µs/q' 'RSS B/name'
for r in $RESOLVERS; do
  port=$(free_port)
  pid=$(start_resolver "$r" "$port")
  for _ in $(seq 50); do
    dig +time=1 +tries=1 @127.0.0.1 -p "$port" ns.test A >/dev/null 2>&1 && break
    sleep 0.1
  done
  up0=$(upstream); rss0=$(rss_kb "$pid"); c0=$(cpu_ticks "$pid")
  cold=$(taskset -c 0 dnsperf -s 127.0.0.1 -p "$port" -d "$work/names.txt" -n 1 -c 4 -q 200 -t 5 2>&1)
  c1=$(cpu_ticks "$pid"); rss1=$(rss_kb "$pid"); up1=$(upstream)
  warm=$(taskset -c 0 dnsperf -s 127.0.0.1 -p "$port" -d "$work/names.txt" -l "$DURATION" -c 4 -Q 200000 -q 100 2>&1)
  c2=$(cpu_ticks "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  [ "$r" = applayer ] && grep -o 'cached=[0-9]* cache_size=[0-9]*' "$work/$r/log" >"$work/$r.cached" || true
  field() { awk -v k="$2" '$0 ~ k {print $(NF - ('"${3:-0}"'))}' <<<"$1" | head -1; }
  cc=$(awk '/Queries completed:/ {print $3}' <<<"$cold"); cl=$(awk '/Queries lost:/ {print $3}' <<<"$cold")
  cq=$(awk '/Queries per second:/ {print $4}' <<<"$cold")
  wc_=$(awk '/Queries completed:/ {print $3}' <<<"$warm"); wq=$(awk '/Queries per second:/ {print $4}' <<<"$warm")
  awk -v n="$r" -v cq="$cq" -v cl="$cl" -v cc="$cc" -v ct=$((c1 - c0)) -v up=$((up1 - up0)) -v names="$NAMES" \
      -v wq="$wq" -v wc="$wc_" -v wt=$((c2 - c1)) -v rss=$(((rss1 - rss0) * 1024)) -v hz="$hz" \
    'BEGIN { printf "%-9s %9.0f %9d %10.1f %9.3f %9.0f %10.2f %12.0f\n", n, cq, cl, ct/hz*1e6/cc, up/names, wq, wt/hz*1e6/wc, rss/names }'
done

# The cache bound: applayer with a cache of 1000 entries takes the 10 000
# names; the entries it holds at the end must not exceed the bound.
if [[ " $RESOLVERS " == *" applayer "* ]]; then
  port=$(free_port)
  GOMAXPROCS=1 taskset -c 1 "$APPLAYER" dns resolve --root-hints "$work/root.hints" --listen "127.0.0.1:$port" --cache-size 1000 >"$work/bounded.log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do
    dig +time=1 +tries=1 @127.0.0.1 -p "$port" ns.test A >/dev/null 2>&1 && break
    sleep 0.1
  done
  rss0=$(rss_kb "$pid")
  taskset -c 0 dnsperf -s 127.0.0.1 -p "$port" -d "$work/names.txt" -n 1 -c 4 -q 200 -t 5 >/dev/null 2>&1
  rss1=$(rss_kb "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "applayer --cache-size 1000 after $NAMES distinct names: $(grep -o 'cached=[0-9]* cache_size=[0-9]*' "$work/bounded.log"), RSS grew $(( (rss1 - rss0) )) KiB"
fi
