"""Sending through a real Postfix smarthub (see postfix.py): what arrives
in the Maildir, byte for byte, and what Postfix refuses."""
import base64
import email
import email.policy
import itertools
import os

import pytest

from postfix import USER, PASSWORD

_ids = itertools.count()


def rcpt(tag, domain="example.org"):
    """A recipient address no other test uses, so Maildir files are ours."""
    return "%s-%d-%d@%s" % (tag, os.getpid(), next(_ids), domain)


def conf(ssmtp, postfix, port="submission", **kw):
    c = {"Mailhub": "127.0.0.1:%d" % postfix.ports[port],
         "AuthUser": USER, "AuthPass": PASSWORD}
    if port == "submission":
        c["UseSTARTTLS"] = "YES"
    elif port == "smtps":
        c["UseTLS"] = "YES"
    else:
        c["UseSTARTTLS"] = "NO"
        c["AuthUser"] = c["AuthPass"] = None
    c.update(kw)
    return ssmtp.conf(**c)


def split(delivered):
    """(Postfix's trace headers, our header section, body) of a Maildir file."""
    head, body = delivered.split(b"\n\n", 1)
    lines = head.split(b"\n")
    # Postfix prepends Return-Path, X-Original-To, Delivered-To and
    # Received (folded).
    i = 0
    while i < len(lines) and lines[i].startswith((
            b"Return-Path:", b"X-Original-To:", b"Delivered-To:", b"Received:",
            b"\t", b" ")):
        i += 1
    return lines[:i], lines[i:], body


def test_plain_message(ssmtp, postfix):
    to = rcpt("plain")
    conf(ssmtp, postfix)
    body = b"Hello through Postfix.\n.a dot line\n..two dots\n\nend\n"
    r = ssmtp.run(["-v", "-i", "-f", "sender@example.net", to],
                  b"Subject: real hub\nX-Test: 1\n\n" + body)
    assert r.rc == 0, r
    # Postfix offers PIPELINING and CHUNKING: one recipient goes by BDAT.
    assert "-> BDAT " in r.err and "-> DATA" not in r.err
    got = postfix.delivered(to)
    assert len(got) == 1, postfix.log()[-3000:]
    trace, headers, got_body = split(got[0])
    assert b"Return-Path: <sender@example.net>" in trace
    assert b"Delivered-To: " + to.encode() in trace
    assert got_body == body
    names = [h.split(b":")[0].lower() for h in headers if b":" in h]
    for want in (b"from", b"date", b"message-id", b"subject", b"x-test"):
        assert names.count(want) == 1, (want, headers)


def test_t_with_to_cc_bcc(ssmtp, postfix):
    to, cc, bcc = rcpt("to"), rcpt("cc", "example.net"), rcpt("bcc")
    conf(ssmtp, postfix)
    msg = ("To: Someone <%s>\nCc: %s\nBcc: Hidden <%s>\nSubject: t\n\nbody\n"
           % (to, cc, bcc)).encode()
    r = ssmtp.run(["-v", "-t"], msg)
    assert r.rc == 0, r
    assert "-> DATA" in r.err       # several recipients: DATA
    for a in (to, cc, bcc):
        got = postfix.delivered(a)
        assert len(got) == 1, (a, postfix.log()[-3000:])
        assert b"Bcc" not in got[0] and bcc.encode() not in split(got[0])[1]


def test_20mb_attachment_byte_exact(ssmtp, postfix):
    to = rcpt("big")
    conf(ssmtp, postfix)
    payload = os.urandom(15 * 1024 * 1024)
    b64 = base64.encodebytes(payload)     # 76-column lines: about 20 MB
    msg = (b"Subject: attachment\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary=\"b1\"\n\n"
           b"--b1\nContent-Type: text/plain\n\nsee attached\n"
           b"--b1\nContent-Type: application/octet-stream\n"
           b"Content-Transfer-Encoding: base64\n"
           b"Content-Disposition: attachment; filename=\"blob.bin\"\n\n"
           + b64 + b"--b1--\n")
    assert len(msg) > 20 * 1000 * 1000
    r = ssmtp.run(["-i", to], msg, timeout=180)
    assert r.rc == 0, r
    got = postfix.delivered(to, timeout=60)
    assert len(got) == 1, postfix.log()[-3000:]
    m = email.message_from_bytes(got[0], policy=email.policy.default)
    parts = [p for p in m.iter_attachments()]
    assert len(parts) == 1
    assert parts[0].get_content() == payload


def test_utf8_subject_and_8bit_body(ssmtp, postfix):
    to = rcpt("utf8")
    conf(ssmtp, postfix)
    body = "Grüße aus Köln — naïve café, 日本語.\n".encode()
    msg = ("Subject: Grüße ✓\nMIME-Version: 1.0\n"
           "Content-Type: text/plain; charset=utf-8\n"
           "Content-Transfer-Encoding: 8bit\n\n").encode() + body
    r = ssmtp.run(["-v", to], msg)
    assert r.rc == 0, r
    assert "BODY=8BITMIME" in r.err
    got = postfix.delivered(to)
    assert len(got) == 1, postfix.log()[-3000:]
    trace, headers, got_body = split(got[0])
    assert "Subject: Grüße ✓".encode() in headers
    assert got_body == body


def test_implicit_tls(ssmtp, postfix):
    to = rcpt("smtps")
    conf(ssmtp, postfix, port="smtps")
    r = ssmtp.run([to], b"Subject: smtps\n\nover implicit TLS\n")
    assert r.rc == 0, r
    got = postfix.delivered(to)
    assert len(got) == 1 and split(got[0])[2] == b"over implicit TLS\n"
    assert b"TLS" in got[0]     # Postfix notes the cipher in Received:


def test_wrong_password(ssmtp, postfix):
    to = rcpt("wrongpw")
    conf(ssmtp, postfix, AuthPass="not-the-password")
    data = b"Subject: pw\n\nkeep\n"
    r = ssmtp.run([to], data)
    assert r.rc == 77, r
    assert "535" in r.err
    assert data in r.dead_letter
    assert postfix.delivered(to, timeout=2) == []


def test_untrusted_hub_certificate(ssmtp, postfix):
    to = rcpt("untrusted")
    conf(ssmtp, postfix, TLS_CA_File=str(ssmtp.certs / "rogue-ca.crt"))
    data = b"Subject: u\n\nsecret\n"
    r = ssmtp.run(["-v", to], data)
    assert r.rc == 69, r
    assert "not trusted" in r.err
    assert "AUTH" not in r.err.split("-> STARTTLS")[-1]
    assert "MAIL FROM" not in r.err
    assert data in r.dead_letter
    assert postfix.delivered(to, timeout=2) == []


def test_auth_offered_only_after_starttls(ssmtp, postfix):
    to = rcpt("late-auth")
    # Opportunistic STARTTLS (UseSTARTTLS unset): AUTH appears after TLS.
    conf(ssmtp, postfix, UseSTARTTLS=None)
    r = ssmtp.run(["-v", to], b"Subject: a\n\nx\n")
    assert r.rc == 0, r
    before, after = r.err.split("-> STARTTLS", 1)
    assert "AUTH" not in before and "250-AUTH" in after
    assert len(postfix.delivered(to)) == 1
    # With STARTTLS turned off there is no AUTH to use: a clear error.
    conf(ssmtp, postfix, UseSTARTTLS="NO")
    r = ssmtp.run([to], b"Subject: a\n\nx\n")
    assert r.rc == 69, r
    assert "offers no AUTH" in r.err and "STARTTLS" in r.err


def test_plain_port_without_auth(ssmtp, postfix):
    to = rcpt("plainport")
    conf(ssmtp, postfix, port="plain")
    r = ssmtp.run([to], b"Subject: p\n\nclear\n")
    assert r.rc == 0, r
    assert len(postfix.delivered(to)) == 1


def test_plain_port_with_auth_user_is_refused(ssmtp, postfix):
    # AUTH is impossible there; ssmtp must not go on without it.
    to = rcpt("plainauth")
    conf(ssmtp, postfix, port="plain", AuthUser=USER, AuthPass=PASSWORD)
    r = ssmtp.run([to], b"Subject: p\n\nx\n")
    assert r.rc == 69, r
    assert postfix.delivered(to, timeout=2) == []


def test_relaying_elsewhere_refused(ssmtp, postfix):
    # The test hub delivers only to its own domains: any other recipient is
    # refused at RCPT (so nothing can leave this machine), and ssmtp
    # reports that permanent refusal as 67 with the message kept.
    conf(ssmtp, postfix)
    data = b"Subject: r\n\nx\n"
    r = ssmtp.run(["someone@elsewhere.invalid"], data)
    assert r.rc == 67, r
    assert "someone@elsewhere.invalid" in r.err and "550" in r.err
    assert data in r.dead_letter
