#!/usr/bin/env bash
# mkzone.sh DIR: write the benchmark zone (example.test., 1000 hosts with A
# records, plus AAAA, MX, TXT, a CNAME, a 4-address RRset, a delegation with
# glue) and a dnsperf query file with 5 % of questions for missing names.
set -euo pipefail
dir=${1:?usage: mkzone.sh DIR}
mkdir -p "$dir"
{
  echo '$ORIGIN example.test.'
  echo '$TTL 3600'
  echo '@ SOA ns1 hostmaster 1 7200 3600 1209600 300'
  echo '@ NS ns1'
  echo '@ NS ns2'
  echo '@ MX 10 mail'
  echo 'ns1 A 127.0.0.1'
  echo 'ns2 A 127.0.0.2'
  echo 'mail A 192.0.2.25'
  echo 'www CNAME web'
  for i in 1 2 3 4; do echo "web A 192.0.2.8$i"; done
  echo 'txt TXT "v=spf1 mx -all"'
  echo 'sub NS ns.sub'
  echo 'ns.sub A 192.0.2.53'
  for i in $(seq 1 1000); do
    echo "host$i A 10.0.$((i / 256)).$((i % 256))"
    echo "host$i AAAA 2001:db8::$i"
  done
} > "$dir/example.test.zone"
{
  for i in $(seq 1 1000); do
    echo "host$i.example.test A"
    [ $((i % 4)) -eq 0 ] && echo "host$i.example.test AAAA"
    [ $((i % 20)) -eq 0 ] && echo "missing$i.example.test A"
  done
  for i in $(seq 1 20); do
    echo "www.example.test A"
    echo "example.test MX"
    echo "txt.example.test TXT"
    echo "x.sub.example.test A"
  done
} > "$dir/queries.txt"
