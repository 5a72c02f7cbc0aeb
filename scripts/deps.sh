#!/bin/sh
# Install the Debian packages that building, the demo and the tests need.
# As root: apt-get installs what is missing.  Otherwise: print the exact
# command and stop, so nothing fails later for a missing tool.
set -eu

BUILD_PKGS="gcc make pkg-config libc6-dev libssl-dev libbsd-dev"

# A plain `make`: never installs; names what is missing instead of a
# compiler or linker error.
if [ "${1:-}" = build ]; then
	if ${PKG_CONFIG:-pkg-config} --exists libcrypto libssl libbsd-overlay \
	    2>/dev/null && command -v "${CC:-cc}" >/dev/null 2>&1; then
		exit 0
	fi
	missing=""
	for p in $BUILD_PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q "install ok installed" || missing="$missing $p"
	done
	echo "ssmtp: cannot build: the C compiler, pkg-config, or the OpenSSL or" >&2
	echo "libbsd headers are missing.  On Debian:" >&2
	echo "  apt-get install -y${missing:- $BUILD_PKGS}" >&2
	exit 1
fi

PKGS="$BUILD_PKGS openssl ca-certificates
clang libclang-rt-14-dev
python3 python3-pytest python3-aiosmtpd mandoc iproute2 util-linux postfix sasl2-bin libsasl2-modules
cron bsd-mailx git git-email libmailtools-perl php-cli php-symfony-mailer
debhelper dpkg-dev fakeroot lintian mmdebstrap"
# make deb: only what building the package needs.
[ "${1:-}" = deb ] && PKGS="$BUILD_PKGS debhelper dpkg-dev fakeroot"
# make bench also measures with valgrind and strace.
[ "${1:-}" = bench ] && PKGS="$PKGS valgrind strace time iproute2"

missing=""
for p in $PKGS; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

# Installing postfix would remove another MTA (exim4, say): never do that
# behind the user's back.
case "$missing" in
*" postfix"*)
	other=$(dpkg-query -W -f='${Package} ${Status} ${Provides}\n' 2>/dev/null |
	    awk '/install ok installed/ && /mail-transport-agent/ && $1 != "postfix" { print $1 }')
	if [ -n "$other" ]; then
		echo "ssmtp: the real-smarthub tests need Debian's postfix package, which" >&2
		echo "would replace the installed MTA ($other). Install postfix yourself" >&2
		echo "if that is fine here: apt-get install postfix sasl2-bin" >&2
		exit 1
	fi ;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "ssmtp: these Debian packages are needed:$missing" >&2
	echo "Run as root:  apt-get install -y$missing" >&2
	exit 1
fi
echo "Installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Postfix is only a test smarthub (tests/postfix.py runs its own instance):
# install it unconfigured, and never started as the system's MTA.
echo "postfix postfix/main_mailer_type select No configuration" |
	debconf-set-selections
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
