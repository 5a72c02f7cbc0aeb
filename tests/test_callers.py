"""The programs that really call sendmail, driving the built binary as
/usr/sbin/sendmail (bind-mounted in a private mount namespace, with our
test config as /etc/ssmtp), and what the hub received from them."""
import email
import email.policy
import os
import shutil
import subprocess
import time

import pytest

NS_SCRIPT = r'''
set -e
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    mount --bind "$1" "$2"; shift 2
done
shift
exec "$@"
'''


def run_ns(binds, cmd, data=None, timeout=120, env=None, pid_ns=False):
    """Run cmd with each (source, target) bind-mounted; returns the process."""
    args = ["unshare", "-m"] + (["-p", "-f", "--mount-proc"] if pid_ns else [])
    args += ["sh", "-c", NS_SCRIPT, "ns"]
    for src, dst in binds:
        args += [str(src), str(dst)]
    args += ["--"] + list(cmd)
    e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
         "ASAN_OPTIONS": "detect_leaks=1"}
    e.update(env or {})
    return subprocess.run(args, input=data, capture_output=True, timeout=timeout, env=e)


@pytest.fixture
def as_sendmail(ssmtp, tmp_path):
    """Binds that make the binary under test /usr/sbin/sendmail.  A wrapper
    adds -C for the test config (this machine may have no /etc/ssmtp to
    mount over) and passes the caller's arguments through untouched."""
    wrapper = tmp_path / "sendmail"
    wrapper.write_text('#!/bin/sh\nexec "%s" -C "%s" "$@"\n'
                       % (ssmtp.binary, ssmtp.conf_path))
    os.chmod(wrapper, 0o755)
    return [(wrapper, "/usr/sbin/sendmail")]


def body_lf(msg):
    """A text body with the CRLF of the wire turned back into LF."""
    return msg.get_content().replace("\r\n", "\n")


def parsed(m):
    return email.message_from_bytes(m["content"], policy=email.policy.default)


def test_debian_cron(ssmtp, hub, tmp_path, as_sendmail):
    h = hub("starttls")
    ssmtp.conf(h, RewriteDomain="example.net")
    crond = tmp_path / "cron.d"
    crond.mkdir()
    (crond / "ssmtp-test").write_text(
        "MAILTO=ops@example.org\n* * * * * root echo cron-output-%d\n" % os.getpid())
    os.chmod(crond / "ssmtp-test", 0o644)
    (tmp_path / "crontab").write_text("")
    (tmp_path / "crontabs").mkdir()
    binds = as_sendmail + [(crond, "/etc/cron.d"), (tmp_path / "crontab", "/etc/crontab"),
                           (tmp_path / "crontabs", "/var/spool/cron/crontabs")]
    # cron runs jobs on the minute: wait for the mail, at most 75 s.
    wait = ("cron -f -L 15 & i=0; while [ $i -lt 750 ] && "
            "! [ -e %s ]; do sleep 0.1; i=$((i+1)); done" % (tmp_path / "done"))
    proc = subprocess.Popen(
        ["unshare", "-m", "-p", "-f", "--mount-proc", "sh", "-c", NS_SCRIPT, "ns"]
        + [str(x) for b in binds for x in b] + ["--", "sh", "-c", wait],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 80
        while not h.messages and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        (tmp_path / "done").write_text("")
        proc.wait(20)
    assert len(h.messages) == 1, proc.stdout.read()
    m = h.messages[0]
    assert m["rcpt_tos"] == ["ops@example.org"]
    assert m["mail_from"] == "root@example.net"
    msg = parsed(m)
    # cron's "From: root (Cron Daemon)" is not qualified; with sSMTP's
    # default FromLineOverride=NO it becomes the user's own address, named
    # by -FCronDaemon.
    assert msg["From"] == "CronDaemon <root@example.net>"
    assert msg["Subject"].startswith("Cron <root@")
    assert body_lf(msg) == "cron-output-%d\n" % os.getpid()
    assert "BODY=8BITMIME" not in m["mail_options"]   # the body is ASCII


def test_cron_invocation_with_from_line_override(ssmtp, hub):
    # What cron sends, exactly, with FromLineOverride=YES: the bare
    # "root (Cron Daemon)" is qualified, keeping a display name.
    h = hub("starttls")
    ssmtp.conf(h, RewriteDomain="example.net", FromLineOverride="YES")
    msg = (b"From: root (Cron Daemon)\nTo: ops@example.org\n"
           b"Subject: Cron <root@vm> run-parts\nMIME-Version: 1.0\n"
           b"Content-Type: text/plain; charset=UTF-8\n"
           b"Content-Transfer-Encoding: 8bit\nX-Cron-Env: <SHELL=/bin/sh>\n\n"
           + "r\u00e9sultat\n".encode())
    r = ssmtp.run(["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "ops@example.org"], msg)
    assert r.rc == 0, r
    m = h.messages[0]
    assert m["mail_from"] == "root@example.net"
    assert parsed(m)["From"] == "CronDaemon <root@example.net>"
    assert "BODY=8BITMIME" in m["mail_options"]
    assert m["content"].count(b"\r\nFrom:") + m["content"].startswith(b"From:") == 1


def test_t_without_from(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, RewriteDomain="example.net")
    r = ssmtp.run(["-t"], b"To: a@example.org\nSubject: no from\n\nbody\n")
    assert r.rc == 0, r
    msg = parsed(h.messages[0])
    assert msg["From"] == "root <root@example.net>"
    assert msg["Date"] and msg["Message-ID"]


def test_bsd_mailx(ssmtp, hub, as_sendmail):
    h = hub("starttls")
    ssmtp.conf(h, RewriteDomain="example.net")
    p = run_ns(as_sendmail, ["mail", "-s", "mailx subject", "user@example.org"],
               data=b"hello from mailx\n")
    assert p.returncode == 0, p.stderr
    assert len(h.messages) == 1
    m = h.messages[0]
    assert m["rcpt_tos"] == ["user@example.org"]
    msg = parsed(m)
    assert msg["Subject"] == "mailx subject"
    assert body_lf(msg) == "hello from mailx\n"


def test_git_send_email(ssmtp, hub, tmp_path):
    h = hub("starttls")
    ssmtp.conf(h, FromLineOverride="YES")
    repo = tmp_path / "repo"
    env = dict(os.environ, GIT_AUTHOR_NAME="Dev", GIT_AUTHOR_EMAIL="dev@example.org",
               GIT_COMMITTER_NAME="Dev", GIT_COMMITTER_EMAIL="dev@example.org",
               HOME=str(tmp_path))
    git = lambda *a: subprocess.run(["git", "-C", str(repo)] + list(a), check=True,
                                    capture_output=True, env=env, timeout=60)
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env, timeout=60)
    (repo / "file.txt").write_text("one\n.two\n")
    git("add", "file.txt")
    git("commit", "-q", "-m", "Add file\n\nA line starting with a dot follows.")
    git("format-patch", "-1", "-o", str(tmp_path / "out"))
    patch = next((tmp_path / "out").iterdir())
    p = subprocess.run(
        ["git", "-C", str(repo), "send-email", "--confirm=never", "--quiet",
         "--smtp-server=%s" % ssmtp.binary,
         "--smtp-server-option=-C%s" % ssmtp.conf_path,
         "--from=Dev <dev@example.org>", "--to=list@example.org",
         "--envelope-sender=bounces@example.org", str(patch)],
        capture_output=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    m = h.messages[0]
    assert m["mail_from"] == "bounces@example.org"      # -f, not From
    # git adds the patch's author as a Cc recipient on its command line.
    assert sorted(m["rcpt_tos"]) == ["dev@example.org", "list@example.org"]
    msg = parsed(m)
    assert msg["From"] == "Dev <dev@example.org>"
    assert msg["Subject"] == "[PATCH] Add file"
    assert "+one\n+.two\n" in body_lf(msg)


def test_php_mail(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, FromLineOverride="YES")
    code = ('exit(mail("to@example.org", "PHP subject", "line1\\nline2\\n.dot\\n", '
            '"From: Site <site@example.com>\\r\\nX-Mailer: PHP", "-fbounce@example.com") ? 0 : 1);')
    p = subprocess.run(["php", "-d", "sendmail_path=%s -C %s -t -i" % (ssmtp.binary, ssmtp.conf_path),
                        "-r", code], capture_output=True, timeout=60,
                       env={"PATH": os.environ["PATH"], "HOME": str(ssmtp.home)})
    assert p.returncode == 0, (p.stdout, p.stderr)
    m = h.messages[0]
    assert m["mail_from"] == "bounce@example.com"
    assert m["rcpt_tos"] == ["to@example.org"]
    c = m["content"]
    assert b"\r\r" not in c
    msg = parsed(m)
    assert msg["From"] == "Site <site@example.com>"
    assert msg["Subject"] == "PHP subject"
    assert body_lf(msg).startswith("line1\nline2\n.dot\n")
