#!/usr/bin/env bash
# bench_cache.sh [-d S] [-c CONNS] [-r REPS] [-s "applayer nginx varnish"]: cache hit
# throughput. One origin (nginx serving 1k.html and img.png with
# "Cache-Control: public, max-age=3600", counting its requests in an access
# log) behind each cache: applayer web proxy --reverse, and nginx
# proxy_cache (one worker per core, tcp_nopush off: see the research notes
# on its 40 ms stalls with it on), and with -s, Varnish (default VCL,
# malloc store). First a functional check per cache and
# file: a GET that reaches the origin once, a GET that does not, an
# If-Modified-Since answered 304 by the cache. Then wrk -t1 -cCONNS -dS on
# each cache and file, interleaved, after a 2 s warm-up; medians of REPS
# runs, ratio to nginx, and the requests that reached the origin during
# the hit runs (should be 0).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DUR=10 CONNS=50 REPS=1 CACHES="applayer nginx"
while getopts d:c:r:s: opt; do
	case $opt in
	d) DUR=$OPTARG ;;
	c) CONNS=$OPTARG ;;
	r) REPS=$OPTARG ;;
	s) CACHES=$OPTARG ;;
	*) echo "usage: $0 [-d S] [-c CONNS] [-r REPS] [-s \"applayer nginx\"]" >&2; exit 2 ;;
	esac
done
[ "$DUR" -le 15 ] || { echo "-d at most 15 s" >&2; exit 2; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }

build_applayer
TREE="$WORK/cache-tree"
make_tree "$TREE"
ORIGIN=$(free_port)
od="$WORK/origin-$ORIGIN"
mkdir -p "$od"
cat >"$od/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $od/nginx.pid;
error_log $od/error.log warn;
events { worker_connections 4096; }
http {
	include /etc/nginx/mime.types;
	access_log $od/access.log;
	client_body_temp_path $od/body; proxy_temp_path $od/proxy; fastcgi_temp_path $od/fcgi; uwsgi_temp_path $od/uwsgi; scgi_temp_path $od/scgi;
	server {
		listen 127.0.0.1:$ORIGIN;
		root $TREE;
		add_header Cache-Control "public, max-age=3600";
	}
}
NGINX
timeout "$SERVER_TIMEOUT" nginx -c "$od/nginx.conf" -e "$od/error.log" &
PIDS+=($!)
wait_port "$ORIGIN"
origin_count() { wc -l <"$od/access.log"; }

declare -A PORT
for c in $CACHES; do
	PORT[$c]=$(free_port)
	case $c in
	applayer)
		timeout "$SERVER_TIMEOUT" "$WORK/bin/applayer" web proxy --listen 127.0.0.1:${PORT[$c]} --reverse 127.0.0.1:$ORIGIN --log-level warn &
		;;
	nginx)
		d="$WORK/nginx-cache-${PORT[$c]}"
		mkdir -p "$d"
		cat >"$d/nginx.conf" <<NGINX
worker_processes $(nproc);
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 20000; }
http {
	access_log off;
	sendfile on;
	tcp_nopush off;
	keepalive_requests 1000000;
	client_body_temp_path $d/body; proxy_temp_path $d/proxy; fastcgi_temp_path $d/fcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
	proxy_cache_path $d/cache keys_zone=c:10m max_size=512m;
	upstream origin { server 127.0.0.1:$ORIGIN; keepalive 16; }
	server {
		listen 127.0.0.1:${PORT[$c]};
		location / {
			proxy_pass http://origin;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_cache c;
			proxy_cache_revalidate on;
			add_header X-Cache \$upstream_cache_status;
		}
	}
}
NGINX
		timeout "$SERVER_TIMEOUT" nginx -c "$d/nginx.conf" -e "$d/error.log" &
		;;
	varnish)
		# Varnish's default VCL, a memory store.
		d="$WORK/varnish-${PORT[$c]}"
		rm -rf "$d" && mkdir -p "$d"
		timeout "$SERVER_TIMEOUT" varnishd -F -j none -n "$d/n" -a 127.0.0.1:${PORT[$c]} -b 127.0.0.1:$ORIGIN -T none -s malloc,256m >"$d/log" 2>&1 &
		;;
	*) echo "unknown cache $c" >&2; exit 2 ;;
	esac
	PIDS+=($!)
	wait_port "${PORT[$c]}"
done

echo "## functional check (origin requests after each step)"
for c in $CACHES; do
	for f in 1k.html img.png; do
		u="http://127.0.0.1:${PORT[$c]}/$f"
		n0=$(origin_count)
		s1=$(curl -s -o /dev/null -w '%{http_code}' "$u"); n1=$(origin_count)
		s2=$(curl -s -o /dev/null -w '%{http_code}' "$u"); n2=$(origin_count)
		lm=$(curl -s -D - -o /dev/null "$u" | tr -d '\r' | sed -n 's/^[Ll]ast-[Mm]odified: //p')
		s3=$(curl -s -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $lm" "$u"); n3=$(origin_count)
		echo "$c $f: GET $s1 (+$((n1 - n0))), GET $s2 (+$((n2 - n1))), IMS $s3 (+$((n3 - n2)))"
	done
done

echo "## hit throughput: wrk -t1 -c$CONNS -d${DUR}s, medians of $REPS"
declare -A RPS P99 P50 ORIG
for f in 1k.html img.png; do
	for c in $CACHES; do wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:${PORT[$c]}/$f" >/dev/null 2>&1; done
	n0=$(origin_count)
	for rep in $(seq "$REPS"); do
		for c in $CACHES; do
			r=$(wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "http://127.0.0.1:${PORT[$c]}/$f" 2>&1)
			RPS[$c,$f]+="$(echo "$r" | awk '/Requests\/sec/ {print $2}') "
			P50[$c,$f]+="$(echo "$r" | awk '$1=="50%" {print $2}') "
			P99[$c,$f]+="$(echo "$r" | awk '$1=="99%" {print $2}') "
		done
	done
	ORIG[$f]=$(($(origin_count) - n0))
done
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "| file | cache | req/s | ratio to nginx | p50 | p99 (per run) |"
echo "|---|---|---:|---:|---:|---|"
for f in 1k.html img.png; do
	base=$(echo "${RPS[nginx,$f]:-}" | median)
	for c in $CACHES; do
		m=$(echo "${RPS[$c,$f]}" | median)
		ratio=$([ -n "$base" ] && awk -v a="$m" -v b="$base" 'BEGIN {printf "%.2f", a/b}' || echo -)
		echo "| $f | $c | $m | $ratio | $(echo "${P50[$c,$f]}" | tr ' ' '\n' | sed '/^$/d' | head -1) | ${P99[$c,$f]}|"
	done
done
echo "origin requests during the hit runs: 1k.html ${ORIG[1k.html]}, img.png ${ORIG[img.png]}"
