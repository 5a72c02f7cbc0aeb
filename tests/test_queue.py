"""The optional queue (Queue=YES): mail that cannot go now is kept, durably,
and sent by `ssmtp -q`, by -qI<id>, or after the next successful send;
never twice (a per-message lock), never lost (kill -9 at any point)."""
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from hub import Hub, free_port

ID_RE = re.compile(r"^[0-9A-F]{17}$")
LINE_RE = re.compile(r"^([0-9A-F]{17})([* ]) +(\d+) (\w{3} \w{3} [ \d]\d "
                     r"\d\d:\d\d:\d\d) +(\S+)$")


@pytest.fixture
def later_hub(certs):
    """Factory: a Hub made now (its port known) and started when asked."""
    made = []

    def make(mode="starttls", **kw):
        h = Hub(str(certs), mode, **kw)
        h.started = False
        made.append(h)
        return h

    yield make
    for h in made:
        if h.started:
            h.stop()


def start(h):
    h.start()
    h.started = True
    return h


def qconf(ssmtp, hub=None, **kw):
    keys = {"Queue": "YES", "QueueDir": str(ssmtp.tmp / "queue")}
    keys.update(kw)
    return ssmtp.conf(hub, **keys)


def qdir(ssmtp):
    return ssmtp.tmp / "queue"


def queued(ssmtp):
    d = qdir(ssmtp)
    if not d.exists():
        return []
    return sorted(p.name for p in d.iterdir() if ID_RE.match(p.name))


def envelope(path):
    text = path.read_bytes().split(b"\n\n", 1)[0].decode()
    env = {"rcpt": []}
    for line in text.split("\n")[1:]:
        k, _, v = line.partition(" ")
        if k == "rcpt":
            env["rcpt"].append(v)
        else:
            env[k] = v
    return env


def set_field(path, key, value):
    """Rewrite one envelope line of a queue file (the tests' clock)."""
    head, rest = path.read_bytes().split(b"\n\n", 1)
    lines = head.split(b"\n")
    for i, line in enumerate(lines):
        if line.startswith(key.encode() + b" "):
            lines[i] = ("%s %s" % (key, value)).encode()
    tmp = path.with_name(".tmp.test")
    tmp.write_bytes(b"\n".join(lines) + b"\n\n" + rest)
    os.chmod(tmp, 0o600)
    os.rename(tmp, path)


def make_due(ssmtp):
    for i in queued(ssmtp):
        set_field(qdir(ssmtp) / i, "next", 0)


def subjects(hub):
    out = []
    for m in hub.messages:
        s = re.search(rb"^Subject: (.*?)\r$", m["content"], re.M)
        out.append(s.group(1).decode() if s else None)
    return out


def msg(subject, body="hello\n"):
    return ("Subject: %s\n\n%s" % (subject, body)).encode()


# --- off by default --------------------------------------------------------

def test_without_queue_yes_behaviour_is_unchanged(ssmtp, closed_port):
    ssmtp.conf(None, Mailhub="127.0.0.1:%d" % closed_port, UseSTARTTLS="NO",
               QueueDir=str(qdir(ssmtp)))
    r = ssmtp.run(["bob@example.org"], msg("off"))
    assert r.rc == 75, r
    assert b"Subject: off" in r.dead_letter
    assert not qdir(ssmtp).exists()


# --- queued, then delivered once --------------------------------------------

def test_hub_down_queued_then_q_delivers_exactly_once(ssmtp, later_hub):
    h = later_hub()
    qconf(ssmtp, h)
    r = ssmtp.run(["bob@example.org"], msg("first"))
    assert r.rc == 0, r
    m = re.search(r"queued as ([0-9A-F]{17}): .*refused", r.err)
    assert m, r.err
    qid = m.group(1)
    assert r.dead_letter is None
    assert queued(ssmtp) == [qid]
    f = qdir(ssmtp) / qid
    assert oct(f.stat().st_mode & 0o777) == "0o600"
    assert oct(qdir(ssmtp).stat().st_mode & 0o777) == "0o700"
    env = envelope(f)
    assert env["from"] == "root@client.test"
    assert env["rcpt"] == ["bob@example.org"]
    assert env["attempts"] == "1"
    # Five minutes to the first retry.
    assert 290 <= int(env["next"]) - int(env["created"]) <= 310
    msgid = re.search(rb"^Message-ID: (.*)$", f.read_bytes(), re.M).group(1)
    assert b"secret" not in f.read_bytes()

    start(h)
    # Not due yet: -q leaves it.
    r = ssmtp.run(["-q"])
    assert r.rc == 0, r
    assert h.messages == [] and queued(ssmtp) == [qid]
    make_due(ssmtp)
    r = ssmtp.run(["-q"])
    assert r.rc == 0, r
    assert queued(ssmtp) == []
    assert subjects(h) == ["first"]
    got = h.messages[0]
    assert got["rcpt_tos"] == ["bob@example.org"]
    assert got["tls"] and got["login"] == "user"
    # Date and Message-ID are those of the first try.
    assert re.search(rb"^Message-ID: (.*?)\r$", got["content"], re.M).group(1) == msgid.rstrip(b"\r")
    r = ssmtp.run(["-q"])
    assert r.rc == 0 and subjects(h) == ["first"]


def test_qI_sends_one_message_now(ssmtp, later_hub):
    h = later_hub()
    qconf(ssmtp, h)
    ids = []
    for s in ("a", "b"):
        r = ssmtp.run(["bob@example.org"], msg(s))
        assert r.rc == 0, r
        ids.append(re.search(r"queued as (\w+)", r.err).group(1))
    start(h)
    r = ssmtp.run(["-qI" + ids[1]])
    assert r.rc == 0, r
    assert subjects(h) == ["b"]
    assert queued(ssmtp) == [ids[0]]


def test_qI_unknown_or_malformed_id_is_64(ssmtp, later_hub):
    h = later_hub()
    qconf(ssmtp, h)
    r = ssmtp.run(["-qI0123456789ABCDEF0"])
    assert r.rc == 64, r
    assert "no message 0123456789ABCDEF0" in r.err
    r = ssmtp.run(["-qIbogus"])
    assert r.rc == 64 and "not a queue ID" in r.err


def test_q_with_interval_and_f_accepted_others_refused(ssmtp, later_hub):
    h = later_hub()
    qconf(ssmtp, h)
    for a in ("-q", "-q30m", "-q1h", "-qf"):
        r = ssmtp.run([a])
        assert r.rc == 0, (a, r)
    r = ssmtp.run(["-qRexample.org"])
    assert r.rc == 64 and "not supported" in r.err


def test_next_send_flushes_the_queue_over_its_session(ssmtp, later_hub):
    h = later_hub()
    qconf(ssmtp, h)
    for s in ("q1", "q2"):
        assert ssmtp.run(["bob@example.org"], msg(s)).rc == 0
    make_due(ssmtp)
    start(h)
    r = ssmtp.run(["carol@example.org"], msg("now"))
    assert r.rc == 0, r
    assert subjects(h) == ["now", "q1", "q2"]
    assert queued(ssmtp) == []
    # One session: one AUTH for the three.
    assert h.auth_log == [("PLAIN", True)]


def test_flush_after_a_send_leaves_what_is_not_due(ssmtp, later_hub):
    h = later_hub()
    qconf(ssmtp, h)
    assert ssmtp.run(["bob@example.org"], msg("later")).rc == 0
    start(h)
    r = ssmtp.run(["carol@example.org"], msg("now"))
    assert r.rc == 0, r
    assert subjects(h) == ["now"]
    assert len(queued(ssmtp)) == 1


def test_q_hub_still_down_defers_with_backoff_and_75(ssmtp, closed_port):
    qconf(ssmtp, None, Mailhub="127.0.0.1:%d" % closed_port, UseSTARTTLS="NO")
    assert ssmtp.run(["bob@example.org"], msg("x")).rc == 0
    make_due(ssmtp)
    r = ssmtp.run(["-q"])
    assert r.rc == 75, r
    (qid,) = queued(ssmtp)
    env = envelope(qdir(ssmtp) / qid)
    assert env["attempts"] == "2"
    assert 590 <= int(env["next"]) - int(time.time()) <= 610
    assert "refused" in env["error"]
    make_due(ssmtp)
    set_field(qdir(ssmtp) / qid, "attempts", 9)
    assert ssmtp.run(["-q"]).rc == 75
    env = envelope(qdir(ssmtp) / qid)
    assert env["attempts"] == "10"
    assert 14390 <= int(env["next"]) - int(time.time()) <= 14410


def test_permanent_failure_is_never_queued(ssmtp, hub):
    h = hub("starttls")
    h.handler.refuse["bad@example.org"] = "550 5.1.1 no such user"
    qconf(ssmtp, h)
    r = ssmtp.run(["bad@example.org"], msg("perm"))
    assert r.rc == 67, r
    assert b"Subject: perm" in r.dead_letter
    assert queued(ssmtp) == []


def lockstep_hub(rcpt_reply=None, data_reply="250 2.0.0 ok", drop_after_data=False):
    def session(c):
        c.reply("220 hub.test ESMTP")
        c.expect("EHLO")
        c.reply("250-hub.test", "250 ENHANCEDSTATUSCODES")
        while True:
            line = c.line(timeout=10)
            if line.startswith(b"MAIL"):
                c.reply("250 2.1.0 ok")
            elif line.startswith(b"RCPT"):
                c.reply(rcpt_reply or "250 2.1.5 ok")
            elif line == b"DATA":
                c.reply("354 go")
                c.data()
                if drop_after_data:
                    return
                c.reply(data_reply)
            elif line == b"RSET":
                c.reply("250 2.0.0 ok")
            elif line == b"QUIT":
                c.reply("221 2.0.0 bye")
                return
    return session


def test_4xx_from_the_hub_is_queued(ssmtp, scripted):
    s = scripted(lockstep_hub(rcpt_reply="451 4.7.1 rate limited"))
    qconf(ssmtp, None, Mailhub="127.0.0.1:%d" % s.port, UseSTARTTLS="NO")
    r = ssmtp.run(["bob@example.org"], msg("busy"))
    assert r.rc == 0, r
    assert "rate limited" in r.err
    (qid,) = queued(ssmtp)
    assert "451" in envelope(qdir(ssmtp) / qid)["error"]
    s.stop()


def test_lost_end_of_data_reply_is_queued_as_unknown(ssmtp, scripted):
    s = scripted(lockstep_hub(drop_after_data=True))
    qconf(ssmtp, None, Mailhub="127.0.0.1:%d" % s.port, UseSTARTTLS="NO")
    r = ssmtp.run(["bob@example.org"], msg("unknown"))
    assert r.rc == 0, r
    (qid,) = queued(ssmtp)
    assert envelope(qdir(ssmtp) / qid)["unknown"] == "1"
    r = ssmtp.run(["-bp"])
    assert "outcome is unknown" in r.out
    s.stop()


def test_bs_caller_hears_queued_as(ssmtp, closed_port):
    qconf(ssmtp, None, Mailhub="127.0.0.1:%d" % closed_port, UseSTARTTLS="NO")
    dialog = (b"EHLO app\r\nMAIL FROM:<app@example.com>\r\n"
              b"RCPT TO:<bob@example.org>\r\nDATA\r\nSubject: bs\r\n\r\nhi\r\n"
              b".\r\nQUIT\r\n")
    r = ssmtp.run(["-bs"], dialog)
    assert r.rc == 0, r
    m = re.search(r"250 2\.0\.0 queued as ([0-9A-F]{17})\r\n", r.out)
    assert m, r.out
    assert queued(ssmtp) == [m.group(1)]
    assert envelope(qdir(ssmtp) / m.group(1))["from"] == "app@example.com"


def test_dsn_parameters_and_revaliases_hub_are_kept(ssmtp, later_hub, closed_port):
    h = later_hub()
    # The user's revaliases hub is the one recorded; Mailhub is elsewhere.
    qconf(ssmtp, h, Mailhub="127.0.0.1:%d" % closed_port)
    (ssmtp.confdir / "revaliases").write_text(
        "root:root@example.com:127.0.0.1:%d\n" % h.port)
    r = ssmtp.run(["-N", "failure,delay", "-R", "hdrs", "-Venv42",
                   "bob@example.org"], msg("dsn"))
    assert r.rc == 0, r
    (qid,) = queued(ssmtp)
    env = envelope(qdir(ssmtp) / qid)
    assert env["hub"] == "127.0.0.1:%d" % h.port
    assert env["notify"] == "FAILURE,DELAY" and env["ret"] == "HDRS"
    assert env["envid"] == "env42"
    start(h)
    make_due(ssmtp)
    r = ssmtp.run(["-q"])
    assert r.rc == 0, r
    assert subjects(h) == ["dsn"]


# --- leaving the queue undelivered -------------------------------------------

def test_lifetime_expiry_keeps_it_and_notifies_the_sender(ssmtp, later_hub):
    h = later_hub()
    qconf(ssmtp, h, QueueLifetime="1d")
    r = ssmtp.run(["-f", "alice@example.com", "bob@example.org"], msg("old"))
    assert r.rc == 0, r
    (qid,) = queued(ssmtp)
    set_field(qdir(ssmtp) / qid, "created", int(time.time()) - 2 * 86400)
    start(h)
    r = ssmtp.run(["-q"])
    assert r.rc == 0, r
    assert queued(ssmtp) == []
    dl = (ssmtp.home / "dead.letter").read_bytes()
    assert b"Subject: old" in dl
    assert len(h.messages) == 1
    n = h.messages[0]
    assert n["mail_from"] in ("", "<>") and n["rcpt_tos"] == ["alice@example.com"]
    c = n["content"]
    assert b"multipart/report; report-type=delivery-status" in c
    assert b"Status: 4.4.7" in c
    assert b"Final-Recipient: rfc822; bob@example.org" in c
    assert b"Subject: old" in c          # its headers come back
    assert b"MAILER-DAEMON@client.test" in c


def bounce_in_a_run(ssmtp, h, subject):
    """Queue a message for bad@example.org (which h refuses, 550), then
    run the queue with h up; returns the run's result."""
    h.handler.refuse["bad@example.org"] = "550 5.1.1 no such user"
    qconf(ssmtp, h)
    assert ssmtp.run(["-f", "alice@example.com", "bad@example.org"],
                     msg(subject)).rc == 0
    make_due(ssmtp)
    start(h)
    r = ssmtp.run(["-q"])
    assert r.rc == 0, r
    assert queued(ssmtp) == []
    return r


def test_permanent_refusal_in_a_run_bounces(ssmtp, later_hub):
    h = later_hub()
    bounce_in_a_run(ssmtp, h, "bounce")
    assert b"Subject: bounce" in (ssmtp.home / "dead.letter").read_bytes()
    assert len(h.messages) == 1
    assert h.messages[0]["mail_from"] in ("", "<>")
    assert b"Status: 5.1.1" in h.messages[0]["content"]
    assert b"550 5.1.1 no such user" in h.messages[0]["content"]


def run_to_notice(ssmtp, h):
    """Run the queue (h up): the queue empties and h gets one notice.
    Returns the blocks of its message/delivery-status part, by address."""
    r = ssmtp.run(["-q"])
    assert r.rc == 0, r
    assert queued(ssmtp) == []
    (n,) = h.messages
    part = n["content"].split(b"message/delivery-status")[1]
    part = part.split(b"text/rfc822-headers")[0]
    return {m.group(1).decode(): m.group(0) for m in re.finditer(
        rb"Final-Recipient: rfc822; (\S+)\r\n(?:[^\r\n]+\r\n)*", part)}


def test_notice_gives_each_recipient_its_own_status(ssmtp, later_hub):
    h = later_hub()
    h.handler.refuse["bad@example.org"] = "550 5.1.1 no such user"
    h.handler.refuse["full@example.org"] = "452 4.2.2 mailbox full"
    h.handler.refuse["old@example.org"] = "553 mailbox name not allowed"
    qconf(ssmtp, h)
    rcpts = ["bad@example.org", "full@example.org", "good@example.org",
             "old@example.org"]
    assert ssmtp.run(["-f", "alice@example.com"] + rcpts,
                     msg("mixed")).rc == 0
    make_due(ssmtp)
    start(h)
    b = run_to_notice(ssmtp, h)
    assert sorted(b) == rcpts
    for a in rcpts:
        assert b"Action: failed\r\n" in b[a], b[a]
    assert b"Status: 5.1.1\r\n" in b["bad@example.org"]
    assert (b"Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"
            in b["bad@example.org"])
    assert b"Status: 4.2.2\r\n" in b["full@example.org"]
    assert (b"Diagnostic-Code: smtp; 452 4.2.2 mailbox full\r\n"
            in b["full@example.org"])
    # No enhanced code from the hub: the reply's class.
    assert b"Status: 5.0.0\r\n" in b["old@example.org"]
    assert (b"Diagnostic-Code: smtp; 553 mailbox name not allowed\r\n"
            in b["old@example.org"])
    # Taken by the hub, but not sent (all or nothing): no hub diagnostic.
    assert b"Status: 5.0.0\r\n" in b["good@example.org"]
    assert b"Diagnostic-Code" not in b["good@example.org"]


def test_notice_for_a_refused_message_quotes_the_reply(ssmtp, later_hub):
    h = later_hub()
    qconf(ssmtp, h)
    assert ssmtp.run(["-f", "alice@example.com", "bob@example.org",
                      "carol@example.org"], msg("spam")).rc == 0
    make_due(ssmtp)
    start(h)

    orig = h.handler.handle_DATA

    async def refuse_data(server, session, envelope):
        # The message is refused; the notice (null sender) is taken.
        if envelope.mail_from == "alice@example.com":
            return "554 5.7.1 looks like spam"
        return await orig(server, session, envelope)
    h.handler.handle_DATA = refuse_data
    b = run_to_notice(ssmtp, h)
    assert sorted(b) == ["bob@example.org", "carol@example.org"]
    for blk in b.values():
        assert b"Status: 5.7.1\r\n" in blk
        assert b"Diagnostic-Code: smtp; 554 5.7.1 looks like spam\r\n" in blk


def test_notice_for_a_local_refusal_has_no_hub_diagnostic(ssmtp, later_hub):
    # Over the hub's SIZE: ssmtp itself refuses (5.3.4) before sending.
    h = later_hub(data_size_limit=2000)
    qconf(ssmtp, h)
    assert ssmtp.run(["-f", "alice@example.com", "bob@example.org"],
                     msg("big", "x" * 5000 + "\n")).rc == 0
    make_due(ssmtp)
    start(h)
    b = run_to_notice(ssmtp, h)
    assert list(b) == ["bob@example.org"]
    assert b"Status: 5.3.4\r\n" in b["bob@example.org"]
    assert b"Diagnostic-Code" not in b["bob@example.org"]


@pytest.mark.parametrize("args", [
    ["bob@example.org"],                          # root@client.test: local
    ["-f", "alice", "bob@example.org"],           # no domain: local
    ["-f", "alice@localhost", "bob@example.org"],
    ["-f", "alice@example.com", "-N", "never", "bob@example.org"],
    ["-f", "<>", "bob@example.org"],              # never about a notice
])
def test_no_notice_for_local_null_or_never(ssmtp, later_hub, args):
    h = later_hub()
    qconf(ssmtp, h, QueueLifetime="1d")
    assert ssmtp.run(args, msg("quiet")).rc == 0
    (qid,) = queued(ssmtp)
    set_field(qdir(ssmtp) / qid, "created", int(time.time()) - 2 * 86400)
    start(h)
    r = ssmtp.run(["-q"])
    assert r.rc == 0, r
    assert h.messages == []
    assert queued(ssmtp) == []
    assert b"Subject: quiet" in (ssmtp.home / "dead.letter").read_bytes()


def test_refused_notice_goes_to_dead_letter_never_a_loop(ssmtp, later_hub):
    h = later_hub()
    h.handler.refuse["alice@example.com"] = "550 5.1.1 no such sender"
    bounce_in_a_run(ssmtp, h, "loop")
    dl = (ssmtp.home / "dead.letter").read_bytes()
    assert b"Subject: loop" in dl
    assert b"Subject: Undelivered Mail Returned to Sender" in dl
    assert h.messages == []
    assert ssmtp.run(["-q"]).rc == 0 and queued(ssmtp) == []


# --- bad files and places -----------------------------------------------------

def test_corrupt_foreign_and_temporary_files(ssmtp, later_hub):
    h = later_hub()
    qconf(ssmtp, h)
    assert ssmtp.run(["bob@example.org"], msg("good")).rc == 0
    make_due(ssmtp)
    d = qdir(ssmtp)
    (good,) = queued(ssmtp)
    data = (d / good).read_bytes()
    bad = "00000001000000000"
    (d / bad).write_bytes(data[:len(data) - 5])           # truncated
    os.chmod(d / bad, 0o600)
    (d / "0000000200000000A").write_bytes(b"not a queue file\n\n")
    (d / "README").write_text("foreign\n")
    fresh = d / ".tmp.fresh1"
    fresh.write_bytes(data[:20])
    stale = d / ".tmp.stale1"
    stale.write_bytes(data[:20])
    old = time.time() - 7200
    os.utime(stale, (old, old))
    start(h)
    r = ssmtp.run(["-q"])
    assert r.rc == 0, r
    assert subjects(h) == ["good"]
    assert "truncated" in r.err and "moved to corrupt/" in r.err
    aside = sorted(p.name for p in (d / "corrupt").iterdir())
    assert aside == ["00000001000000000", "0000000200000000A", "README"]
    assert fresh.exists() and not stale.exists()
    assert queued(ssmtp) == []
    r = ssmtp.run(["-bp"])
    assert r.out == "Mail queue is empty\n", r


def test_symlink_in_the_queue_is_set_aside_not_followed(ssmtp, later_hub):
    h = later_hub()
    qconf(ssmtp, h)
    assert ssmtp.run(["bob@example.org"], msg("x")).rc == 0
    target = ssmtp.tmp / "elsewhere"
    target.write_text("do not touch\n")
    make_due(ssmtp)
    os.symlink(target, qdir(ssmtp) / "00000001000000000")
    start(h)
    r = ssmtp.run(["-q"])
    assert r.rc == 0, r
    assert target.read_text() == "do not touch\n"
    assert (qdir(ssmtp) / "corrupt" / "00000001000000000").is_symlink()
    assert subjects(h) == ["x"]


def test_unsafe_queue_directory_means_dead_letter_and_75(ssmtp, closed_port):
    qconf(ssmtp, None, Mailhub="127.0.0.1:%d" % closed_port, UseSTARTTLS="NO")
    qdir(ssmtp).mkdir(mode=0o755)
    os.chmod(qdir(ssmtp), 0o755)
    r = ssmtp.run(["bob@example.org"], msg("unsafe"))
    assert r.rc == 75, r
    assert "could not queue the message" in r.err and "0755" in r.err
    assert b"Subject: unsafe" in r.dead_letter


def test_full_queue_filesystem_means_dead_letter_and_75(ssmtp, closed_port):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    qconf(ssmtp, None, Mailhub="127.0.0.1:%d" % closed_port, UseSTARTTLS="NO")
    mnt = ssmtp.tmp / "small"
    mnt.mkdir()
    qconf(ssmtp, None, Mailhub="127.0.0.1:%d" % closed_port, UseSTARTTLS="NO",
          QueueDir=str(mnt / "queue"))
    body = ("x" * 70 + "\n") * 4000                 # 284 KB
    cmd = ["unshare", "-m", "sh", "-c",
           'mount -t tmpfs -o size=64k,mode=0700 tmpfs "$0" && exec "$@"',
           str(mnt), str(ssmtp.binary), "-C", str(ssmtp.conf_path),
           "bob@example.org"]
    env = {"PATH": os.environ["PATH"], "HOME": str(ssmtp.home),
           "TMPDIR": str(ssmtp.tmp)}
    p = subprocess.run(cmd, input=msg("full", body), capture_output=True,
                       timeout=60, env=env)
    err = p.stderr.decode()
    assert p.returncode == 75, err
    assert "could not queue the message" in err
    assert "No space left" in err
    assert b"Subject: full" in (ssmtp.home / "dead.letter").read_bytes()


def test_queue_keys_are_checked(ssmtp):
    for k, v in (("QueueLifetime", "10"), ("QueueLifetime", "5x"),
                 ("QueueLifetime", "400d"), ("QueueDir", "relative/q"),
                 ("Queue", "maybe")):
        ssmtp.conf(None, Mailhub="127.0.0.1:25", **{k: v})
        r = ssmtp.run(["-q"])
        assert r.rc == 78, (k, v, r)
        assert k in r.err


# --- mailq ------------------------------------------------------------------

def test_mailq_layout(ssmtp, closed_port):
    qconf(ssmtp, None, Mailhub="127.0.0.1:%d" % closed_port, UseSTARTTLS="NO")
    r = ssmtp.run(["-bp"])
    assert r.rc == 0 and r.out == "Mail queue is empty\n", r
    assert ssmtp.run(["-f", "alice@example.com", "bob@example.org",
                      "carol@example.org"], msg("one")).rc == 0
    assert ssmtp.run(["-f", "<>", "dave@example.org"], msg("two")).rc == 0
    r = ssmtp.run(["-bp", "-v"])
    assert r.rc == 0, r
    lines = r.out.split("\n")
    assert lines[0].startswith("-Queue ID-")
    ids = [LINE_RE.match(l) for l in lines if LINE_RE.match(l)]
    assert [m.group(5) for m in ids] == ["alice@example.com", "MAILER-DAEMON"]
    assert [m.group(1) for m in ids] == queued(ssmtp)
    assert re.search(r"^\(attempt 1, next try .*: .*refused\)$", r.out, re.M)
    assert re.search(r"^ {40,}bob@example.org$", r.out, re.M)
    assert re.search(r"^ {40,}carol@example.org$", r.out, re.M)
    assert lines[-2] == "-- 1 Kbytes in 2 Requests."
    assert "queue: %s" % qdir(ssmtp) in r.err
    # mailq is the same listing.
    mq = ssmtp.tmp / "mailq"
    os.symlink(ssmtp.binary, mq)
    p = subprocess.run([str(mq), "-C", str(ssmtp.conf_path)],
                       capture_output=True, timeout=30,
                       env={"HOME": str(ssmtp.home), "PATH": "/usr/bin:/bin"})
    assert p.stdout.decode() == r.out


# --- concurrency and crashes --------------------------------------------------

def run_bg(ssmtp, args, data=b"", conf=None):
    env = {"PATH": os.environ["PATH"], "HOME": str(ssmtp.home),
           "TMPDIR": str(ssmtp.tmp), "ASAN_OPTIONS": "detect_leaks=1"}
    p = subprocess.Popen([str(ssmtp.binary), "-C", str(conf or ssmtp.conf_path)]
                         + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    p.stdin.write(data)
    p.stdin.close()
    return p


def finish(procs, timeout=120):
    out = []
    for p in procs:
        p.wait(timeout)
        err = p.stderr.read().decode()
        p.stdout.close()
        p.stderr.close()
        assert "Sanitizer" not in err, err
        out.append((p.returncode, err))
    return out


def test_50_senders_queue_while_a_run_goes(ssmtp, hub, closed_port, tmp_path):
    h = hub("starttls")
    # Senders see the hub down; the queue runner reaches it.
    down = qconf(ssmtp, None, Mailhub="127.0.0.1:%d" % closed_port,
                 UseSTARTTLS="NO")
    down_conf = tmp_path / "down.conf"
    down_conf.write_text(down.read_text())
    qconf(ssmtp, h)
    for i in range(20):
        assert ssmtp.run(["bob@example.org"], msg("pre%d" % i),
                         conf=down_conf).rc == 0
    make_due(ssmtp)
    runner = run_bg(ssmtp, ["-q"])
    senders = [run_bg(ssmtp, ["bob@example.org"], msg("c%d" % i), down_conf)
               for i in range(50)]
    for rc, err in finish(senders + [runner]):
        assert rc == 0, err
    for _ in range(3):
        make_due(ssmtp)
        assert ssmtp.run(["-q"]).rc == 0
    want = sorted(["pre%d" % i for i in range(20)] + ["c%d" % i for i in range(50)])
    assert sorted(subjects(h)) == want        # each exactly once
    assert queued(ssmtp) == []


def test_two_runs_at_once_send_each_message_once(ssmtp, hub, closed_port, tmp_path):
    h = hub("starttls")
    down_conf = tmp_path / "down.conf"
    down_conf.write_text(qconf(ssmtp, None, Mailhub="127.0.0.1:%d" %
                               closed_port, UseSTARTTLS="NO").read_text())
    qconf(ssmtp, h)
    for i in range(30):
        assert ssmtp.run(["bob@example.org"], msg("m%d" % i),
                         conf=down_conf).rc == 0
    make_due(ssmtp)
    for rc, err in finish([run_bg(ssmtp, ["-q"]) for _ in range(3)]):
        assert rc == 0, err
    assert sorted(subjects(h)) == sorted("m%d" % i for i in range(30))
    assert queued(ssmtp) == []


def stalling_hub(stall_on, stalled):
    """Lock-step hub: the stall_on-th end of data gets no reply."""
    def session(c):
        c.reply("220 hub.test ESMTP")
        c.expect("EHLO")
        c.reply("250 hub.test")
        n = 0
        while True:
            line = c.line(timeout=20)
            if line.startswith(b"MAIL"):
                c.reply("250 ok")
            elif line.startswith(b"RCPT"):
                c.reply("250 ok")
            elif line == b"DATA":
                c.reply("354 go")
                c.data()
                n += 1
                if n == stall_on:
                    stalled.set()
                    c.at_eof(timeout=20)
                    return
                c.reply("250 ok")
            elif line == b"QUIT":
                c.reply("221 bye")
                return
    return session


def test_kill_9_while_waiting_for_the_end_of_data_reply(ssmtp, scripted, hub,
                                                        closed_port, tmp_path):
    stalled = threading.Event()
    s = scripted(stalling_hub(2, stalled))
    down_conf = tmp_path / "down.conf"
    down_conf.write_text(qconf(ssmtp, None, Mailhub="127.0.0.1:%d" %
                               closed_port, UseSTARTTLS="NO").read_text())
    qconf(ssmtp, None, Mailhub="127.0.0.1:%d" % s.port, UseSTARTTLS="NO")
    for i in range(3):
        assert ssmtp.run(["bob@example.org"], msg("k%d" % i),
                         conf=down_conf).rc == 0
    make_due(ssmtp)
    first = queued(ssmtp)
    p = run_bg(ssmtp, ["-q"])
    assert stalled.wait(30)
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    p.stdout.close()
    p.stderr.close()
    s.stop()
    # The first went (250, removed); the second and third are still there.
    assert queued(ssmtp) == first[1:]
    h = hub("starttls")
    qconf(ssmtp, h)
    make_due(ssmtp)
    assert ssmtp.run(["-q"]).rc == 0
    assert subjects(h) == ["k1", "k2"]
    assert queued(ssmtp) == []


@pytest.mark.parametrize("delay", [0.02, 0.08, 0.15, 0.3])
def test_kill_9_of_a_run_at_any_moment_loses_nothing(ssmtp, hub, closed_port,
                                                      tmp_path, delay):
    h = hub("starttls")
    down_conf = tmp_path / "down.conf"
    down_conf.write_text(qconf(ssmtp, None, Mailhub="127.0.0.1:%d" %
                               closed_port, UseSTARTTLS="NO").read_text())
    qconf(ssmtp, h)
    n = 15
    for i in range(n):
        assert ssmtp.run(["bob@example.org"], msg("r%d" % i),
                         conf=down_conf).rc == 0
    make_due(ssmtp)
    p = run_bg(ssmtp, ["-q"])
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    p.stdout.close()
    p.stderr.close()
    got = set(subjects(h))
    left = set()
    for qid in queued(ssmtp):
        body = (qdir(ssmtp) / qid).read_bytes()
        left.add(re.search(rb"^Subject: (\S+)", body, re.M).group(1).decode())
    want = {"r%d" % i for i in range(n)}
    assert got | left == want
    # A duplicate only in the window between the 250 and the removal.
    assert len(got & left) <= 1
    make_due(ssmtp)
    assert ssmtp.run(["-q"]).rc == 0
    assert set(subjects(h)) == want
    assert queued(ssmtp) == [] and not (qdir(ssmtp) / "corrupt").exists()


def test_kill_9_while_writing_leaves_no_partial_entry(ssmtp, closed_port):
    qconf(ssmtp, None, Mailhub="127.0.0.1:%d" % closed_port, UseSTARTTLS="NO")
    body = ("y" * 998 + "\n") * 30000              # 30 MB
    for delay in (0.3, 0.6, 1.0):
        p = run_bg(ssmtp, ["bob@example.org"], msg("big", body))
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        p.stdout.close()
        p.stderr.close()
    r = ssmtp.run(["-bp"])
    assert r.rc == 0, r
    # Whatever is listed is whole; temporary files are not listed.
    for qid in queued(ssmtp):
        f = qdir(ssmtp) / qid
        env = envelope(f)
        head = f.read_bytes().index(b"\n\n") + 2
        assert f.stat().st_size == head + int(env["headers"]) + int(env["raw"])
    assert "truncated" not in r.err


# --- one queue per user, under the setgid install ------------------------------

from test_setgid import SCRIPT, sgid  # noqa: E402,F401  (the fixture)


def as_user(d, binary, conf_text, args, data, user, group, env):
    import pwd as _pwd
    with open(os.path.join(d, "ssmtp.conf"), "w") as f:
        f.write(conf_text)
    script = SCRIPT.replace("--reuid=nobody --regid=nogroup",
                            "--reuid=%s --regid=%s" % (user, group))
    e = {"PATH": os.environ["PATH"]}
    e.update(env)
    return subprocess.run(["unshare", "-m", "sh", "-c", script, "sgid", d,
                           binary] + args, input=data, capture_output=True,
                          timeout=60, env=e)


def test_setgid_user_has_a_private_queue(ssmtp, sgid, closed_port):
    import pwd as _pwd
    d, binary, home = sgid
    conf_text = ("Mailhub=127.0.0.1:%d\nUseSTARTTLS=NO\nHostname=client.test\n"
                 "AuthUser=user\nAuthPass=topsecret\nQueue=YES\n"
                 "QueueDir=%s/rootq\n" % (closed_port, d))
    r = as_user(d, binary, conf_text, ["bob@example.org"], msg("mine"),
                "nobody", "nogroup", {"HOME": home})
    assert r.returncode == 0, r.stderr
    qid = re.search(rb"queued as ([0-9A-F]{17})", r.stderr).group(1).decode()
    q = os.path.join(home, ".local", "state", "ssmtp", "queue")
    f = os.path.join(q, qid)
    st = os.stat(f)
    nobody = _pwd.getpwnam("nobody")
    assert st.st_uid == nobody.pw_uid and st.st_mode & 0o777 == 0o600
    assert os.stat(q).st_mode & 0o777 == 0o700
    assert os.stat(os.path.join(home, ".local")).st_mode & 0o077 == 0
    assert b"topsecret" not in open(f, "rb").read()
    assert not os.path.exists(os.path.join(d, "rootq"))
    # Its owner lists it ...
    r = as_user(d, binary, conf_text, ["-bp"], b"", "nobody", "nogroup",
                {"HOME": home})
    assert r.returncode == 0 and qid.encode() in r.stdout, r.stderr
    # ... another user cannot, even when pointed at it.
    other = os.path.join(d, "other")
    os.mkdir(other)
    os.chown(other, _pwd.getpwnam("daemon").pw_uid, -1)
    for env in ({"HOME": other},
                {"HOME": other, "XDG_STATE_HOME": os.path.join(home, ".local",
                                                              "state")}):
        r = as_user(d, binary, conf_text, ["-bp"], b"", "daemon", "daemon", env)
        assert qid.encode() not in r.stdout + r.stderr
        r = as_user(d, binary, conf_text, ["-qI" + qid], b"", "daemon",
                    "daemon", env)
        assert r.returncode != 0
    assert os.path.exists(f)


def test_q_and_mailq_on_a_fresh_commented_config(ssmtp):
    # What the timer meets after a fresh install: no Mailhub yet.
    ssmtp.conf(None, QueueDir=str(qdir(ssmtp)))
    r = ssmtp.run(["-q"])
    assert (r.rc, r.out, r.err) == (0, "", ""), r
    r = ssmtp.run(["-bp"])
    assert r.rc == 0 and r.out == "Mail queue is empty\n", r
    # Mail that is due, though, needs a hub: 78, kept, and said why.
    d = qdir(ssmtp)
    qconf(ssmtp, None, Mailhub="127.0.0.1:1", UseSTARTTLS="NO")
    assert ssmtp.run(["bob@example.org"], msg("nohub")).rc == 0
    make_due(ssmtp)
    ssmtp.conf(None, QueueDir=str(d))
    r = ssmtp.run(["-q"])
    assert r.rc == 78 and "no Mailhub" in r.err, r
    assert len(queued(ssmtp)) == 1
    # And a send still refuses at once.
    r = ssmtp.run(["bob@example.org"], msg("x"))
    assert r.rc == 78 and "no Mailhub" in r.err
