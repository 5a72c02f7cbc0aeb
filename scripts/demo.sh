#!/bin/sh
# make demo: send one message through a throwaway smarthub on loopback with
# STARTTLS and AUTH, show the SMTP dialogue and what the hub received.
# Leaves nothing running and nothing behind.
set -eu

PYTHON=${PYTHON:-/usr/bin/python3}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ssmtp-demo.XXXXXX")
hub_pid=""

cleanup() {
	[ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null && wait "$hub_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "== making a throwaway test CA and a certificate for 127.0.0.1"
sh "$top/tests/mkcerts.sh" "$work/certs"

echo "== starting a smarthub on loopback (aiosmtpd: STARTTLS required, AUTH PLAIN/LOGIN)"
"$PYTHON" "$top/tests/hub.py" --certs "$work/certs" --mode starttls \
    --user demo --password 'demo-secret' \
    --portfile "$work/port" --out "$work/received" &
hub_pid=$!
i=0
while [ ! -s "$work/port" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$hub_pid" 2>/dev/null; then
		echo "the demo hub did not start" >&2
		exit 1
	fi
	sleep 0.1
done
port=$(cat "$work/port")

# It holds AuthPass: private, as a real one must be.
(umask 077; cat > "$work/demo.conf") <<EOC
# Written by make demo.
Mailhub=127.0.0.1:$port
UseSTARTTLS=YES
TLS_CA_File=$work/certs/ca.crt
AuthUser=demo
AuthPass=demo-secret
Hostname=demo.client.test
RewriteDomain=example.net
EOC
echo "== $work/demo.conf:"
sed 's/^AuthPass=.*/AuthPass=********/' "$work/demo.conf"

echo
echo "== printf '...' | ./ssmtp -C demo.conf -v someone@example.org"
status=0
printf 'Subject: Hello from ssmtp\nTo: someone@example.org\n\nThis message went through STARTTLS and AUTH.\n.A line starting with a dot arrives intact.\n' |
    "$top/ssmtp" -C "$work/demo.conf" -v someone@example.org || status=$?
echo "== ssmtp exited with $status"

# The hub writes what it received within a moment.
i=0
while [ ! -s "$work/received" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
echo
echo "== the message as the hub received it:"
cat "$work/received" 2>/dev/null || echo "(nothing received)"
exit "$status"
