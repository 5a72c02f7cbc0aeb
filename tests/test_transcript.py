"""Exact transcripts against a scripted server, and how ssmtp meets
servers that misbehave: what it sends, byte for byte, and its exit code."""
import pytest

MSG = b"Subject: t\n\nline one\n.dot line\n"
WIRE = b"Subject: t\r\n\r\nline one\r\n..dot line\r\n"   # after our headers


def plain_conf(ssmtp, server, **kw):
    return ssmtp.conf(Mailhub="127.0.0.1:%d" % server.port, **kw)


def data_tail(data):
    """Our generated headers come first; compare from the message's own."""
    return data[data.index(b"Subject: t\r\n"):]


def test_pipelined_transcript(ssmtp, scripted):
    got = {}

    def session(c):
        c.reply("220 hub.test ESMTP")
        c.expect("EHLO ")
        c.reply("250-hub.test", "250-PIPELINING", "250-SIZE 100000",
                "250 8BITMIME")
        # MAIL, RCPT, RCPT and DATA arrive before any reply: pipelined.
        for _ in range(4):
            c.line()
        c.reply("250 2.1.0 ok", "250 2.1.5 ok", "250 2.1.5 ok", "354 go")
        got["data"] = c.data()
        c.reply("250 2.0.0 queued")
        c.expect("QUIT")
        c.reply("221 bye")

    s = scripted(session)
    plain_conf(ssmtp, s)
    r = ssmtp.run(["a@example.org", "b@example.org"], MSG)
    assert r.rc == 0, r
    assert not s.errors, s.errors
    size = len(got["data"]) - got["data"].count(b"\r\n..")
    assert s.lines == [
        b"EHLO client.test",
        b"MAIL FROM:<root@client.test> SIZE=%d" % size,
        b"RCPT TO:<a@example.org>",
        b"RCPT TO:<b@example.org>",
        b"DATA",
        b"QUIT",
    ]
    assert data_tail(got["data"]) == WIRE


def test_helo_fallback_lock_step(ssmtp, scripted):
    got = {}

    def session(c):
        c.reply("220 old.hub.test")
        c.expect("EHLO client.test")
        c.reply("502 5.5.1 command not implemented")
        c.expect("HELO client.test")
        c.reply("250 old.hub.test")
        got["data"] = c.accept_mail()

    s = scripted(session)
    plain_conf(ssmtp, s)
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert not s.errors, s.errors
    # No ESMTP: no SIZE or BODY parameters on MAIL.
    assert s.lines[2] == b"MAIL FROM:<root@client.test>"
    assert data_tail(got["data"]) == WIRE


def test_multiline_greeting_and_replies(ssmtp, scripted):
    def session(c):
        c.reply("220-hub.test welcome", "220-to the", "220 test hub")
        c.expect("EHLO")
        c.reply("250-hub.test", "250 PIPELINING")
        for _ in range(3):
            c.line()
        c.reply("250-sender", "250 ok", "250-rcpt", "250 ok", "354-go", "354 on")
        c.data()
        c.reply("250-queued", "250 2.0.0 as 1234")
        c.expect("QUIT")
        c.reply("221 bye")

    s = scripted(session)
    plain_conf(ssmtp, s)
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert not s.errors, s.errors


def test_refused_recipient_after_354_drops_connection(ssmtp, scripted):
    """Pipelined: one RCPT refused but DATA got 354.  Sending anything
    would deliver to the other recipient; the client must hang up."""
    result = {}

    def session(c):
        c.reply("220 hub.test")
        c.expect("EHLO")
        c.reply("250-hub.test", "250 PIPELINING")
        for _ in range(4):
            c.line()
        c.reply("250 ok", "250 ok", "550 5.1.1 no such user", "354 go")
        result["eof"] = c.at_eof()

    s = scripted(session)
    plain_conf(ssmtp, s)
    data = b"Subject: x\n\nbody\n"
    r = ssmtp.run(["good@example.org", "bad@example.org"], data)
    assert r.rc == 67, r
    assert "bad@example.org" in r.err and "nothing sent" in r.err
    assert result["eof"] is True
    assert not s.errors, s.errors
    assert data in r.dead_letter


def test_refused_recipient_lock_step_resets(ssmtp, scripted):
    def session(c):
        c.reply("220 hub.test")
        c.expect("EHLO")
        c.reply("250 hub.test")
        c.expect("MAIL FROM")
        c.reply("250 ok")
        c.expect("RCPT TO:<good@example.org>")
        c.reply("250 ok")
        c.expect("RCPT TO:<bad@example.org>")
        c.reply("550 5.1.1 no such user")
        c.expect("RSET")
        c.reply("250 ok")
        c.expect("QUIT")
        c.reply("221 bye")

    s = scripted(session)
    plain_conf(ssmtp, s)
    r = ssmtp.run(["good@example.org", "bad@example.org"], b"Subject: x\n\nb\n")
    assert r.rc == 67, r
    assert not s.errors, s.errors
    assert b"DATA" not in s.lines


@pytest.mark.parametrize("greeting,rc", [
    ("421 4.3.2 busy, try later", 75),
    ("554 5.3.2 go away", 69),
    ("HTTP/1.1 400 Bad Request", 76),
    ("220", 0),
])
def test_greeting_replies(ssmtp, scripted, greeting, rc):
    def session(c):
        c.reply(greeting)
        if rc == 0:
            c.expect("EHLO")
            c.reply("250 hub")
            c.accept_mail()

    s = scripted(session)
    plain_conf(ssmtp, s)
    data = b"Subject: g\n\nx\n"
    r = ssmtp.run(["a@example.org"], data)
    assert r.rc == rc, r
    if rc:
        assert data in r.dead_letter


def test_close_after_greeting_is_75(ssmtp, scripted):
    def session(c):
        c.reply("220 hub.test")
        c.expect("EHLO")

    s = scripted(session)
    plain_conf(ssmtp, s)
    r = ssmtp.run(["a@example.org"], b"x\n")
    assert r.rc == 75, r
    assert "EHLO" in r.err and "closed" in r.err


@pytest.mark.parametrize("final,rc", [("451 4.3.0 try again", 75),
                                      ("554 5.6.0 rejected", 69)])
def test_end_of_data_refused(ssmtp, scripted, final, rc):
    def session(c):
        c.reply("220 hub.test")
        c.expect("EHLO")
        c.reply("250 hub.test")
        c.start_data()
        c.data()
        c.reply(final)
        c.expect("QUIT")
        c.reply("221 bye")

    s = scripted(session)
    plain_conf(ssmtp, s)
    data = b"Subject: e\n\nbody\n"
    r = ssmtp.run(["a@example.org"], data)
    assert r.rc == rc, r
    assert final.split()[0] in r.err
    assert data in r.dead_letter


def test_lost_after_data_before_reply(ssmtp, scripted):
    def session(c):
        c.reply("220 hub.test")
        c.expect("EHLO")
        c.reply("250 hub.test")
        c.start_data()
        c.data()
        # Hang up without the final reply.

    s = scripted(session)
    plain_conf(ssmtp, s)
    data = b"Subject: l\n\nbody\n"
    r = ssmtp.run(["a@example.org"], data)
    assert r.rc == 75, r
    assert "may or may not" in r.err
    assert data in r.dead_letter


def test_stall_at_end_of_data_times_out(ssmtp, scripted):
    import threading
    release = threading.Event()

    def session(c):
        c.reply("220 hub.test")
        c.expect("EHLO")
        c.reply("250 hub.test")
        c.start_data()
        c.data()
        release.wait(20)    # stall; the client must give up first

    s = scripted(session)
    plain_conf(ssmtp, s, Timeout="2")
    r = ssmtp.run(["a@example.org"], b"Subject: s\n\nx\n", timeout=30)
    release.set()
    assert r.rc == 75, r
    assert r.elapsed < 10
    assert "timed out" in r.err


def test_starttls_injection_refused(ssmtp, scripted, server_tls):
    """CVE-2011-0411 class: a reply smuggled in the clear right after the
    STARTTLS reply must not be taken as coming from inside TLS."""
    def session(c):
        c.reply("220 hub.test")
        c.expect("EHLO")
        c.reply("250-hub.test", "250 STARTTLS")
        c.expect("STARTTLS")
        c.send(b"220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n")
        c.at_eof()

    s = scripted(session)
    plain_conf(ssmtp, s, UseSTARTTLS="YES")
    r = ssmtp.run(["a@example.org"], b"Subject: i\n\nx\n")
    assert r.rc == 76, r
    assert "injection" in r.err


def test_starttls_transcript_ehlo_again(ssmtp, scripted, server_tls):
    def session(c):
        c.reply("220 hub.test")
        c.expect("EHLO client.test")
        c.reply("250-hub.test", "250-AUTH PLAIN", "250 STARTTLS")
        c.expect("STARTTLS")
        c.reply("220 go ahead")
        c.starttls(server_tls)
        # RFC 3207 4.2: capabilities are asked for again over TLS.
        c.expect("EHLO client.test")
        c.reply("250-hub.test", "250 AUTH PLAIN LOGIN")
        c.expect("AUTH PLAIN ")
        c.reply("235 2.7.0 ok")
        c.accept_mail()

    s = scripted(session)
    plain_conf(ssmtp, s, UseSTARTTLS="YES", AuthUser="user", AuthPass="secret",
               TLS_CA_File=str(ssmtp.certs / "ca.crt"))
    r = ssmtp.run(["a@example.org"], b"Subject: s\n\nx\n")
    assert r.rc == 0, r
    assert not s.errors, s.errors
    assert [l.split(b" ")[0] for l in s.lines] == [
        b"EHLO", b"STARTTLS", b"EHLO", b"AUTH", b"MAIL", b"RCPT", b"DATA",
        b"QUIT"]


def chunking_session(got, rcpt_reply="250 2.1.5 ok", bdat_reply="250 2.0.0 queued"):
    def session(c):
        c.reply("220 hub.test ESMTP")
        c.expect("EHLO")
        c.reply("250-hub.test", "250-PIPELINING", "250-SIZE 100000", "250 CHUNKING")
        # MAIL, RCPT, BDAT and the data, then QUIT: one flight, no waiting.
        mail, rcpt, bdat = c.line(), c.line(), c.line()
        n = int(bdat.split()[1])
        got.update(mail=mail, rcpt=rcpt, bdat=bdat, data=c.read_exact(n))
        got["quit"] = c.line()
        c.reply("250 2.1.0 ok", rcpt_reply, bdat_reply, "221 bye")
    return session


def test_bdat_one_flight(ssmtp, scripted):
    got = {}
    s = scripted(chunking_session(got))
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port)
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert not s.errors, s.errors
    n = len(got["data"])
    assert got["mail"] == b"MAIL FROM:<root@client.test> SIZE=%d" % n
    assert got["rcpt"] == b"RCPT TO:<a@example.org>"
    assert got["bdat"] == b"BDAT %d LAST" % n
    assert got["quit"] == b"QUIT"
    # BDAT carries the message as it is: CRLF, no dot-stuffing.
    assert data_tail(got["data"]) == b"Subject: t\r\n\r\nline one\r\n.dot line\r\n"


def test_bdat_refused_recipient(ssmtp, scripted):
    got = {}
    s = scripted(chunking_session(got, rcpt_reply="550 5.1.1 no such user",
                                  bdat_reply="554 5.5.1 no valid recipients"))
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port)
    r = ssmtp.run(["bad@example.org"], MSG)
    assert r.rc == 67, r
    assert "bad@example.org" in r.err and "5.1.1" in r.err
    assert MSG in r.dead_letter


def test_chunking_with_several_recipients_uses_data(ssmtp, scripted):
    """Pipelined BDAT could not be taken back after a refused RCPT; with
    several recipients the DATA path keeps all or nothing."""
    got = {}

    def session(c):
        c.reply("220 hub.test ESMTP")
        c.expect("EHLO")
        c.reply("250-hub.test", "250-PIPELINING", "250 CHUNKING")
        got["lines"] = [c.line() for _ in range(4)]
        c.reply("250 ok", "250 ok", "250 ok", "354 go")
        c.data()
        c.reply("250 ok")
        c.expect("QUIT")
        c.reply("221 bye")

    s = scripted(session)
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port)
    r = ssmtp.run(["a@example.org", "b@example.org"], MSG)
    assert r.rc == 0, r
    assert got["lines"][3] == b"DATA"
