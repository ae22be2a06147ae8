#!/usr/bin/env bash
# cachetests.sh [-o "applayer nginx squid varnish"]: the cache-tests suite
# (npm http-cache-tests 0.4.5, the suite behind cache-tests.fyi) against
# each cache in reverse-proxy mode in front of the suite's own origin, one
# after the other in one run, scored by cachetests_score.mjs the site's
# way (required tests of 157), beside the results published in the
# package. Needs node and npm (Debian nodejs, npm), and for the references
# nginx, squid and varnish (Debian packages; a missing one is skipped).
# About 30 s per cache.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CACHES="applayer nginx squid varnish"
while getopts o: opt; do
	case $opt in
	o) CACHES=$OPTARG ;;
	*) echo "usage: $0 [-o \"applayer nginx squid varnish\"]" >&2; exit 2 ;;
	esac
done

CT="$WORK/cache-tests"
SUITE="$CT/node_modules/http-cache-tests"
if [ ! -f "$SUITE/package.json" ]; then
	mkdir -p "$CT"
	(cd "$CT" && npm i --no-audit --no-fund http-cache-tests@0.4.5 >/dev/null)
fi
# The suite's origin listens on every interface; keep it on loopback.
sed -i "s/server.listen(port)$/server.listen(port, '127.0.0.1')/" "$SUITE/server/server.mjs"

build_applayer
ORIGIN=$(free_port)
(cd "$CT" && npm_config_protocol=http npm_config_port=$ORIGIN npm_config_pidfile="$CT/server.pid" \
	exec timeout "$SERVER_TIMEOUT" node "$SUITE/server/server.mjs" >"$CT/origin.log" 2>&1) &
PIDS+=($!)
wait_port "$ORIGIN"

start_cache() { # start_cache NAME PORT: starts it in the background, sets PIDS
	local name=$1 port=$2 d="$CT/$1"
	rm -rf "$d" && mkdir -p "$d"
	case $name in
	applayer)
		timeout "$SERVER_TIMEOUT" "$WORK/bin/applayer" web proxy --listen 127.0.0.1:$port --reverse 127.0.0.1:$ORIGIN >"$d/log" 2>&1 &
		;;
	nginx)
		# The suite's docker configuration (proxy_cache_revalidate on).
		cat >"$d/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log;
events {}
http {
	access_log off;
	client_body_temp_path $d/body; fastcgi_temp_path $d/fcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
	proxy_cache_path $d/cache levels=1:2 keys_zone=my-cache:8m max_size=1000m inactive=600m;
	proxy_temp_path $d/tmp;
	server {
		listen 127.0.0.1:$port;
		location / {
			proxy_pass http://127.0.0.1:$ORIGIN;
			proxy_cache my-cache;
			proxy_cache_revalidate on;
		}
	}
}
NGINX
		timeout "$SERVER_TIMEOUT" nginx -c "$d/nginx.conf" -p "$d" >"$d/log" 2>&1 &
		;;
	squid)
		# The suite's docker configuration, on loopback, memory cache only.
		cat >"$d/squid.conf" <<SQUID
http_port 127.0.0.1:$port accel defaultsite=localhost no-vhost
cache_peer 127.0.0.1 parent $ORIGIN 0 no-query no-digest originserver default name=myAccel
cache_peer_access myAccel allow all
http_access allow all
shutdown_lifetime 1 second
connect_retries 3
pid_filename $d/squid.pid
cache_log $d/cache.log
access_log none
cache_store_log none
coredump_dir $d
cache_mem 256 MB
SQUID
		timeout "$SERVER_TIMEOUT" squid -N -f "$d/squid.conf" >"$d/log" 2>&1 &
		;;
	varnish)
		timeout "$SERVER_TIMEOUT" varnishd -F -j none -n "$d/n" -a 127.0.0.1:$port -b 127.0.0.1:$ORIGIN -T none -s malloc,256m >"$d/log" 2>&1 &
		;;
	esac
	PIDS+=($!)
	CACHE_PID=$!
}

RESULTS=()
for name in $CACHES; do
	case $name in
	nginx | squid | varnish)
		bin=$name; [ $name = varnish ] && bin=varnishd
		if ! command -v $bin >/dev/null; then echo "# $name not installed: skipped" >&2; continue; fi
		;;
	esac
	port=$(free_port)
	start_cache "$name" "$port"
	wait_port "$port"
	out="$WORK/results/cachetests-$name-$(date +%Y%m%d-%H%M%S).json"
	# The client can linger on open sockets after printing (seen with
	# Squid): it is stopped once its JSON is complete.
	(cd "$CT" && npm_config_base=http://127.0.0.1:$port npm_config_id= npm_package_config_id= \
		timeout 300 node --no-warnings "$SUITE/cli.mjs" >"$out") || true
	kill "$CACHE_PID" 2>/dev/null || true
	wait "$CACHE_PID" 2>/dev/null || true
	RESULTS+=("$out")
done

echo "## this run"
node "$REPO/bench/web/cachetests_score.mjs" "$SUITE" "${RESULTS[@]}" ${GROUPS_FLAG:-}
echo "## published in the package (older versions of the references)"
node "$REPO/bench/web/cachetests_score.mjs" "$SUITE" "$SUITE"/results/{squid,varnish,nginx,trafficserver}.json
