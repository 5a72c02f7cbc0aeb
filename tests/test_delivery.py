"""Never lose a message: the dead letter file, hub order and failover,
address families, and the syslog line."""
import os
import re
import socket
import stat
import subprocess
import threading

import pytest


def refused_conf(ssmtp, closed_port, **kw):
    return ssmtp.conf(Mailhub="127.0.0.1:%d" % closed_port, **kw)


def test_dead_letter_mode_and_format(ssmtp, closed_port):
    refused_conf(ssmtp, closed_port)
    data = b"Subject: a\n\nFrom here\n>From there\nend"
    r = ssmtp.run(["-f", "me@example.org", "a@example.org"], data)
    assert r.rc == 75, r
    path = ssmtp.home / "dead.letter"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first, rest = path.read_bytes().split(b"\n", 1)
    assert first.startswith(b"From me@example.org ")
    # mboxrd: one more '>' on lines matching >*From; a line end and a blank
    # line close the message.
    assert rest == b"Subject: a\n\n>From here\n>>From there\nend\n\n"


def test_dead_letter_appends(ssmtp, closed_port):
    refused_conf(ssmtp, closed_port)
    ssmtp.run(["a@example.org"], b"Subject: one\n\nfirst\n")
    ssmtp.run(["a@example.org"], b"Subject: two\n\nsecond\n")
    dl = (ssmtp.home / "dead.letter").read_bytes()
    assert dl.count(b"\nFrom ") + dl.startswith(b"From ") == 2
    assert b"first\n" in dl and b"second\n" in dl


def test_dead_letter_custom_path(ssmtp, closed_port, tmp_path):
    target = tmp_path / "kept.mbox"
    refused_conf(ssmtp, closed_port, DeadLetter=str(target))
    r = ssmtp.run(["a@example.org"], b"Subject: c\n\nx\n")
    assert r.rc == 75, r
    assert b"Subject: c" in target.read_bytes()
    assert str(target) in r.err
    assert r.dead_letter is None


def test_dead_letter_off(ssmtp, closed_port):
    refused_conf(ssmtp, closed_port, DeadLetter="NO")
    r = ssmtp.run(["a@example.org"], b"Subject: c\n\nx\n")
    assert r.rc == 75, r
    assert "not kept" in r.err
    assert r.dead_letter is None


def kept_in(r):
    m = re.search(r"message kept in (\S+)", r.err)
    assert m, r.err
    return m.group(1)


def test_dead_letter_unwritable_falls_back(ssmtp, closed_port, tmp_path):
    refused_conf(ssmtp, closed_port, DeadLetter=str(tmp_path / "no" / "such" / "dir"))
    data = b"Subject: c\n\nx\n"
    r = ssmtp.run(["a@example.org"], data)
    assert r.rc == 75, r                # the send's own failure
    assert "cannot connect" in r.err and "No such file" in r.err
    where = kept_in(r)
    assert os.path.dirname(where) == str(ssmtp.tmp)     # $TMPDIR
    assert data in open(where, "rb").read()


def test_dead_letter_nowhere_is_74(ssmtp, closed_port, tmp_path):
    refused_conf(ssmtp, closed_port, DeadLetter=str(tmp_path / "no" / "such" / "dir"))
    r = ssmtp.run(["a@example.org"], b"Subject: c\n\nx\n",
                  env={"TMPDIR": str(tmp_path / "nor" / "this")})
    assert r.rc == 74, r
    assert "could not keep the message" in r.err
    assert "cannot connect" in r.err    # the first error is still told


def test_dead_letter_symlink_refused(ssmtp, closed_port, tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    os.symlink(victim, ssmtp.home / "dead.letter")
    refused_conf(ssmtp, closed_port)
    data = b"Subject: c\n\nx\n"
    r = ssmtp.run(["a@example.org"], data)
    assert r.rc == 75, r
    assert "symbolic link" in r.err
    assert victim.read_bytes() == b"precious\n"
    assert data in open(kept_in(r), "rb").read()


def test_dead_letter_without_home(ssmtp, closed_port):
    fallback = "/var/tmp/dead.letter.%d" % os.getuid()
    existed = os.path.exists(fallback)
    before = os.path.getsize(fallback) if existed else 0
    refused_conf(ssmtp, closed_port)
    marker = b"no-home-%d" % os.getpid()
    try:
        # Without TMPDIR the fall back is /var/tmp.
        r = ssmtp.run(["a@example.org"], b"Subject: h\n\n" + marker + b"\n",
                      env={"HOME": "/nonexistent/home", "TMPDIR": ""})
        assert r.rc == 75, r
        assert fallback in r.err
        with open(fallback, "rb") as f:
            f.seek(before)
            assert marker in f.read()
    finally:
        if not existed and os.path.exists(fallback):
            os.unlink(fallback)


def test_dead_letter_concurrent_writers(ssmtp, closed_port):
    refused_conf(ssmtp, closed_port)
    bodies = [b"Subject: w%d\n\n" % i + (b"%d" % i) * 20000 + b"\n" for i in range(6)]
    results = [None] * len(bodies)

    def send(i):
        results[i] = ssmtp.run(["a@example.org"], bodies[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r is not None and r.rc == 75 for r in results), results
    dl = (ssmtp.home / "dead.letter").read_bytes()
    for b in bodies:
        assert dl.count(b) == 1     # whole, once, not interleaved


def test_revaliases_hub_is_first_choice(ssmtp, hub):
    mine, other = hub("starttls"), hub("starttls")
    ssmtp.conf(other)
    (ssmtp.confdir / "revaliases").write_text(
        "root:admin@example.net:127.0.0.1:%d\n" % mine.port)
    r = ssmtp.run(["a@example.org"], b"Subject: r\n\nx\n")
    assert r.rc == 0, r
    assert len(mine.messages) == 1 and other.messages == []


def test_revaliases_hub_down_falls_back(ssmtp, hub, closed_port):
    h = hub("starttls")
    ssmtp.conf(h)
    (ssmtp.confdir / "revaliases").write_text(
        "root:admin@example.net:127.0.0.1:%d\n" % closed_port)
    r = ssmtp.run(["a@example.org"], b"Subject: r\n\nx\n")
    assert r.rc == 0, r
    assert len(h.messages) == 1


def test_permanent_refusal_does_not_fail_over(ssmtp, scripted, hub):
    def session(c):
        c.reply("554 5.7.1 you are not welcome")

    first = scripted(session)
    second = hub("starttls")
    ssmtp.conf(second, Mailhub="127.0.0.1:%d,127.0.0.1:%d" % (first.port, second.port))
    r = ssmtp.run(["a@example.org"], b"Subject: p\n\nx\n")
    assert r.rc == 69, r
    assert second.messages == []


def test_4xx_greeting_fails_over(ssmtp, scripted, hub):
    def session(c):
        c.reply("421 4.3.2 too busy")

    first = scripted(session)
    second = hub("starttls")
    ssmtp.conf(second, Mailhub="127.0.0.1:%d,127.0.0.1:%d" % (first.port, second.port))
    r = ssmtp.run(["a@example.org"], b"Subject: p\n\nx\n")
    assert r.rc == 0, r
    assert len(second.messages) == 1
    assert "421" in r.err and "trying" in r.err


def test_ipv4_and_ipv6_flags(ssmtp, hub):
    v4, v6 = hub("starttls"), hub("starttls", host="::1")
    ssmtp.conf(v4)
    assert ssmtp.run(["-4", "a@example.org"], b"Subject: 4\n\nx\n").rc == 0
    # -6 with an IPv4-only hub: no address of that family to try.
    r = ssmtp.run(["-6", "a@example.org"], b"Subject: 6\n\nx\n")
    assert r.rc == 68, r
    ssmtp.conf(v6, Mailhub="[::1]:%d" % v6.port)
    assert ssmtp.run(["-6", "a@example.org"], b"Subject: 6\n\nx\n").rc == 0
    r = ssmtp.run(["-4", "a@example.org"], b"Subject: 4\n\nx\n")
    assert r.rc == 68, r
    assert len(v4.messages) == 1 and len(v6.messages) == 1


def test_ipv6_hub(ssmtp, hub):
    h = hub("starttls", host="::1")
    ssmtp.conf(h, Mailhub="[::1]:%d" % h.port)
    r = ssmtp.run(["a@example.org"], b"Subject: v6\n\nx\n")
    assert r.rc == 0, r
    assert len(h.messages) == 1


def run_isolated(ssmtp, args, data, tmp_path, hosts=None):
    """Run ssmtp in a private mount namespace with /dev/log bound to a
    socket of ours (and /etc/hosts replaced, when hosts is given); return
    (process, syslog lines)."""
    sock_path = str(tmp_path / "log.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(sock_path)
    s.settimeout(0.5)
    hosts_path = tmp_path / "hosts"
    hosts_path.write_text(hosts or open("/etc/hosts").read())
    script = ('mount -t tmpfs tmpfs /dev && : > /dev/log && '
              'mount --bind "$0" /dev/log && mount --bind "$1" /etc/hosts && '
              'shift && exec "$@"')
    cmd = ["unshare", "-m", "sh", "-c", script, sock_path, str(hosts_path),
           str(ssmtp.binary), "-C", str(ssmtp.conf_path)] + args
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=60,
                       env={"PATH": os.environ["PATH"], "HOME": str(ssmtp.home),
                            "ASAN_OPTIONS": "detect_leaks=1"})
    lines = []
    try:
        while True:
            lines.append(s.recv(65536).decode(errors="replace"))
    except socket.timeout:
        pass
    s.close()
    for mark in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        assert mark not in p.stderr.decode(errors="replace")
    return p, lines


def test_every_address_of_the_hub_is_tried(ssmtp, hub, tmp_path):
    h = hub("starttls")
    # Two addresses where nothing listens, then the hub's.  The name is
    # localhost because that is what the test certificate names.
    hosts = "::1 localhost\n127.0.0.2 localhost\n127.0.0.1 localhost\n"
    ssmtp.conf(h, Mailhub="localhost:%d" % h.port)
    p, lines = run_isolated(ssmtp, ["-v", "a@example.org"], b"Subject: m\n\nx\n",
                            tmp_path, hosts=hosts)
    err = p.stderr.decode()
    assert p.returncode == 0, err
    assert "connected to localhost [127.0.0.1]" in err
    assert len(h.messages) == 1


def test_no_address_answers_names_each(ssmtp, closed_port, tmp_path):
    hosts = "127.0.0.2 multi.test\n127.0.0.3 multi.test\n"
    ssmtp.conf(Mailhub="multi.test:%d" % closed_port)
    p, _ = run_isolated(ssmtp, ["a@example.org"], b"Subject: m\n\nx\n",
                        tmp_path, hosts=hosts)
    err = p.stderr.decode()
    assert p.returncode == 75, err
    assert "[127.0.0.2]" in err and "[127.0.0.3]" in err


def test_syslog_line_on_success(ssmtp, hub, tmp_path):
    h = hub("starttls")
    ssmtp.conf(h)
    p, lines = run_isolated(ssmtp, ["a@example.org", "b@example.org"],
                               b"Subject: s\n\nx\n", tmp_path)
    assert p.returncode == 0, p.stderr
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("<22>")          # LOG_MAIL | LOG_INFO
    for part in ("ssmtp[", "from=<root@client.test>",
                 "to=<a@example.org>,<b@example.org>", "hub=127.0.0.1",
                 "status=sent (250 2.0.0 Ok"):
        assert part in line, line
    assert "secret" not in line


def test_syslog_line_on_failure(ssmtp, hub, tmp_path):
    h = hub("starttls")
    ssmtp.conf(h, AuthPass="wrong-secret")
    p, lines = run_isolated(ssmtp, ["a@example.org"], b"Subject: s\n\nx\n",
                               tmp_path)
    assert p.returncode == 77, p.stderr
    assert len(lines) == 1, lines
    assert lines[0].startswith("<19>")      # LOG_MAIL | LOG_ERR
    assert "status=failed" in lines[0] and "AUTH PLAIN" in lines[0]
    assert "535" in lines[0] and "5.7.8" in lines[0]
    assert "wrong-secret" not in lines[0]


def test_connect_timeout(ssmtp):
    # A listener whose backlog is full drops new SYNs: connect() hangs.
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fillers.append(c)
        ssmtp.conf(Mailhub="127.0.0.1:%d" % port, Timeout="2")
        r = ssmtp.run(["a@example.org"], b"Subject: c\n\nx\n", timeout=30)
        assert r.rc == 75, r
        assert r.elapsed < 8
        assert "timed out" in r.err
    finally:
        for c in fillers:
            c.close()
        lsock.close()


def test_default_hostname_from_etc_hosts(ssmtp, hub, tmp_path):
    # Hostname unset: the FQDN comes from the host name's /etc/hosts line
    # (never from DNS, which could stall every message).
    short = socket.gethostname()
    want = short if "." in short else short + ".example.test"
    hosts = "127.0.0.1 localhost\n127.0.1.1 %s %s\n" % (want, short)
    h = hub("starttls")
    ssmtp.conf(h, Hostname=None)
    p, _ = run_isolated(ssmtp, ["-v", "a@example.org"], b"Subject: h\n\nx\n",
                        tmp_path, hosts=hosts)
    err = p.stderr.decode()
    assert p.returncode == 0, err
    assert "-> EHLO %s" % want in err
    assert h.messages[0]["mail_from"] == "root@" + want
