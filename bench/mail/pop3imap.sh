#!/usr/bin/env bash
# POP3 and IMAP beside a private Dovecot, in the same run, on 127.0.0.1:
#   1. POP3: RETR of every message of a 200-message mailbox (median of REPS
#      sessions, login timed apart: applayer checks a bcrypt hash, the
#      Dovecot instance a static password);
#   2. imaptest stress: CLIENTS clients for SECS seconds on one mailbox:
#      commands per second and error lines; applayer twice, with the users
#      file's bcrypt cost 10 (the default) and with cost 4, since imaptest
#      logs in again and again and Dovecot's static passdb hashes nothing;
#   3. memory per idle IMAP connection: IDLE_CONNS sessions logged in with
#      INBOX selected, RSS growth of the server's processes per session.
# Needs root (Dovecot drops to uid 65534), Debian's dovecot-imapd,
# dovecot-pop3d and, for the stress run, imaptest built from source against
# dovecot-dev (IMAPTEST=path; see build_imaptest below).
# Usage: bench/mail/pop3imap.sh [REPS] [CLIENTS] [SECS] [IDLE_CONNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
REPS=${1:-7} CLIENTS=${2:-20} SECS=${3:-20} IDLE_CONNS=${4:-200}
IMAPTEST=${IMAPTEST:-/tmp/imaptest/src/imaptest}
T=$(mktemp -d /tmp/pop3imap-bench.XXXXXX); chmod 755 "$T"
cleanup() { for p in $(cat "$T"/*.pid 2>/dev/null); do kill "$p" 2>/dev/null || true; done; sleep 0.5; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
AP_POP=$(free_port) AP_IMAP=$(free_port) DV_POP=$(free_port) DV_IMAP=$(free_port)

build_imaptest() { # release-2.3 against Debian's dovecot-dev 2.3.19 (+ the 4th argument of imap_parser_create)
  git clone -q -b release-2.3 https://github.com/dovecot/imaptest "$1" && cd "$1" &&
  sed -i 's/imap_parser_create(\([^;]*\), (size_t)-1);/imap_parser_create(\1, (size_t)-1, NULL);/' src/commands.c src/imap-client.c src/test-parser.c &&
  ./autogen.sh && ./configure --with-dovecot=/usr/lib/dovecot && make -j2
}

go build -o "$T/applayer" ./cmd/applayer
echo pass | "$T/applayer" mail user add --data "$T/ap" bob@hamburger.edu 2>/dev/null
mkdir -p "$T/ap4"; go run ./bench/mail/bcrypthash bob@hamburger.edu pass 4 > "$T/ap4/users"
AP4_IMAP=$(free_port)
mkdir -p "$T/dv/run" "$T/dv/state" "$T/dv/mail" "$T/dv/home"
cat > "$T/dv/dovecot.conf" <<CONF
base_dir = $T/dv/run
log_path = $T/dv/dovecot.log
state_dir = $T/dv/state
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_max_userip_connections = 10000
mail_location = maildir:$T/dv/mail/%n
first_valid_uid = 1
mail_uid = 65534
mail_gid = 65534
passdb {
  driver = static
  args = password=pass
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$T/dv/home/%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DV_IMAP
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $DV_POP
  }
  inet_listener pop3s {
    port = 0
  }
}
CONF

# The same 200 messages (2-20 KiB) in both Maildirs.
python3 - "$T/ap/mail/hamburger.edu/bob" "$T/dv/mail/bob" <<'PY'
import os, sys, random
random.seed(1)
for d in sys.argv[1:]:
    for s in ("tmp", "new", "cur"): os.makedirs(os.path.join(d, s), exist_ok=True)
for i in range(200):
    body = "".join("line %d of message %d %s\r\n" % (j, i, "x" * random.randint(10, 70)) for j in range(random.randint(40, 400)))
    m = ("From: alice@crepes.fr\r\nTo: bob@hamburger.edu\r\nSubject: message %d\r\n\r\n" % i + body).encode()
    for d in sys.argv[1:]:
        open(os.path.join(d, "new", "%d.M%dP1.bench,S=%d" % (1700000000 + i, i, len(m))), "wb").write(m)
PY
chown -R 65534:65534 "$T/dv"
timeout 1800 /usr/sbin/dovecot -F -c "$T/dv/dovecot.conf" & echo $! > "$T/dovecot.pid"
timeout 1800 "$T/applayer" mail serve --domain hamburger.edu --data "$T/ap" --listen "" --submission "" \
  --pop3 127.0.0.1:$AP_POP --imap 127.0.0.1:$AP_IMAP --log-level warn & echo $! > "$T/applayer.pid"
timeout 1800 "$T/applayer" mail serve --domain hamburger.edu --data "$T/ap4" --listen "" --submission "" \
  --imap 127.0.0.1:$AP4_IMAP --log-level warn & echo $! > "$T/applayer4.pid"
for p in $AP_POP $AP_IMAP $DV_POP $DV_IMAP $AP4_IMAP; do
  for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done
done
echo "load1 at start: $(cut -d' ' -f1 /proc/loadavg)"

echo "== POP3: RETR of 200 messages, $REPS sessions each, alternating"
python3 - $REPS $AP_POP $DV_POP <<'PY'
import poplib, statistics, sys, time
reps, ap, dv = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
res = {"applayer": [], "dovecot": []}
login = {"applayer": [], "dovecot": []}
octets = {}
for r in range(reps):
    for name, port, user in (("applayer", ap, "bob@hamburger.edu"), ("dovecot", dv, "bob")):
        t0 = time.perf_counter()
        p = poplib.POP3("127.0.0.1", port, timeout=60)
        p.user(user); p.pass_("pass")
        t1 = time.perf_counter()
        n, size = p.stat()
        got = 0
        for i in range(1, n + 1):
            got += sum(len(l) + 2 for l in p.retr(i)[1])
        p.quit()
        t2 = time.perf_counter()
        login[name].append(t1 - t0); res[name].append(t2 - t1); octets[name] = (n, size, got)
for name in res:
    m = statistics.median(res[name])
    print("%-9s %d messages, %d octets: median %.1f ms (%.0f msg/s), login median %.1f ms" % (
        name, octets[name][0], octets[name][1], m * 1000, octets[name][0] / m, statistics.median(login[name]) * 1000))
print("applayer/dovecot RETR time ratio: %.2f (below 1: applayer faster)" % (
    statistics.median(res["applayer"]) / statistics.median(res["dovecot"])))
PY

if [ -x "$IMAPTEST" ]; then
  echo "== imaptest stress: $CLIENTS clients, ${SECS}s, one mailbox"
  for s in "applayer $AP_IMAP bob@hamburger.edu" "applayer-bcrypt4 $AP4_IMAP bob@hamburger.edu" "dovecot $DV_IMAP bob"; do
    set -- $s
    out=$(LD_LIBRARY_PATH=/usr/lib/dovecot timeout $((SECS + 60)) "$IMAPTEST" host=127.0.0.1 port=$2 user=$3 pass=pass \
      mbox="$(dirname "$IMAPTEST")/tests/default.mbox" clients=$CLIENTS secs=$SECS 2>&1 || true)
    total=$(echo "$out" | awk '/^Totals:/{t=1;next} t&&NF>=11&&$1~/^[0-9]+$/{s=0;for(i=1;i<=NF;i++)s+=$i;print s;exit}')
    errors=$(echo "$out" | grep -ci 'error' || true)
    echo "$1: $total commands in ${SECS}s = $(( ${total:-0} / SECS )) commands/s, $errors error lines"
  done
else
  echo "== imaptest stress skipped: no $IMAPTEST (build_imaptest DIR builds it)"
fi

echo "== memory per idle IMAP connection: $IDLE_CONNS sessions with INBOX selected"
rss() { # total RSS in KiB of the given processes and their children
  local t=0; for p in $(pgrep -g "$(ps -o pgid= "$1" | tr -d ' ')" 2>/dev/null || echo "$1"); do
    r=$(awk '/VmRSS/{print $2}' /proc/$p/status 2>/dev/null || echo 0); t=$((t + ${r:-0})); done; echo $t; }
for s in "applayer $AP_IMAP bob@hamburger.edu $(cat "$T/applayer.pid")" "dovecot $DV_IMAP bob $(cat "$T/dovecot.pid")"; do
  set -- $s
  pid=$(pgrep -P "$4" | head -1); [ -n "$pid" ] || pid=$4
  before=$(rss "$pid")
  python3 - $2 $3 $IDLE_CONNS "$T/hold.$1" <<'PY' &
import imaplib, os, sys, time
port, user, n, flag = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
cs = []
for i in range(n):
    m = imaplib.IMAP4("127.0.0.1", port, timeout=60); m.login(user, "pass"); m.select("INBOX"); cs.append(m)
open(flag, "w").close()
while os.path.exists(flag): time.sleep(0.2)
PY
  hold=$!
  for i in $(seq 600); do [ -e "$T/hold.$1" ] && break; sleep 0.2; done
  sleep 1
  after=$(rss "$pid")
  rm -f "$T/hold.$1"; wait $hold || true
  echo "$1: RSS $before KiB -> $after KiB: $(( (after - before) / IDLE_CONNS )) KiB per idle connection"
done
echo "load1 at end: $(cut -d' ' -f1 /proc/loadavg)"
