"""The Debian pattern for a protected password: ssmtp.conf mode 0640
root:mail and the binary setgid mail.  Run as an ordinary user (nobody)
in a private mount namespace whose /etc is an overlay holding our
/etc/ssmtp; the machine's /etc is not touched."""
import grp
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

SCRIPT = r'''
set -e
mount -t overlay overlay -o lowerdir=/etc,upperdir="$1/upper",workdir="$1/work" /etc
mkdir -p /etc/ssmtp
cp "$1/ssmtp.conf" /etc/ssmtp/ssmtp.conf
chown root:mail /etc/ssmtp/ssmtp.conf
chmod 0640 /etc/ssmtp/ssmtp.conf
# Debian's layout: the folder and every file in it root:mail, 0750/0640.
for f in "$1"/etc-ssmtp/*; do
    [ -e "$f" ] || continue
    cp "$f" /etc/ssmtp/
    chown root:mail "/etc/ssmtp/${f##*/}"
    chmod 0640 "/etc/ssmtp/${f##*/}"
done
chown root:mail /etc/ssmtp
chmod 0750 /etc/ssmtp
shift
exec setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
'''


@pytest.fixture
def sgid(ssmtp, tmp_path):
    """A world-traversable folder with a setgid-mail copy of the binary
    and a home for nobody."""
    if "asan" in str(ssmtp.binary):
        # A setgid process cannot read its own /proc/self/environ or be
        # traced, so LeakSanitizer aborts it whatever ASAN_OPTIONS says.
        pytest.skip("LeakSanitizer cannot run in a setgid process")
    d = tempfile.mkdtemp(prefix="ssmtp-sgid.")
    os.chmod(d, 0o755)
    for sub in ("upper", "work", "etc-ssmtp"):
        os.mkdir(os.path.join(d, sub))
    binary = os.path.join(d, "ssmtp")
    shutil.copy(ssmtp.binary, binary)
    os.chown(binary, 0, grp.getgrnam("mail").gr_gid)
    os.chmod(binary, 0o2755)
    home = os.path.join(d, "home")
    os.mkdir(home)
    nobody = pwd.getpwnam("nobody")
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    yield d, binary, home
    shutil.rmtree(d, ignore_errors=True)


def nobody_cmd(d, binary, conf_text, args):
    with open(os.path.join(d, "ssmtp.conf"), "w") as f:
        f.write(conf_text)
    return ["unshare", "-m", "sh", "-c", SCRIPT, "sgid", d, binary] + args


def run_as_nobody(d, binary, home, conf_text, args, data):
    return subprocess.run(nobody_cmd(d, binary, conf_text, args), input=data,
                          capture_output=True, timeout=60,
                          env={"PATH": os.environ["PATH"], "HOME": home})


def test_setgid_reads_protected_config_and_ignores_overrides(ssmtp, hub, sgid, tmp_path):
    d, binary, home = sgid
    h = hub("starttls")
    ca = os.path.join(d, "ca.crt")          # readable by nobody
    shutil.copy(ssmtp.certs / "ca.crt", ca)
    os.chmod(ca, 0o644)
    conf_text = ssmtp.conf(h, RewriteDomain="example.net", TLS_CA_File=ca,
                           Revaliases=None).read_text()
    other = tmp_path / "evil.conf"
    other.write_text("Mailhub=127.0.0.1:1\n")
    p = run_as_nobody(d, binary, home, conf_text,
                      ["-C", str(other), "-auuser", "-apwrong", "a@example.org"],
                      b"Subject: sgid\n\nx\n")
    err = p.stderr.decode()
    assert p.returncode == 0, err
    assert "ignoring -C" in err and "ignoring -au" in err
    assert len(h.messages) == 1
    assert h.messages[0]["login"] == "user"            # from the protected file
    assert h.messages[0]["mail_from"] == "nobody@example.net"


def test_setgid_dead_letter_written_as_the_user(ssmtp, sgid, closed_port):
    d, binary, home = sgid
    conf_text = "Mailhub=127.0.0.1:%d\nHostname=client.test\nAuthUser=user\nAuthPass=secret\n" % closed_port
    p = run_as_nobody(d, binary, home, conf_text, ["a@example.org"], b"Subject: dl\n\nx\n")
    assert p.returncode == 75, p.stderr
    st = os.stat(os.path.join(home, "dead.letter"))
    assert st.st_uid == pwd.getpwnam("nobody").pw_uid
    assert st.st_gid != grp.getgrnam("mail").gr_gid     # rights already dropped
    assert stat.S_IMODE(st.st_mode) == 0o600


def test_without_setgid_the_protected_config_is_unreadable(ssmtp, sgid):
    d, binary, home = sgid
    os.chmod(binary, 0o755)
    p = run_as_nobody(d, binary, home, "Mailhub=127.0.0.1:1\nAuthPass=secret\n",
                      ["a@example.org"], b"Subject: x\n\nx\n")
    assert p.returncode == 78, p.stderr
    assert b"/etc/ssmtp/ssmtp.conf" in p.stderr and b"Permission denied" in p.stderr


def test_setgid_rights_gone_for_good(ssmtp, sgid, silent_server):
    """After the drop the real, effective, saved and file-system group
    IDs are all the user's: no later bug can setegid(mail) back."""
    d, binary, home = sgid
    conf_text = ("Mailhub=127.0.0.1:%d\nHostname=client.test\nTimeout=8\n"
                 "AuthUser=user\nAuthPass=secret\n" % silent_server.port)
    p = subprocess.Popen(nobody_cmd(d, binary, conf_text, ["a@example.org"]),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE,
                         env={"PATH": os.environ["PATH"], "HOME": home})
    try:
        p.stdin.write(b"Subject: x\n\nx\n")
        p.stdin.close()
        deadline = time.monotonic() + 20
        while not silent_server.conns and time.monotonic() < deadline:
            time.sleep(0.05)
        assert silent_server.conns, "ssmtp never connected"
        with open("/proc/%d/status" % p.pid) as f:
            status = dict(l.split(":", 1) for l in f.read().splitlines())
        nogroup = grp.getgrnam("nogroup").gr_gid
        nobody = pwd.getpwnam("nobody").pw_uid
        assert status["Name"].strip() == "ssmtp"
        assert status["Gid"].split() == [str(nogroup)] * 4, status["Gid"]
        assert status["Uid"].split() == [str(nobody)] * 4, status["Uid"]
        assert str(grp.getgrnam("mail").gr_gid) not in status["Groups"].split()
    finally:
        p.kill()
        p.wait(timeout=20)
        p.stdout.close()
        p.stderr.close()


def test_setgid_reads_protected_tls_files(ssmtp, hub, sgid):
    """The CA file, client certificate and key kept in /etc/ssmtp (0640
    root:mail) are read before the rights go."""
    d, binary, home = sgid
    h = hub("starttls", client_ca=True)
    for name in ("ca.crt", "client.crt", "client.key"):
        shutil.copy(ssmtp.certs / name, os.path.join(d, "etc-ssmtp", name))
    conf_text = ssmtp.conf(h, TLS_CA_File="/etc/ssmtp/ca.crt", UseTLSCert="YES",
                           TLSCert="/etc/ssmtp/client.crt",
                           TLSKey="/etc/ssmtp/client.key",
                           Revaliases=None).read_text()
    p = run_as_nobody(d, binary, home, conf_text, ["a@example.org"],
                      b"Subject: tls files\n\nx\n")
    assert p.returncode == 0, p.stderr
    assert len(h.messages) == 1
