# Shared helpers for the web benchmarks: a scratch tree, the reference
# servers (nginx, a Go net/http file server) and applayer, all on 127.0.0.1.
# Every server runs under `timeout` and is killed when the script exits.

set -euo pipefail

WORK=${WORK:-/tmp/applayer-web-bench}
SERVER_TIMEOUT=${SERVER_TIMEOUT:-900}
mkdir -p "$WORK/bin" "$WORK/results"
PIDS=()
cleanup() {
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# make_tree DIR: 1k.html of 1 KiB, img.png of 100 KiB.
make_tree() {
	mkdir -p "$1"
	head -c 1024 /dev/zero | tr '\0' 'a' >"$1/1k.html"
	head -c 102400 /dev/urandom >"$1/img.png"
}

# free_port: a port the kernel says is free now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "port $1 never opened" >&2
	return 1
}

# build_applayer: builds the binary, or copies $APPLAYER_BIN when set.
build_applayer() {
	if [ -n "${APPLAYER_BIN:-}" ]; then
		cp "$APPLAYER_BIN" "$WORK/bin/applayer"
		return
	fi
	rm -f "$WORK/bin/applayer" # may be a wrapper script left by an earlier run
	(cd "$REPO" && go build -o "$WORK/bin/applayer" ./cmd/applayer)
}

# build_gostatic: Go's net/http file server, the stdlib baseline. It is
# written here rather than kept in the module: it is a reference, not part
# of applayer.
build_gostatic() {
	local d="$WORK/gostatic"
	mkdir -p "$d"
	cat >"$d/main.go" <<'GO'
package main

import (
	"flag"
	"log"
	"net/http"
	"time"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:8080", "")
	root := flag.String("root", ".", "")
	flag.Parse()
	srv := &http.Server{Addr: *addr, Handler: http.FileServer(http.Dir(*root)), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
GO
	[ -f "$d/go.mod" ] || (cd "$d" && go mod init gostatic >/dev/null 2>&1)
	(cd "$d" && GOFLAGS=-mod=mod go build -o "$WORK/bin/gostatic" .)
}

# Pinning (bench_static.sh -p SERVER_CPUS:LOAD_CPUS): the servers run on
# one set of CPUs and the load generator on another, so that they do not
# take turns on the same cores. Every server then sizes itself to the CPUs
# it has: nginx gets one worker per server CPU, Go's GOMAXPROCS follows the
# affinity mask.
# The prefixes are arrays, not functions, so that a server started in the
# background is a direct child ($! is its timeout, which cleanup kills).
SERVER_CPUS=${SERVER_CPUS:-}
LOAD_CPUS=${LOAD_CPUS:-}
ON_SERVER_CPUS=() ON_LOAD_CPUS=()
pin_cpus() {
	ON_SERVER_CPUS=() ON_LOAD_CPUS=()
	[ -z "$SERVER_CPUS" ] || ON_SERVER_CPUS=(taskset -c "$SERVER_CPUS")
	[ -z "$LOAD_CPUS" ] || ON_LOAD_CPUS=(taskset -c "$LOAD_CPUS")
}

# start_server NAME ROOT PORT: starts one of applayer, nginx, go.
start_server() {
	local name=$1 root=$2 port=$3
	case $name in
	applayer)
		"${ON_SERVER_CPUS[@]}" timeout "$SERVER_TIMEOUT" "$WORK/bin/applayer" web serve --root "$root" --listen 127.0.0.1:"$port" --log-level warn &
		;;
	go)
		"${ON_SERVER_CPUS[@]}" timeout "$SERVER_TIMEOUT" "$WORK/bin/gostatic" -listen 127.0.0.1:"$port" -root "$root" &
		;;
	nginx)
		local d="$WORK/nginx-$port"
		mkdir -p "$d"
		cat >"$d/nginx.conf" <<NGINX
worker_processes $("${ON_SERVER_CPUS[@]}" nproc);
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
		listen 127.0.0.1:$port;
		root $root;
	}
}
NGINX
		"${ON_SERVER_CPUS[@]}" timeout "$SERVER_TIMEOUT" nginx -c "$d/nginx.conf" -e "$d/error.log" &
		;;
	*)
		echo "unknown server $name" >&2
		return 1
		;;
	esac
	PIDS+=($!)
	wait_port "$port"
}
