#!/usr/bin/env bash
# bench_h2.sh: HTTP/2 requests per second for a 1 KiB and a 100 KiB file,
# h2c (prior knowledge) and h2 (TLS, ALPN), with h2load, for applayer,
# nginx (one worker per core, HTTP/2 on, same files) and, when installed and
# asked for, h2o (Debian's, one thread per core), interleaved in one run.
#
#   bench/web/bench_h2.sh [-d SECONDS] [-c CONNS] [-m STREAMS] [-r REPS] [-s "applayer nginx h2o"]
#
# h2load -t1 -cCONNS -mSTREAMS -DSECONDS (defaults -c10 -m10 -d10, as in the
# research notes). Loopback only; each run is bounded by -d (at most 15 s).
source "$(dirname "$0")/lib.sh"

DUR=10 CONNS=10 STREAMS=10 REPS=1 SERVERS="applayer nginx"
while getopts d:c:m:r:s: o; do
	case $o in
	d) DUR=$OPTARG ;; c) CONNS=$OPTARG ;; m) STREAMS=$OPTARG ;; r) REPS=$OPTARG ;; s) SERVERS=$OPTARG ;;
	*) exit 2 ;;
	esac
done
[ "$DUR" -le 15 ] || { echo "-d at most 15" >&2; exit 2; }
command -v h2load >/dev/null || { echo "needs h2load (apt-get install nghttp2-client)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "needs openssl" >&2; exit 1; }

build_applayer
make_tree "$WORK/tree"
cert=$WORK/h2cert.pem key=$WORK/h2key.pem
[ -f "$cert" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$key" -out "$cert" 2>/dev/null

declare -A PLAIN TLS
for s in $SERVERS; do
	PLAIN[$s]=$(free_port)
	TLS[$s]=$(free_port)
	case $s in
	applayer)
		timeout "$SERVER_TIMEOUT" "$WORK/bin/applayer" web serve --root "$WORK/tree" --no-demo --log-level warn \
			--listen 127.0.0.1:"${PLAIN[$s]}" --tls 127.0.0.1:"${TLS[$s]}" --tls-cert "$cert" --tls-key "$key" &
		;;
	nginx)
		d="$WORK/nginx-h2-${PLAIN[$s]}"
		mkdir -p "$d"
		cat >"$d/nginx.conf" <<NGINX
worker_processes $(nproc);
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 20000; }
http {
	include /etc/nginx/mime.types;
	access_log off;
	sendfile on;
	tcp_nodelay on;
	keepalive_timeout 60s;
	keepalive_requests 1000000;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	server {
		listen 127.0.0.1:${PLAIN[$s]} http2;
		listen 127.0.0.1:${TLS[$s]} ssl http2;
		ssl_certificate $cert;
		ssl_certificate_key $key;
		root $WORK/tree;
	}
}
NGINX
		timeout "$SERVER_TIMEOUT" nginx -c "$d/nginx.conf" -e "$d/error.log" &
		;;
	h2o)
		d="$WORK/h2o-${PLAIN[$s]}"
		mkdir -p "$d"
		cat >"$d/h2o.conf" <<H2O
num-threads: $(nproc)
error-log: $d/error.log
hosts:
  "127.0.0.1":
    listen:
      host: 127.0.0.1
      port: ${PLAIN[$s]}
    listen:
      host: 127.0.0.1
      port: ${TLS[$s]}
      ssl:
        certificate-file: $cert
        key-file: $key
    paths:
      /:
        file.dir: $WORK/tree
H2O
		timeout "$SERVER_TIMEOUT" h2o -c "$d/h2o.conf" >"$d/out.log" 2>&1 &
		;;
	*)
		echo "unknown server $s" >&2
		exit 2
		;;
	esac
	PIDS+=($!)
	wait_port "${PLAIN[$s]}"
	wait_port "${TLS[$s]}"
done

url() { # url SERVER PROTO FILE
	case $2 in
	h2c) echo "http://127.0.0.1:${PLAIN[$1]}/$3" ;;
	h2) echo "https://127.0.0.1:${TLS[$1]}/$3" ;;
	esac
}

# Every server must serve both files over both protocols first.
for s in $SERVERS; do
	for p in h2c h2; do
		for f in 1k.html img.png; do
			r=$(h2load -n 2 -c 1 "$(url "$s" "$p" "$f")" 2>&1)
			grep -q "2 succeeded" <<<"$r" || { echo "$s fails $p $f:"; echo "$r"; exit 1; } >&2
		done
	done
done
# Warm-up, not recorded.
for s in $SERVERS; do
	for p in h2c h2; do
		for f in 1k.html img.png; do
			h2load -t1 -c"$CONNS" -m"$STREAMS" -D 2 "$(url "$s" "$p" "$f")" >/dev/null 2>&1
		done
	done
done

out="$WORK/results/h2-$(date -u +%Y%m%d-%H%M%S).tsv"
printf 'file\tproto\tserver\trep\treq_per_s\tfailed\n' >"$out"
for f in 1k.html img.png; do
	for p in h2c h2; do
		for rep in $(seq "$REPS"); do
			for s in $SERVERS; do
				r=$(h2load -t1 -c"$CONNS" -m"$STREAMS" -D "$DUR" "$(url "$s" "$p" "$f")" 2>&1)
				rps=$(awk '/^finished in/ {print $4}' <<<"$r")
				failed=$(awk '/^requests:/ {print $10+$12+$14}' <<<"$r")
				printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$f" "$p" "$s" "$rep" "$rps" "$failed" | tee -a "$out"
			done
		done
	done
done

echo
echo "Medians over $REPS run(s), h2load -t1 -c$CONNS -m$STREAMS -D$DUR; load average $(cut -d' ' -f1-3 /proc/loadavg); ratio to nginx in the same run:"
python3 - "$out" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
servers = list(dict.fromkeys(r["server"] for r in rows))
others = [s for s in servers if s not in ("applayer", "nginx")]
print("| file | proto | " + " | ".join(servers) + " | applayer / nginx |" + "".join(f" applayer / {o} |" for o in others))
print("|---|---|" + "---:|" * (len(servers) + 1 + len(others)))
for f in ("1k.html", "img.png"):
    for p in ("h2c", "h2"):
        med = {s: statistics.median(float(r["req_per_s"]) for r in rows if r["file"] == f and r["proto"] == p and r["server"] == s) for s in servers}
        fails = sum(int(r["failed"]) for r in rows if r["file"] == f and r["proto"] == p)
        ratio = med.get("applayer", 0) / med["nginx"] if med.get("nginx") else float("nan")
        extra = "".join(f" {med['applayer'] / med[o]:.2f} |" if med.get(o) else " - |" for o in others)
        print(f"| {f} | {p} | " + " | ".join(f"{med[s]:,.0f}" for s in servers) + f" | {ratio:.2f}" + (f" ({fails} failed)" if fails else "") + " |" + extra)
PY
