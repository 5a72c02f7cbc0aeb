"""What callers and hubs do (issue 15): DSN, the null sender's From, -t
with Resent- headers, a hub that offers CHUNKING and refuses BDAT,
sSMTP's revaliases path, and recipient de-duplication at scale."""
import os
import re
import subprocess

import pytest

MSG = b"Subject: s\n\nbody\n"


def greet(c, *caps):
    c.reply("220 hub.test ESMTP")
    c.expect("EHLO")
    c.reply(*(["250-hub.test"] + ["250-" + x for x in caps[:-1]] + ["250 " + caps[-1]]))


def plain(ssmtp, server, **kw):
    return ssmtp.conf(Mailhub="127.0.0.1:%d" % server.port, **kw)


def pipelined_hub(got, *caps, connections=1):
    """Takes one message per connection, pipelined; records the lines."""
    def session(c):
        greet(c, "PIPELINING", *caps)
        lines = []
        while True:
            line = c.line()
            lines.append(line)
            if line == b"DATA":
                break
        c.reply(*(["250 ok"] * (len(lines) - 1) + ["354 go"]))
        got.setdefault("envelopes", []).append(lines)
        got.setdefault("data", []).append(c.data())
        c.reply("250 2.0.0 queued")
        c.expect("QUIT")
        c.reply("221 bye")
    return session


# --- DSN (RFC 3461) ----------------------------------------------------------

def test_dsn_parameters_when_offered(ssmtp, scripted):
    got = {}
    s = scripted(pipelined_hub(got, "DSN"))
    plain(ssmtp, s)
    r = ssmtp.run(["-N", "success,delay", "-Rhdrs", "-Vid+1=x y", "a@example.org",
                   "b@example.org"], MSG)
    assert r.rc == 0, r
    env = got["envelopes"][0]
    assert env[0] == b"MAIL FROM:<root@client.test> RET=HDRS ENVID=id+2B1+3Dx+20y"
    assert env[1] == b"RCPT TO:<a@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a@example.org"
    assert env[2] == b"RCPT TO:<b@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;b@example.org"


def test_dsn_never(ssmtp, scripted):
    got = {}
    s = scripted(pipelined_hub(got, "DSN"))
    plain(ssmtp, s)
    r = ssmtp.run(["-Nnever", "a@example.org"], MSG)
    assert r.rc == 0, r
    assert got["envelopes"][0][1].startswith(b"RCPT TO:<a@example.org> NOTIFY=NEVER ")


def test_dsn_dropped_when_not_offered(ssmtp, scripted):
    got = {}
    s = scripted(pipelined_hub(got))
    plain(ssmtp, s)
    r = ssmtp.run(["-v", "-N", "failure", "-R", "full", "a@example.org"], MSG)
    assert r.rc == 0, r
    assert got["envelopes"][0][:2] == [b"MAIL FROM:<root@client.test>",
                                       b"RCPT TO:<a@example.org>"]
    assert "does not offer DSN" in r.err


@pytest.mark.parametrize("args", [["-N", "sometimes"], ["-N", "never,success"],
                                  ["-N", "success,success"], ["-R", "body"],
                                  ["-V\x01x"], ["-V" + "x" * 101]])
def test_dsn_bad_values_are_64(ssmtp, args):
    ssmtp.conf(Mailhub="127.0.0.1:1")
    r = ssmtp.run(args + ["a@example.org"], MSG)
    assert r.rc == 64, r


def test_bare_V_still_prints_the_version(ssmtp):
    r = ssmtp.run(["-V"])
    assert r.rc == 0 and r.out.startswith("ssmtp "), r


def test_dsn_through_postfix(ssmtp, postfix):
    """Postfix offers DSN and checks the parameters' syntax (a bad ENVID
    is "501 5.5.4 Bad ENVID parameter syntax"): it takes ours."""
    from test_postfix import conf, rcpt
    conf(ssmtp, postfix)
    to = rcpt("dsn")
    marker = "id+%d=x" % os.getpid()
    r = ssmtp.run(["-v", "-N", "failure,delay", "-Rhdrs", "-V" + marker, to],
                  b"Subject: dsn\n\nx\n")
    assert r.rc == 0, r
    assert re.search(r"-> MAIL FROM:<[^>]*> .*RET=HDRS ENVID=id\+2B%d\+3Dx"
                     % os.getpid(), r.err), r.err
    assert ("-> RCPT TO:<%s> NOTIFY=FAILURE,DELAY ORCPT=rfc822;" % to) in r.err
    assert len(postfix.delivered(to)) == 1


# --- The null sender ----------------------------------------------------------

@pytest.mark.parametrize("null", ["<>", ""])
def test_null_sender_from_is_the_users(ssmtp, hub, null):
    h = hub("starttls")
    ssmtp.conf(h, RewriteDomain="example.net")
    r = ssmtp.run(["-f", null, "-F", "Vacation", "a@example.org"],
                  b"From: someone@else.example\nSubject: away\n\nx\n")
    assert r.rc == 0, r
    m = h.messages[0]
    assert m["mail_from"] in ("", "<>")     # aiosmtpd shows <> as is
    content = m["content"]
    assert b"From: Vacation <root@example.net>\r\n" in content
    assert b"<>" not in content.split(b"\r\n\r\n")[0]


# --- -t with Resent- headers ------------------------------------------------

def test_t_takes_the_newest_resent_block(ssmtp, scripted):
    got = {}
    s = scripted(pipelined_hub(got))
    plain(ssmtp, s, FromLineOverride="YES")
    msg = (b"Resent-From: fwd2@example.net\nResent-To: new@example.org\n"
           b"Resent-Bcc: hidden@example.org\nResent-Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
           b"Resent-From: fwd1@example.net\nResent-To: older@example.org\n"
           b"From: author@example.com\nTo: first@example.org\nCc: cc@example.org\n"
           b"Subject: resent\n\nbody\n")
    r = ssmtp.run(["-t"], msg)
    assert r.rc == 0, r
    env = got["envelopes"][0]
    assert env[0] == b"MAIL FROM:<fwd2@example.net>"
    assert env[1:-1] == [b"RCPT TO:<new@example.org>", b"RCPT TO:<hidden@example.org>"]
    data = got["data"][0]
    assert b"hidden@example.org" not in data and b"Resent-Bcc" not in data
    assert b"Resent-To: older@example.org" in data          # kept as written


def test_t_without_resent_uses_to_cc_bcc(ssmtp, scripted):
    got = {}
    s = scripted(pipelined_hub(got))
    plain(ssmtp, s)
    r = ssmtp.run(["-t"], b"To: a@example.org\nBcc: b@example.org\nSubject: s\n\nx\n")
    assert r.rc == 0, r
    assert got["envelopes"][0][1:-1] == [b"RCPT TO:<a@example.org>",
                                         b"RCPT TO:<b@example.org>"]


# --- A hub that offers CHUNKING and refuses BDAT ----------------------------

@pytest.mark.parametrize("refusal", ["502 5.5.1 command not implemented",
                                     "500 5.5.2 syntax error, command unrecognized"])
def test_chunking_refused_reconnects_with_data(ssmtp, scripted, refusal):
    seen = {}

    def session(c):
        greet(c, "PIPELINING", "CHUNKING")
        if "first" not in seen:
            seen["first"] = True
            c.expect("MAIL FROM:")
            c.expect("RCPT TO:")
            c.expect("BDAT ")
            c.reply("250 ok", "250 ok", refusal)
            # Whatever follows is the chunk read as commands; the client
            # must not wait for more and must send nothing after.
            seen["eof"] = c.at_eof()
            return
        lines = [c.line() for _ in range(3)]
        seen["second"] = lines
        c.reply("250 ok", "250 ok", "354 go")
        seen["data"] = c.data()
        c.reply("250 2.0.0 queued")
        c.expect("QUIT")
        c.reply("221 bye")

    s = scripted(session, connections=2)
    plain(ssmtp, s)
    r = ssmtp.run(["-v", "a@example.org"], MSG)
    assert r.rc == 0, r
    assert seen["eof"] is True
    assert seen["second"][2] == b"DATA"
    assert "refused BDAT" in r.err
    assert not any(l.startswith((b"RSET", b"QUIT")) for l in s.conns[0].lines[3:])


def test_use_chunking_no(ssmtp, scripted):
    got = {}
    s = scripted(pipelined_hub(got, "CHUNKING"))
    plain(ssmtp, s, UseChunking="NO")
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert got["envelopes"][0][-1] == b"DATA"


# --- revaliases where sSMTP reads it ------------------------------------------

def test_revaliases_not_moved_by_C(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, Revaliases=None)      # the compiled-in /etc/ssmtp one
    (ssmtp.confdir / "revaliases").write_text("root:beside@example.net\n")
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert h.messages[0]["mail_from"] != "beside@example.net"


ETC_SCRIPT = r'''
set -e
mount -t overlay overlay -o lowerdir=/etc,upperdir="$1/upper",workdir="$1/work" /etc
mkdir -p /etc/ssmtp
cp "$1/revaliases" /etc/ssmtp/revaliases
shift
exec "$@"
'''


def test_revaliases_read_from_etc_ssmtp_whatever_C(ssmtp, hub, tmp_path):
    h = hub("starttls")
    conf = ssmtp.conf(h, Revaliases=None)
    d = tmp_path / "ov"
    for sub in ("upper", "work"):
        (d / sub).mkdir(parents=True)
    (d / "revaliases").write_text("root:etc@example.net\n")
    p = subprocess.run(["unshare", "-m", "sh", "-c", ETC_SCRIPT, "etc", str(d),
                        str(ssmtp.binary), "-C", str(conf), "a@example.org"],
                       input=MSG, capture_output=True, timeout=60,
                       env={"PATH": os.environ["PATH"], "HOME": str(ssmtp.home),
                            "ASAN_OPTIONS": "detect_leaks=1"})
    assert p.returncode == 0, p.stderr
    assert h.messages[0]["mail_from"] == "etc@example.net"


def test_revaliases_key(ssmtp, hub, tmp_path):
    h = hub("starttls")
    other = tmp_path / "elsewhere"
    other.write_text("root:key@example.net\n")
    ssmtp.conf(h, Revaliases=str(other))
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert h.messages[0]["mail_from"] == "key@example.net"


def test_revaliases_key_must_be_absolute(ssmtp):
    ssmtp.conf(Mailhub="127.0.0.1:1", Revaliases="relative/path")
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 78 and "Revaliases" in r.err, r


# --- De-duplication at scale ----------------------------------------------------

def test_many_recipients_each_once_in_order(ssmtp, scripted):
    n = 18000                   # a header section under 512 KiB
    rcpts = ["u%05d@d%d.example" % (i, i % 7) for i in range(n)]
    # Each again with the domain in upper case: the same mailbox.  Local
    # parts differing only in case are two mailboxes (RFC 5321 2.4).
    dups = ["u%05d@D%d.EXAMPLE" % (i, i % 7) for i in range(0, n, 3)]
    cased = ["U00001@d1.example"]
    to = ",".join(rcpts + dups + cased)
    got = {}
    s = scripted(pipelined_hub(got))
    plain(ssmtp, s)
    r = ssmtp.run(["-t"], b"To: " + to.encode() + b"\nSubject: many\n\nx\n",
                  timeout=120)
    assert r.rc == 0, r
    sent = [l[len(b"RCPT TO:<"):-1].decode() for l in got["envelopes"][0][1:-1]]
    assert sent == rcpts + cased
