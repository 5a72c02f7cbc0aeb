"""End-to-end: ssmtp against an aiosmtpd smarthub on loopback."""
import base64
import re

import pytest

CRLF = b"\r\n"


def body_of(content):
    """The body of a message as received: after the first blank line."""
    return content.split(b"\r\n\r\n", 1)[1]


def header_lines(content):
    return content.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def count_field(content, name):
    return sum(1 for line in header_lines(content)
               if line.lower().startswith(name.lower() + b":"))


def test_starttls_auth_plain(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(["rcpt@example.org"], b"Subject: hi\n\nhello\n")
    assert r.rc == 0, r
    assert len(h.messages) == 1
    m = h.messages[0]
    assert m["tls"] and m["login"] == "user"
    assert h.auth_log == [("PLAIN", True)]
    assert m["mail_from"] == "root@client.test"
    assert m["rcpt_tos"] == ["rcpt@example.org"]
    assert body_of(m["content"]) == b"hello\r\n"
    for field in (b"From", b"Date", b"Message-ID", b"Subject"):
        assert count_field(m["content"], field) == 1, field
    assert r.dead_letter is None


def test_implicit_tls(ssmtp, hub):
    h = hub("implicit")
    ssmtp.conf(h)
    r = ssmtp.run(["rcpt@example.org"], b"Subject: implicit\n\nover TLS\n")
    assert r.rc == 0, r
    assert h.messages[0]["tls"]
    assert body_of(h.messages[0]["content"]) == b"over TLS\r\n"


def test_sslmtp_style_tls_keys_mean_starttls(ssmtp, hub):
    # sSMTP: UseSTARTTLS=YES implies TLS, done with STARTTLS, even with
    # UseTLS=YES also set (the usual Gmail-on-587 config).
    h = hub("starttls")
    ssmtp.conf(h, UseTLS="YES")
    r = ssmtp.run(["rcpt@example.org"], b"Subject: s\n\nx\n")
    assert r.rc == 0, r
    assert h.messages[0]["tls"]


@pytest.mark.parametrize("method", ["LOGIN", "CRAM-MD5"])
def test_auth_method(ssmtp, hub, method):
    h = hub("starttls")
    ssmtp.conf(h, AuthMethod=method)
    r = ssmtp.run(["rcpt@example.org"], b"Subject: m\n\nx\n")
    assert r.rc == 0, r
    assert h.auth_log == [(method, True)]


def test_wrong_password_is_77_and_kept(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, AuthPass="wrong")
    data = b"Subject: pw\n\nkeep me\n"
    r = ssmtp.run(["rcpt@example.org"], data)
    assert r.rc == 77, r
    assert h.messages == []
    assert h.auth_log == [("PLAIN", False)]
    assert "535" in r.err and "dead.letter" in r.err
    assert data in r.dead_letter


def test_untrusted_certificate_refused(ssmtp, hub):
    h = hub("starttls", cert="rogue")
    ssmtp.conf(h)
    r = ssmtp.run(["rcpt@example.org"], b"Subject: u\n\nsecret body\n")
    assert r.rc == 69, r
    assert "not trusted" in r.err
    # Nothing but EHLO and STARTTLS went out in clear: no AUTH, no mail.
    assert h.auth_log == [] and h.messages == []
    assert b"secret body" in r.dead_letter


def test_untrusted_certificate_refused_implicit(ssmtp, hub):
    h = hub("implicit", cert="rogue")
    ssmtp.conf(h)
    r = ssmtp.run(["rcpt@example.org"], b"Subject: u\n\nx\n")
    assert r.rc == 69, r
    assert h.auth_log == [] and h.messages == []


def test_wrong_host_certificate_refused(ssmtp, hub):
    h = hub("starttls", cert="wronghost")
    ssmtp.conf(h)
    r = ssmtp.run(["rcpt@example.org"], b"Subject: w\n\nx\n")
    assert r.rc == 69, r
    assert "not trusted" in r.err
    assert h.messages == []


def test_host_name_verified_by_dns_name(ssmtp, hub):
    # The certificate names "localhost": verified as a DNS name, not an
    # address.
    h = hub("starttls")
    ssmtp.conf(h, Mailhub="localhost:%d" % h.port)
    r = ssmtp.run(["rcpt@example.org"], b"Subject: n\n\nx\n")
    assert r.rc == 0, r


def test_dots_exact_with_i(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    body = b".leading dot\n..two dots\n.\nafter a lone dot\n. space\n"
    r = ssmtp.run(["-i", "rcpt@example.org"], b"Subject: dots\n\n" + body)
    assert r.rc == 0, r
    assert body_of(h.messages[0]["content"]) == body.replace(b"\n", CRLF)


def test_oi_same_as_i(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(["-oi", "rcpt@example.org"], b"Subject: d\n\na\n.\nb\n")
    assert r.rc == 0, r
    assert body_of(h.messages[0]["content"]) == b"a\r\n.\r\nb\r\n"


def test_lone_dot_ends_input_without_i(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(["rcpt@example.org"], b"Subject: d\n\nbefore\n.\nafter\n")
    assert r.rc == 0, r
    assert body_of(h.messages[0]["content"]) == b"before\r\n"


def test_bare_lf_and_crlf_input(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r1 = ssmtp.run(["a@example.org"], b"Subject: lf\n\none\ntwo\n")
    r2 = ssmtp.run(["a@example.org"], b"Subject: crlf\r\n\r\none\r\ntwo\r\n")
    assert r1.rc == 0 and r2.rc == 0, (r1, r2)
    for m in h.messages:
        c = m["content"]
        assert re.search(rb"(?<!\r)\n", c) is None, c
        assert b"\r\r" not in c
        assert body_of(c) == b"one\r\ntwo\r\n"


def test_last_line_without_newline(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(["a@example.org"], b"Subject: x\n\nno newline at end")
    assert r.rc == 0, r
    assert body_of(h.messages[0]["content"]) == b"no newline at end\r\n"


def test_t_to_cc_bcc(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    msg = (b"To: Alice <alice@example.org>, bob@example.org\n"
           b"Cc: \"Carol, C.\" <carol@example.org>,\n alice@example.org\n"
           b"Bcc: hidden@example.org\n"
           b"Subject: t\n\nbody\n")
    r = ssmtp.run(["-t"], msg)
    assert r.rc == 0, r
    m = h.messages[0]
    assert sorted(m["rcpt_tos"]) == ["alice@example.org", "bob@example.org",
                                     "carol@example.org", "hidden@example.org"]
    assert b"hidden" not in m["content"] and count_field(m["content"], b"Bcc") == 0
    assert count_field(m["content"], b"Cc") == 1


def test_t_without_recipients_is_65(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    data = b"Subject: nobody\n\nbody\n"
    r = ssmtp.run(["-t"], data)
    assert r.rc == 65, r
    assert "no recipients" in r.err
    assert h.messages == [] and data in r.dead_letter


def test_no_recipients_is_64(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run([], b"Subject: s\n\nx\n")
    assert r.rc == 64, r
    assert h.messages == []


def test_unknown_option_is_64(ssmtp):
    ssmtp.conf(Mailhub="127.0.0.1:1")
    r = ssmtp.run(["-Z", "a@example.org"])
    assert r.rc == 64, r
    assert "unknown option -Z" in r.err


def test_recipient_with_crlf_refused(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(["a@example.org\r\nRCPT TO:<evil@example.org>"], b"x\n")
    assert r.rc == 64, r
    assert h.messages == []


def test_version(ssmtp):
    r = ssmtp.run(["-V"])
    assert r.rc == 0 and r.out.startswith("ssmtp ")


def test_config_bad_port_names_file_and_line(ssmtp):
    ssmtp.conf_path.write_text("# test\nMailhub=mail.example.com:99999\n")
    data = b"Subject: c\n\nkept\n"
    r = ssmtp.run(["a@example.org"], data)
    assert r.rc == 78, r
    assert "%s:2:" % ssmtp.conf_path in r.err
    assert data in r.dead_letter


def test_config_bad_bool_is_78(ssmtp):
    ssmtp.conf_path.write_text("Mailhub=127.0.0.1\nUseSTARTTLS=sure\n")
    r = ssmtp.run(["a@example.org"], b"x\n")
    assert r.rc == 78, r
    assert ":2:" in r.err and "sure" in r.err


def test_config_missing_file_named(ssmtp, tmp_path):
    missing = tmp_path / "nope.conf"
    r = ssmtp.run(["a@example.org"], b"x\n", conf=missing)
    assert r.rc == 78, r
    assert str(missing) in r.err


def test_config_unknown_key_warns_and_sends(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, SomeFutureKey="1")
    r = ssmtp.run(["a@example.org"], b"Subject: k\n\nx\n")
    assert r.rc == 0, r
    assert "unknown key" in r.err and "SomeFutureKey" in r.err
    assert len(h.messages) == 1


def test_config_without_mailhub_is_78(ssmtp):
    ssmtp.conf_path.write_text("Hostname=client.test\n")
    r = ssmtp.run(["a@example.org"], b"x\n")
    assert r.rc == 78, r
    assert "Mailhub" in r.err


def test_connection_refused_is_75_and_kept(ssmtp, closed_port):
    ssmtp.conf(Mailhub="127.0.0.1:%d" % closed_port)
    data = b"Subject: refused\n\nFrom the start\nline two\n"
    r = ssmtp.run(["a@example.org"], data)
    assert r.rc == 75, r
    dl = r.dead_letter
    assert dl.startswith(b"From ")
    # mboxrd: the body line starting with "From " is quoted, reversibly.
    assert b"\n>From the start\n" in dl
    assert b"line two\n" in dl
    assert str(ssmtp.home / "dead.letter") in r.err


def test_unknown_host_is_68(ssmtp):
    ssmtp.conf(Mailhub="no-such-host.invalid")
    r = ssmtp.run(["a@example.org"], b"x\n")
    assert r.rc == 68, r


def test_starttls_required_but_not_offered(ssmtp, hub):
    h = hub("plain", auth_required=False)
    ssmtp.conf(h, UseSTARTTLS="YES", AuthUser=None, AuthPass=None)
    r = ssmtp.run(["a@example.org"], b"Subject: p\n\nx\n")
    assert r.rc == 69, r
    assert "STARTTLS" in r.err
    assert h.messages == []


def test_plain_hub_without_auth(ssmtp, hub):
    h = hub("plain", auth_required=False)
    ssmtp.conf(h, AuthUser=None, AuthPass=None)
    r = ssmtp.run(["a@example.org"], b"Subject: p\n\nx\n")
    assert r.rc == 0, r
    assert not h.messages[0]["tls"]


def test_password_in_clear_only_to_loopback(ssmtp, hub):
    # A loopback hub is the one place a password may go without TLS.
    h = hub("plain", auth_require_tls=False)
    ssmtp.conf(h)
    r = ssmtp.run(["a@example.org"], b"Subject: p\n\nx\n")
    assert r.rc == 0, r
    assert h.messages[0]["login"] == "user"


def test_greeting_timeout_is_75(ssmtp, silent_server):
    ssmtp.conf(Mailhub="127.0.0.1:%d" % silent_server.port, Timeout="2")
    data = b"Subject: slow\n\nx\n"
    r = ssmtp.run(["a@example.org"], data, timeout=30)
    assert r.rc == 75, r
    assert r.elapsed < 10
    assert "timed out" in r.err and "greeting" in r.err
    assert data in r.dead_letter


def test_verbose_redacts_the_password(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(["-v", "a@example.org"], b"Subject: v\n\nx\n")
    assert r.rc == 0, r
    assert "-> AUTH PLAIN <redacted>" in r.err
    assert "-> MAIL FROM:<root@client.test>" in r.err
    secret_b64 = base64.b64encode(b"\0user\0secret").decode()
    assert "secret" not in r.err and secret_b64 not in r.err


def test_verbose_redacts_login_exchange(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, AuthMethod="LOGIN")
    r = ssmtp.run(["-v", "a@example.org"], b"Subject: v\n\nx\n")
    assert r.rc == 0, r
    assert base64.b64encode(b"secret").decode() not in r.err
    assert "secret" not in r.err


def test_from_line_override(ssmtp, hub):
    h = hub("starttls")
    msg = b"From: Web App <app@site.example>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nSubject: f\n\nx\n"
    ssmtp.conf(h, FromLineOverride="YES")
    r = ssmtp.run(["a@example.org"], msg)
    assert r.rc == 0, r
    c = h.messages[0]["content"]
    assert count_field(c, b"From") == 1 and b"From: Web App <app@site.example>" in c
    assert count_field(c, b"Date") == 1
    assert h.messages[0]["mail_from"] == "app@site.example"
    # Without it (sSMTP's default) From is the user's own address.
    ssmtp.conf(h, FromLineOverride="NO")
    r = ssmtp.run(["a@example.org"], msg)
    assert r.rc == 0, r
    c = h.messages[1]["content"]
    assert count_field(c, b"From") == 1 and b"app@site.example" not in c
    assert h.messages[1]["mail_from"] == "root@client.test"


def test_f_sets_envelope_sender(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, FromLineOverride="YES")
    msg = b"From: Author <author@example.org>\nSubject: f\n\nx\n"
    r = ssmtp.run(["-f", "bounces@example.org", "a@example.org"], msg)
    assert r.rc == 0, r
    assert h.messages[0]["mail_from"] == "bounces@example.org"
    assert b"From: Author <author@example.org>" in h.messages[0]["content"]


def test_F_names_the_sender(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(["-F", "Cron Daemon", "a@example.org"], b"Subject: F\n\nx\n")
    assert r.rc == 0, r
    assert b"From: Cron Daemon <root@client.test>" in h.messages[0]["content"]


def test_revaliases_file(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    (ssmtp.confdir / "revaliases").write_text("root:admin@example.net\n")
    r = ssmtp.run(["a@example.org"], b"Subject: r\n\nx\n")
    assert r.rc == 0, r
    assert h.messages[0]["mail_from"] == "admin@example.net"


def test_recipient_refused_all_or_nothing(ssmtp, hub):
    h = hub("starttls")
    h.handler.refuse["bad@example.org"] = "550 5.1.1 no such user"
    ssmtp.conf(h)
    data = b"Subject: r\n\nx\n"
    r = ssmtp.run(["good@example.org", "bad@example.org"], data)
    assert r.rc == 67, r
    assert "bad@example.org" in r.err and "5.1.1" in r.err
    assert h.messages == []
    assert data in r.dead_letter


def test_recipient_temp_refused_is_75(ssmtp, hub):
    h = hub("starttls")
    h.handler.refuse["later@example.org"] = "450 4.2.0 try later"
    ssmtp.conf(h)
    r = ssmtp.run(["later@example.org"], b"Subject: r\n\nx\n")
    assert r.rc == 75, r
    assert h.messages == []


def test_second_hub_used_when_first_down(ssmtp, hub, closed_port):
    h = hub("starttls")
    ssmtp.conf(h, Mailhub="127.0.0.1:%d, 127.0.0.1:%d" % (closed_port, h.port))
    r = ssmtp.run(["a@example.org"], b"Subject: two\n\nx\n")
    assert r.rc == 0, r
    assert len(h.messages) == 1


def test_size_limit_checked_before_sending(ssmtp, hub):
    h = hub("starttls", data_size_limit=1000)
    ssmtp.conf(h)
    data = b"Subject: big\n\n" + b"x" * 70 + b"\n" + b"y" * 2000 + b"\n"
    r = ssmtp.run(["a@example.org"], data)
    assert r.rc == 69, r
    assert "SIZE" in r.err
    assert h.messages == [] and data in r.dead_letter


def test_size_declared_exactly(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(["a@example.org"], b"Subject: s\n\nline\nline\r\nend")
    assert r.rc == 0, r
    m = h.messages[0]
    assert "SIZE=%d" % len(m["content"]) in m["mail_options"]


def test_large_message_through_temp_file(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    lines = b"".join(b".%07d the quick brown fox\n" % i for i in range(80000))
    r = ssmtp.run(["-i", "a@example.org"], b"Subject: big\n\n" + lines)
    assert r.rc == 0, r
    assert body_of(h.messages[0]["content"]) == lines.replace(b"\n", CRLF)


def test_8bit_body_declared(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(["a@example.org"],
                  "Subject: caf\u00e9\n\nna\u00efve r\u00e9sum\u00e9\n".encode())
    assert r.rc == 0, r
    assert "BODY=8BITMIME" in h.messages[0]["mail_options"]
    assert "na\u00efve".encode() in h.messages[0]["content"]


def test_smtputf8_for_non_ascii_address(ssmtp, hub, scripted):
    h = hub("starttls")
    ssmtp.conf(h)
    rcpt = "j\u00f6rg@b\u00fccher.example"
    r = ssmtp.run([rcpt], b"Subject: u\n\nx\n")
    assert r.rc == 0, r
    m = h.messages[0]
    assert "SMTPUTF8" in m["mail_options"]
    assert m["rcpt_tos"] == [rcpt]
    # ASCII addresses: no SMTPUTF8.
    assert ssmtp.run(["a@example.org"], b"Subject: a\n\nx\n").rc == 0
    assert "SMTPUTF8" not in h.messages[1]["mail_options"]


def test_non_ascii_address_without_smtputf8_is_69(ssmtp, scripted):
    def session(c):
        c.reply("220 hub.test")
        c.expect("EHLO")
        c.reply("250-hub.test", "250 8BITMIME")
        c.expect("QUIT")
        c.reply("221 bye")

    s = scripted(session)
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port)
    data = b"Subject: u\n\nx\n"
    r = ssmtp.run(["j\u00f6rg@example.org"], data)
    assert r.rc == 69, r
    assert "SMTPUTF8" in r.err
    assert data in r.dead_letter
    assert not s.errors, s.errors
