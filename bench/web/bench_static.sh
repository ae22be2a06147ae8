#!/usr/bin/env bash
# bench_static.sh: requests per second and latency for a 1 KiB and a 100 KiB
# file over keep-alive HTTP/1.1 with wrk, for applayer, nginx (one worker per
# core) and Go's net/http file server, interleaved in one run.
#
#   bench/web/bench_static.sh [-d SECONDS] [-c CONNS] [-r REPS] [-s "applayer nginx go"] [-p SERVER_CPUS:LOAD_CPUS]
#
# -p pins the servers and wrk to separate CPUs (taskset lists, e.g. -p 0:1);
# each server then sizes itself to its CPUs (see lib.sh).
# Loopback only; each wrk run is bounded by -d (at most 15 s).
source "$(dirname "$0")/lib.sh"

DUR=10 CONNS=50 REPS=1 SERVERS="applayer nginx go"
while getopts d:c:r:s:p: o; do
	case $o in
	d) DUR=$OPTARG ;; c) CONNS=$OPTARG ;; r) REPS=$OPTARG ;; s) SERVERS=$OPTARG ;;
	p) SERVER_CPUS=${OPTARG%%:*} LOAD_CPUS=${OPTARG#*:} ;;
	*) exit 2 ;;
	esac
done
[ -z "$SERVER_CPUS" ] || command -v taskset >/dev/null || { echo "-p needs taskset (util-linux)" >&2; exit 1; }
pin_cpus
[ "$DUR" -le 15 ] || { echo "-d at most 15" >&2; exit 2; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }

build_applayer
build_gostatic
make_tree "$WORK/tree"
declare -A PORT
for s in $SERVERS; do
	PORT[$s]=$(free_port)
	start_server "$s" "$WORK/tree" "${PORT[$s]}"
done
# Every server must serve both files byte for byte before anything is timed.
for s in $SERVERS; do
	for f in 1k.html img.png; do
		curl -sf "http://127.0.0.1:${PORT[$s]}/$f" | cmp -s - "$WORK/tree/$f" || { echo "$s serves $f wrongly" >&2; exit 1; }
	done
done

# Warm-up, not recorded: two seconds of the same load per server and file,
# so that no server's first cell pays for its caches, pools and heap.
for s in $SERVERS; do
	for f in 1k.html img.png; do
		"${ON_LOAD_CPUS[@]}" wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:${PORT[$s]}/$f" >/dev/null 2>&1
	done
done

out="$WORK/results/static-$(date -u +%Y%m%d-%H%M%S).tsv"
printf 'file\tserver\trep\treq_per_s\tp50_ms\tp99_ms\terrors\n' >"$out"
for f in 1k.html img.png; do
	for rep in $(seq "$REPS"); do
		for s in $SERVERS; do
			r=$("${ON_LOAD_CPUS[@]}" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "http://127.0.0.1:${PORT[$s]}/$f" 2>&1)
			rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$r")
			p50=$(awk '$1=="50%" {print $2}' <<<"$r")
			p99=$(awk '$1=="99%" {print $2}' <<<"$r")
			errs=$(awk '/Non-2xx|Socket errors/ {e=e $0 "; "} END {print (e==""?"0":e)}' <<<"$r")
			ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.3f", v/1000; else if (v ~ /ms$/) printf "%.3f", v+0; else if (v ~ /s$/) printf "%.3f", v*1000; else print v }'; }
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$f" "$s" "$rep" "$rps" "$(ms "$p50")" "$(ms "$p99")" "$errs" | tee -a "$out"
		done
	done
done

echo
echo "Medians over $REPS run(s), wrk -t1 -c$CONNS -d${DUR}s${SERVER_CPUS:+, servers on CPUs $SERVER_CPUS and wrk on $LOAD_CPUS}; ratio to nginx in the same run:"
python3 - "$out" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
files = sorted({r["file"] for r in rows}, key=lambda f: f != "1k.html")
servers = list(dict.fromkeys(r["server"] for r in rows))
print("| file | server | req/s | ratio to nginx | ratio to go | p50 ms | p99 ms |")
print("|---|---|---:|---:|---:|---:|---:|")
for f in files:
    med = {}
    for s in servers:
        rs = [r for r in rows if r["file"] == f and r["server"] == s]
        med[s] = (statistics.median(float(r["req_per_s"]) for r in rs),
                  statistics.median(float(r["p50_ms"]) for r in rs),
                  statistics.median(float(r["p99_ms"]) for r in rs))
    for s in servers:
        rps, p50, p99 = med[s]
        rn = "%.2f" % (rps / med["nginx"][0]) if "nginx" in med else "-"
        rg = "%.2f" % (rps / med["go"][0]) if "go" in med else "-"
        print(f"| {f} | {s} | {rps:,.0f} | {rn} | {rg} | {p50:.2f} | {p99:.2f} |")
PY
echo "raw: $out"
