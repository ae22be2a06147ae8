#!/usr/bin/env bash
# bench_idle.sh: memory per idle keep-alive connection. For each server,
# open N connections (default 10,000), one request each, then hold them idle
# and compare the server's RSS with its RSS before (from /proc).
#
#   bench/web/bench_idle.sh [-n CONNS] [-s "applayer go nginx"]
source "$(dirname "$0")/lib.sh"

N=10000 SERVERS="applayer go nginx"
while getopts n:s: o; do
	case $o in n) N=$OPTARG ;; s) SERVERS=$OPTARG ;; *) exit 2 ;; esac
done
[ "$N" -le 20000 ] || { echo "-n at most 20000" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)"

build_applayer
build_gostatic
make_tree "$WORK/tree"

# rss_kb PID...: the summed VmRSS of the processes and their children
# (nginx's workers).
rss_kb() {
	local total=0 p kids
	for p in "$@"; do
		kids=$(pgrep -P "$p" || true)
		for q in $p $kids; do
			total=$((total + $(awk '/^VmRSS/ {print $2}' /proc/"$q"/status 2>/dev/null || echo 0)))
		done
	done
	echo "$total"
}

echo "| server | RSS before (MiB) | RSS with $N idle (MiB) | KiB per connection |"
echo "|---|---:|---:|---:|"
for s in $SERVERS; do
	port=$(free_port)
	if [ "$s" = applayer ]; then
		timeout "$SERVER_TIMEOUT" "$WORK/bin/applayer" web serve --root "$WORK/tree" --listen 127.0.0.1:"$port" --log-level warn --max-conns $((N + 100)) --max-conns-per-client -1 --no-demo &
		PIDS+=($!)
		wait_port "$port"
	else
		start_server "$s" "$WORK/tree" "$port"
	fi
	pid=${PIDS[-1]}
	# timeout's child is the server.
	spid=$(pgrep -P "$pid" | head -1)
	curl -sf "http://127.0.0.1:$port/1k.html" >/dev/null
	sleep 1
	before=$(rss_kb "$spid")
	fifo="$WORK/idle.$$"
	python3 "$(dirname "$0")/idle_conns.py" "$port" "$N" 8 >"$fifo" &
	cpid=$!
	for _ in $(seq 120); do grep -q ready "$fifo" 2>/dev/null && break; sleep 0.5; done
	sleep 2
	after=$(rss_kb "$spid")
	wait "$cpid" || true
	awk -v s="$s" -v b="$before" -v a="$after" -v n="$N" 'BEGIN { printf "| %s | %.1f | %.1f | %.1f |\n", s, b/1024, a/1024, (a-b)/n }'
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -f "$fifo"
done
