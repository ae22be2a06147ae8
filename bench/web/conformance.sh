#!/usr/bin/env bash
# conformance.sh: probe_http1.py against applayer, nginx and Go's net/http
# file server, serving the same tree, in one run.
#
#   bench/web/conformance.sh [-s "applayer nginx go"]
source "$(dirname "$0")/lib.sh"

SERVERS="applayer nginx go"
while getopts s: o; do
	case $o in s) SERVERS=$OPTARG ;; *) exit 2 ;; esac
done
build_applayer
build_gostatic
make_tree "$WORK/ptree"
mkdir -p "$WORK/ptree/sub"
echo "sub index" >"$WORK/ptree/sub/index.html"
args=()
for s in $SERVERS; do
	port=$(free_port)
	start_server "$s" "$WORK/ptree" "$port"
	args+=("$s=127.0.0.1:$port")
done
python3 "$(dirname "$0")/probe_http1.py" "${args[@]}"
