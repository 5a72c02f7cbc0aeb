#!/bin/sh
# Install the Debian packages that building, the demo and the tests need.
# As root: apt-get installs what is missing.  Otherwise: print the exact
# command and stop, so nothing fails later for a missing tool.
set -eu

PKGS="gcc make pkg-config libc6-dev libssl-dev libbsd-dev openssl ca-certificates
python3 python3-pytest python3-aiosmtpd mandoc"

missing=""
for p in $PKGS; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "ssmtp: these Debian packages are needed:$missing" >&2
	echo "Run as root:  apt-get install -y$missing" >&2
	exit 1
fi
echo "Installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
