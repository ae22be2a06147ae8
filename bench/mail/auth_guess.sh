#!/usr/bin/env bash
# Password guessing across sessions: 50 parallel connections from 127.0.0.1
# each try one wrong password (STARTTLS, AUTH PLAIN) against
# `applayer mail serve`'s submission port, and the script counts the
# answers given within 5 s and in all. Loopback only; every client gives
# up after 40 s; the server and the temporary directory are removed.
# Usage: bench/mail/auth_guess.sh    Needs: Go, python3.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/applayer-bench-auth.XXXXXX)
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
go build -o "$tmp/applayer" "$repo/cmd/applayer"
echo pw | "$tmp/applayer" mail user add --data "$tmp/m" alice@crepes.fr >/dev/null 2>&1
"$tmp/applayer" mail serve --domain crepes.fr --data "$tmp/m" --listen "" --submission 127.0.0.1:$port --log-level warn & pid=$!
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
python3 - "$port" <<'EOF'
import base64, collections, smtplib, ssl, sys, threading, time
port = int(sys.argv[1])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
t0 = time.time(); early, every = collections.Counter(), collections.Counter(); lock = threading.Lock()
def one(i):
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=40); s.starttls(context=ctx); s.ehlo("guesser")
        code, _ = s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0alice@crepes.fr\0guess%d" % i).decode())
    except Exception as e:
        code = type(e).__name__
    with lock:
        every[code] += 1
        if time.time() - t0 <= 5:
            early[code] += 1
ts = [threading.Thread(target=one, args=(i,)) for i in range(50)]
[t.start() for t in ts]; [t.join() for t in ts]
print("answers within 5 s:", dict(early), "in all:", dict(every), "last after %.1f s" % (time.time() - t0))
EOF
