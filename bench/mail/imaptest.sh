#!/usr/bin/env bash
# Dovecot's imaptest against applayer's IMAP server: the scripted tests
# (71 groups) and, with --stress SECS, the stress mode (20 clients, one
# mailbox). Builds imaptest's release-2.3 branch into DIR (default
# /tmp/imaptest) against Debian's dovecot-dev 2.3.19 when it is missing:
#   apt-get install -y dovecot-dev autoconf automake libtool pkg-config
# (a one-line fix: Debian's security update gave imap_parser_create a 4th
# argument). Binds 127.0.0.1 only; removes its data directory.
# Usage: bench/mail/imaptest.sh [--stress SECS] [DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
STRESS=""
if [ "${1:-}" = "--stress" ]; then STRESS=$2; shift 2; fi
DIR=${1:-/tmp/imaptest}
if [ ! -x "$DIR/src/imaptest" ]; then
  git clone -q -b release-2.3 https://github.com/dovecot/imaptest "$DIR"
  (cd "$DIR" && sed -i 's/imap_parser_create(\([^;]*\), (size_t)-1);/imap_parser_create(\1, (size_t)-1, NULL);/' \
      src/commands.c src/imap-client.c src/test-parser.c &&
    ./autogen.sh && ./configure --with-dovecot=/usr/lib/dovecot && make -j2) > /dev/null
fi
T=$(mktemp -d)
trap 'kill $(cat "$T/pid") 2>/dev/null || true; sleep 0.5; rm -rf "$T"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
go build -o "$T/applayer" ./cmd/applayer
# imaptest logs in again and again: a cheap hash, as Dovecot's test setups use.
mkdir -p "$T/data"; go run ./bench/mail/bcrypthash bob@hamburger.edu pass 4 > "$T/data/users"
timeout 3600 "$T/applayer" mail serve --domain hamburger.edu --data "$T/data" --listen "" --submission "" \
  --imap 127.0.0.1:$PORT --log-level warn & echo $! > "$T/pid"
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
export LD_LIBRARY_PATH=/usr/lib/dovecot
if [ -n "$STRESS" ]; then
  "$DIR/src/imaptest" host=127.0.0.1 port=$PORT user=bob pass=pass mbox="$DIR/src/tests/default.mbox" clients=20 secs=$STRESS 2>&1 | tail -8
  exit 0
fi
"$DIR/src/imaptest" host=127.0.0.1 port=$PORT user=bob pass=pass test="$DIR/src/tests" 2>&1 | tail -4
