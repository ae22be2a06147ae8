#!/usr/bin/env bash
# Accepted messages per second, in one run, for three SMTP servers fed by
# Postfix's smtp-source with the same workload:
#   sink      Postfix's smtp-sink: accepts and discards (the upper bound)
#   postfix   a private Postfix instance: queue on disk (fsync before 250),
#             delivering to the discard transport
#   applayer  `applayer mail serve`: every message fsynced into the
#             recipient's Maildir (file + directory) before 250
# Everything listens on 127.0.0.1 only, every server is stopped at the end,
# and the temporary directory is removed.
#
# Usage: bench/mail/smtp_accept.sh [-m MSGS] [-s SESSIONS] [-l BYTES] [-d] [-q] [-r ROUNDS]
#   -d  reuse connections (smtp-source -d); default: a connection per message
#   -q  applayer queues every message for relay instead of storing it in a
#       Maildir: example.org is a --relay-domain whose MX (served by
#       `applayer dns serve`) is the smtp-sink; the script also reports how
#       long the queue took to drain after the last 250
# applayer runs with --pregreet-wait -1s, as the Postfix here runs without
# postscreen: the greeting wait (paid once a day per client address) is not
# what is compared.
# Needs: smtp-source and smtp-sink (Debian package postfix), Go.
set -euo pipefail

MSGS=20000 SESS=8 LEN=1024 REUSE="" ROUNDS=1 QUEUE=""
while getopts "m:s:l:dqr:" o; do
	case $o in
	m) MSGS=$OPTARG ;; s) SESS=$OPTARG ;; l) LEN=$OPTARG ;; d) REUSE=-d ;; r) ROUNDS=$OPTARG ;; q) QUEUE=1 ;;
	*) echo "usage: $0 [-m MSGS] [-s SESSIONS] [-l BYTES] [-d] [-q] [-r ROUNDS]" >&2; exit 2 ;;
	esac
done
for p in smtp-source smtp-sink postfix go; do
	command -v $p >/dev/null || { echo "missing $p (Debian package postfix / Go)" >&2; exit 1; }
done

repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/applayer-bench-mail.XXXXXX)
chmod 755 "$tmp" # Postfix daemons run as the postfix user
pids=()
PF=$tmp/postfix
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	rm -rf "$tmp"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitport() { for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }
# cpu PID...: user+system CPU seconds of the processes and their children so far.
cpu() { local t=0; for p in "$@"; do t=$(( t + $(awk '{print $14+$15+$16+$17}' /proc/$p/stat 2>/dev/null || echo 0) )); done; echo "$t"; }

go build -o "$tmp/applayer" "$repo/cmd/applayer"

# --- smtp-sink -------------------------------------------------------------
SINK=$(freeport)
smtp-sink -u postfix -c 127.0.0.1:$SINK 256 >/dev/null 2>&1 & pids+=($!); SINKPID=$!
waitport $SINK

# --- Postfix, private instance ------------------------------------------------
PFPORT=$(freeport)
mkdir -p "$PF/etc" "$PF/queue" "$PF/data"
cat >"$PF/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = bench.example
mydestination =
mynetworks = 127.0.0.0/8
relay_domains = example.org
default_transport = discard
relay_transport = discard
smtpd_relay_restrictions = permit_mynetworks, reject
alias_maps =
alias_database =
local_recipient_maps =
maillog_file = /dev/stdout
default_process_limit = 100
CF
sed -e "s/^smtp      inet  n       -       y/$PFPORT      inet  n       -       n/" \
    -e 's/^\([a-z]*\) *\(unix\|unix-dgram\|inet\|fifo\) *\([-n]\) *\([-n]\) *y /\1 \2 \3 \4 n /' \
    /etc/postfix/master.cf >"$PF/etc/master.cf"
chown postfix "$PF/data"
postfix -c "$PF/etc" check >/dev/null 2>&1 # creates the queue directories
# The master in the foreground (-d), so it is this script's child and stops with it.
/usr/lib/postfix/sbin/master -c "$PF/etc" -d >"$PF/maillog" 2>&1 & pids+=($!); PFMASTER=$!
waitport $PFPORT
pfcpu() { cpu $PFMASTER $(pgrep -P $PFMASTER | tr '\n' ' '); }

# --- applayer ------------------------------------------------------------------
AL=$(freeport)
if [ -n "$QUEUE" ]; then
	DNS=$(freeport)
	cat >"$tmp/example.org.zone" <<ZONE
\$ORIGIN example.org.
\$TTL 300
@    IN SOA ns.example.org. hostmaster.example.org. 1 3600 600 86400 300
@    IN NS  ns.example.org.
ns   IN A   127.0.0.1
@    IN MX  10 sink.example.org.
sink IN A   127.0.0.1
ZONE
	"$tmp/applayer" dns serve --zone "$tmp/example.org.zone" --listen 127.0.0.1:$DNS --log-level warn & pids+=($!)
	"$tmp/applayer" mail serve --domain bench.invalid --relay-domain example.org --data "$tmp/al" \
		--listen 127.0.0.1:$AL --submission "" --resolver 127.0.0.1:$DNS --mx-port $SINK --pregreet-wait -1s --log-level warn & pids+=($!); ALPID=$!
else
	echo pw | "$tmp/applayer" mail user add --data "$tmp/al" bench@example.org 2>/dev/null
	"$tmp/applayer" mail serve --domain example.org --data "$tmp/al" --listen 127.0.0.1:$AL --submission "" --pregreet-wait -1s --log-level warn & pids+=($!); ALPID=$!
fi
waitport $AL

run() { # name port cpu-function
	local name=$1 port=$2 c0 t0 t1 c1
	c0=$($3); t0=$(date +%s.%N)
	smtp-source $REUSE -s "$SESS" -l "$LEN" -m "$MSGS" -f sender@example.net -t bench@example.org 127.0.0.1:$port
	t1=$(date +%s.%N); c1=$($3)
	awk -v n="$name" -v m="$MSGS" -v a="$t0" -v b="$t1" -v c="$(( c1 - c0 ))" -v hz="$(getconf CLK_TCK)" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
		'BEGIN { s=b-a; cs=c/hz; printf "%-9s %6d msgs  %7.2f s  %8.0f msg/s  server CPU %6.2f s  %8.0f msg/CPU-s  load1 %s\n", n, m, s, m/s, cs, (cs>0? m/cs : 0), l }'
}

echo "# $(date -u +%FT%TZ) smtp-source ${REUSE:-(new connection per message)} -s $SESS -l $LEN -m $MSGS; applayer $([ -n "$QUEUE" ] && echo "queues for relay" || echo "stores in a Maildir"); $(nproc) cores"
for r in $(seq "$ROUNDS"); do
	run sink     $SINK "cpu $SINKPID"
	run postfix  $PFPORT pfcpu
	run applayer $AL "cpu $ALPID"
	if [ -n "$QUEUE" ]; then
		t0=$(date +%s.%N)
		while [ "$(find "$tmp/al/queue" -maxdepth 1 -name '*.q' | wc -l)" -gt 0 ]; do sleep 0.1; done
		t1=$(date +%s.%N)
		awk -v a="$t0" -v b="$t1" 'BEGIN { printf "# applayer queue drained to smtp-sink %.2f s after the last 250\n", b-a }'
	fi
done
if [ -z "$QUEUE" ]; then
	n=$(find "$tmp/al/mail/example.org/bench/new" -type f | wc -l)
	echo "# applayer stored $n messages in the Maildir (want $(( MSGS * ROUNDS )))"
fi
sleep 1
echo "# postfix queue after the run: $(find "$PF/queue/active" "$PF/queue/incoming" "$PF/queue/deferred" -type f 2>/dev/null | wc -l) files left"
