"""Secure by default: certificates, SNI, SASL mechanisms on the wire, no
password in the clear, and hostile input from the caller or the hub."""
import base64
import json
import os
import pathlib
import ssl
import subprocess
import sys

import pytest

MSG = b"Subject: s\n\nbody\n"
TESTS = pathlib.Path(__file__).resolve().parent


@pytest.mark.parametrize("cert,why", [("expired", "expired"),
                                      ("selfsigned", "self-signed"),
                                      ("rogue", "unable to get local issuer"),
                                      ("wronghost", "mismatch")])
def test_bad_certificates_refused(ssmtp, hub, cert, why):
    h = hub("starttls", cert=cert)
    ssmtp.conf(h)
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 69, r
    assert "not trusted" in r.err and why in r.err
    assert h.messages == [] and h.auth_log == []
    assert MSG in r.dead_letter


def sni_hub(hub, names):
    h = hub("starttls")
    ctx = h.controller.SMTP_kwargs["tls_context"]
    ctx.sni_callback = lambda sock, name, c: names.append(name)
    return h


def test_sni_sent_for_a_name(ssmtp, hub):
    names = []
    h = sni_hub(hub, names)
    ssmtp.conf(h, Mailhub="localhost:%d" % h.port)
    assert ssmtp.run(["a@example.org"], MSG).rc == 0
    assert names == ["localhost"]


def test_no_sni_for_an_address(ssmtp, hub):
    # RFC 6066 3: SNI carries host names only; the certificate is then
    # checked against the IP address (its IP SAN).
    names = []
    h = sni_hub(hub, names)
    ssmtp.conf(h)
    assert ssmtp.run(["a@example.org"], MSG).rc == 0
    assert names == [None]


def oauth_session(server_tls, got, final="235 2.7.0 ok"):
    def session(c):
        c.reply("220 hub.test")
        c.expect("EHLO")
        c.reply("250-hub.test", "250 STARTTLS")
        c.expect("STARTTLS")
        c.reply("220 go")
        c.starttls(server_tls)
        c.expect("EHLO")
        c.reply("250-hub.test", "250 AUTH PLAIN XOAUTH2 OAUTHBEARER")
        got["auth"] = c.line()
        if final.startswith("334"):
            c.reply(final)
            got["after"] = c.line()
            c.reply("535 5.7.8 bad token")
            c.expect("QUIT")
            c.reply("221 bye")
            return
        c.reply(final)
        c.accept_mail()
    return session


@pytest.mark.parametrize("mech,want", [
    ("XOAUTH2", b"user=user\x01auth=Bearer tok.en-123\x01\x01"),
    ("OAUTHBEARER", b"n,a=user,\x01host=127.0.0.1\x01port=%d\x01auth=Bearer tok.en-123\x01\x01"),
])
def test_oauth_mechanisms(ssmtp, scripted, server_tls, mech, want):
    got = {}
    s = scripted(oauth_session(server_tls, got))
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port, UseSTARTTLS="YES", AuthUser="user",
               AuthPass="tok.en-123", AuthMethod=mech)
    r = ssmtp.run(["-v", "a@example.org"], MSG)
    assert r.rc == 0, r
    assert not s.errors, s.errors
    verb, m, resp = got["auth"].split(b" ")
    assert (verb, m) == (b"AUTH", mech.encode())
    if b"%d" in want:
        want = want % s.port
    assert base64.b64decode(resp) == want
    assert "tok.en-123" not in r.err and resp.decode() not in r.err


def test_oauth_error_challenge_ends_cleanly(ssmtp, scripted, server_tls):
    # RFC 7628 3.2.2: on failure the server sends a 334 with JSON; the
    # client answers with a dummy ^A and gets the final failure.
    got = {}
    err = base64.b64encode(b'{"status":"invalid_token"}').decode()
    s = scripted(oauth_session(server_tls, got, final="334 " + err))
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port, UseSTARTTLS="YES", AuthUser="user",
               AuthPass="expired-token", AuthMethod="OAUTHBEARER")
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 77, r
    assert got["after"] == b"AQ=="
    assert not s.errors, s.errors


def test_no_password_in_clear_off_loopback(ssmtp, tmp_path):
    """A hub on a non-loopback address (in a network namespace of the
    test's own) offers AUTH without STARTTLS: ssmtp must refuse to send
    the password, and say why."""
    addr = "192.0.2.10"
    ssmtp.conf(Mailhub="%s:2525" % addr, AuthUser="user", AuthPass="secret")
    cmd = ["unshare", "-n", sys.executable, str(TESTS / "netns_hub.py"), addr, "--",
           str(ssmtp.binary), "-C", str(ssmtp.conf_path), "a@example.org"]
    p = subprocess.run(cmd, capture_output=True, timeout=120, cwd=str(TESTS),
                       env={"PATH": os.environ["PATH"], "HOME": str(ssmtp.home),
                            "PYTHONPATH": str(TESTS)})
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["rc"] == 69, res
    assert "without TLS" in res["stderr"]
    assert not any(l.startswith("AUTH") for l in res["seen"]), res["seen"]
    assert not any(l.startswith("MAIL") for l in res["seen"]), res["seen"]


def test_nul_in_message_refused_and_kept(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    data = b"Subject: nul\n\nbefore\0after\n"
    r = ssmtp.run(["a@example.org"], data)
    assert r.rc == 65, r
    assert "NUL" in r.err
    assert h.messages == [] and data in r.dead_letter


def test_1mb_header_line_refused_and_kept(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    data = b"Subject: " + b"x" * (1024 * 1024) + b"\n\nbody\n"
    r = ssmtp.run(["a@example.org"], data)
    assert r.rc == 65, r
    assert "header section" in r.err
    assert h.messages == [] and r.dead_letter.count(b"x" * 1000) > 1000


def test_long_body_lines_sent_unchanged(ssmtp, scripted, hub):
    # RFC 5321 4.5.3.1.6 limits lines to 1000 octets; we never cut or fold
    # them: a hub that takes them gets them whole...
    line = b"y" * 5000
    got = {}

    def session(c):
        c.reply("220 hub.test")
        c.expect("EHLO")
        c.reply("250 hub.test")
        got["data"] = c.accept_mail()

    s = scripted(session)
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port)
    r = ssmtp.run(["a@example.org"], b"Subject: l\n\n" + line + b"\n")
    assert r.rc == 0, r
    assert got["data"].endswith(b"\r\n\r\n" + line + b"\r\n")
    # ...and one that refuses them (aiosmtpd does) gets the normal error
    # path: a permanent failure, the message kept.
    h = hub("starttls")
    ssmtp.conf(h)
    data = b"Subject: l\n\n" + line + b"\n"
    r = ssmtp.run(["a@example.org"], data)
    assert r.rc == 69, r
    assert "Line too long" in r.err and data in r.dead_letter


def test_header_recipient_with_control_char_is_65(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(["-t"], b"To: a\x01b@example.org\nSubject: c\n\nx\n")
    assert r.rc == 65, r
    assert h.messages == []


def test_ten_thousand_recipients(ssmtp, scripted):
    n = 10000
    got = {}

    def session(c):
        c.reply("220 hub.test")
        c.expect("EHLO")
        c.reply("250-hub.test", "250 PIPELINING")
        c.expect("MAIL")
        rcpts = []
        while True:
            line = c.line()
            if line == b"DATA":
                break
            rcpts.append(line)
        got["rcpts"] = rcpts
        c.send(b"250 ok\r\n" + b"250 ok\r\n" * len(rcpts) + b"354 go\r\n")
        c.data(timeout=30)
        c.reply("250 ok")
        c.expect("QUIT")
        c.reply("221 bye")

    s = scripted(session)
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port)
    to = b", ".join(b"user%05d@example.org" % i for i in range(n))
    r = ssmtp.run(["-t"], b"To: " + to + b"\nCc: user00042@example.org\nSubject: many\n\nx\n",
                  timeout=120)
    assert r.rc == 0, r
    assert not s.errors, s.errors
    rcpts = got["rcpts"]
    assert len(rcpts) == n and len(set(rcpts)) == n
    assert all(len(l) <= 512 for l in rcpts)


@pytest.mark.parametrize("reply", [
    [b"250-endless"] * 5000,                    # a reply that never ends
    [b"250 " + b"z" * (2 * 1024 * 1024)],        # a 2 MB line
    [b"250-fine", b"251 changed code"],          # broken continuation
    [b"2500 four digits"],
])
def test_hostile_ehlo_reply(ssmtp, scripted, reply):
    def session(c):
        c.reply("220 hub.test")
        c.expect("EHLO")
        try:
            c.send(b"\r\n".join(reply) + b"\r\n")
            c.at_eof(timeout=10)
        except OSError:
            pass

    s = scripted(session)
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port)
    r = ssmtp.run(["a@example.org"], MSG, timeout=60)
    assert r.rc == 76, r
    assert r.elapsed < 10
    assert MSG in r.dead_letter


def test_trickling_multiline_reply_times_out(ssmtp, scripted):
    # A line every second, never the last one: the timeout covers the
    # whole reply, not each line, so this ends after Timeout seconds.
    import threading
    stop = threading.Event()

    def session(c):
        c.reply("220 hub.test")
        c.expect("EHLO")
        for _ in range(60):
            if stop.wait(0.5):
                return
            try:
                c.reply("250-still talking")
            except OSError:
                return

    s = scripted(session)
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port, Timeout="2")
    try:
        r = ssmtp.run(["a@example.org"], MSG, timeout=60)
    finally:
        stop.set()
    assert r.rc == 75, r
    assert r.elapsed < 6, r.elapsed
    assert "timed out" in r.err
