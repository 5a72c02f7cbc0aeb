"""ssmtp --check: the config read as a send reads it, then every step of a
session with each hub on its own line, and no message sent."""
import os
import re

import pytest

from postfix import USER, PASSWORD


def check(ssmtp, *extra):
    return ssmtp.run(["--check"] + list(extra))


def test_good_config(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = check(ssmtp)
    assert r.rc == 0, r
    out = r.out
    assert re.search(r"^config: .*ssmtp.conf: ok$", out, re.M)
    assert "127.0.0.1 port %d" % h.port in out
    assert re.search(r"^  connected +127\.0\.0\.1 .*%d" % h.port, out, re.M)
    assert re.search(r"^  greeting +220 ", out, re.M)
    assert re.search(r"^  TLS +TLSv1\.[23], \S+", out, re.M)
    assert re.search(r"^  certificate +CN=", out, re.M)
    assert re.search(r"^  issuer +.*CN=", out, re.M)
    assert re.search(r"^  valid +\w{3} .* GMT to \w{3} .* GMT$", out, re.M)
    assert re.search(r"^  verified +yes", out, re.M)
    assert re.search(r"^  pin +none", out, re.M)
    assert re.search(r"^  capabilities +.*AUTH", out, re.M)
    assert re.search(r"^  AUTH +PLAIN as user: accepted$", out, re.M)
    assert re.search(r"^  result +ok$", out, re.M)
    assert h.messages == []                 # nothing sent
    assert h.auth_log == [("PLAIN", True)]
    assert not (ssmtp.tmp / "queue").exists()
    assert "secret" not in out + r.err


def test_wrong_password(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, AuthPass="wrong")
    r = check(ssmtp)
    assert r.rc == 77, r
    assert re.search(r"^  AUTH +PLAIN as user: refused$", r.out, re.M)
    assert re.search(r"^  result +FAILED at AUTH: .*535", r.out, re.M)
    assert r.dead_letter is None and h.messages == []


def test_untrusted_certificate(ssmtp, hub):
    h = hub("starttls", cert="rogue")
    ssmtp.conf(h)
    r = check(ssmtp)
    assert r.rc == 69, r
    assert re.search(r"^  verified +NO: ", r.out, re.M), r.out
    assert re.search(r"^  result +FAILED at STARTTLS: .*not trusted", r.out,
                     re.M)
    assert "AUTH " not in r.out and h.auth_log == []


def test_wrong_host_name(ssmtp, hub):
    h = hub("starttls", cert="wronghost")
    ssmtp.conf(h)
    r = check(ssmtp)
    assert r.rc == 69, r
    assert re.search(r"^  certificate +CN=wronghost$", r.out, re.M), r.out
    assert re.search(r"^  verified +NO: (IP address|host name) mismatch",
                     r.out, re.M), r.out


def test_pin_mismatch(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, TLSFingerprint="00" * 32)
    r = check(ssmtp)
    assert r.rc == 69, r
    assert re.search(r"^  pin +DOES NOT match TLSFingerprint$", r.out, re.M)


def test_hub_down_then_next_hub(ssmtp, hub, closed_port):
    h = hub("starttls")
    ssmtp.conf(h, Mailhub="127.0.0.1:%d,127.0.0.1:%d" % (closed_port, h.port))
    r = check(ssmtp)
    # Every hub is reported; the worst decides: the down one, 75.
    assert r.rc == 75, r
    blocks = r.out.split("\n\n")
    assert "port %d" % closed_port in blocks[0]
    assert re.search(r"FAILED at connect: .*refused", blocks[0])
    assert re.search(r"^  result +ok$", blocks[1], re.M)


def test_revaliases_hub_is_checked_first(ssmtp, hub):
    h = hub("starttls")
    other = hub("starttls")
    ssmtp.conf(h)
    (ssmtp.confdir / "revaliases").write_text(
        "root:root@example.com:127.0.0.1:%d\n" % other.port)
    r = check(ssmtp)
    assert r.rc == 0, r
    assert "127.0.0.1 port %d (your revaliases hub)" % other.port in r.out
    assert r.out.index("port %d" % other.port) < r.out.index("port %d" % h.port)


def test_config_error_is_file_line_and_78(ssmtp):
    ssmtp.conf(None, Mailhub="127.0.0.1:25", UseSTARTTLS="perhaps")
    r = check(ssmtp)
    assert r.rc == 78, r
    assert re.search(r"ssmtp.conf:\d+: .*UseSTARTTLS", r.out)


def test_secret_readable_by_others_is_warned(ssmtp, hub):
    h = hub("starttls")
    p = ssmtp.conf(h)
    os.chmod(p, 0o644)
    r = check(ssmtp)
    assert r.rc == 0, r
    assert re.search(r"^warning: .*ssmtp.conf holds AuthPass and every user "
                     r"can read it \(mode 0644\)", r.out, re.M)
    os.chmod(p, 0o600)
    assert "warning" not in check(ssmtp).out


def test_v_shows_the_transcript_secrets_hidden(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = check(ssmtp, "-v")
    assert r.rc == 0, r
    assert "EHLO client.test" in r.err and "AUTH PLAIN" in r.err
    assert "QUIT" in r.err
    assert "c2VjcmV0" not in r.err and "secret" not in r.err


def test_check_with_recipients_is_64(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    assert check(ssmtp, "a@example.org").rc == 64


def test_against_postfix(ssmtp, postfix):
    ssmtp.conf(Mailhub="127.0.0.1:%d" % postfix.ports["submission"],
               UseSTARTTLS="YES", AuthUser=USER, AuthPass=PASSWORD)
    r = check(ssmtp)
    assert r.rc == 0, r
    assert re.search(r"^  greeting +220 .*Postfix", r.out, re.M) or \
        re.search(r"^  greeting +220 ", r.out, re.M)
    assert re.search(r"^  capabilities +.*PIPELINING.*AUTH", r.out, re.M)
    assert re.search(r"^  AUTH +\S+ as %s: accepted$" % USER, r.out, re.M)
    ssmtp.conf(Mailhub="127.0.0.1:%d" % postfix.ports["submission"],
               UseSTARTTLS="YES", AuthUser=USER, AuthPass="wrong")
    r = check(ssmtp)
    assert r.rc == 77, r
    assert re.search(r"^  result +FAILED at AUTH: .*535", r.out, re.M)


from test_setgid import sgid, run_as_nobody  # noqa: E402,F401


def test_setgid_user_sees_no_auth_user(ssmtp, hub, sgid):
    import shutil
    d, binary, home = sgid
    h = hub("starttls")
    ca = os.path.join(d, "ca.crt")
    shutil.copy(ssmtp.certs / "ca.crt", ca)
    os.chmod(ca, 0o644)
    conf_text = ssmtp.conf(h, TLS_CA_File=ca, Revaliases=None,
                           AuthUser="alerts-account").read_text()
    h.handler.users["alerts-account"] = "secret"
    r = run_as_nobody(d, binary, home, conf_text, ["--check"], b"")
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr
    assert re.search(r"^  AUTH +PLAIN as the configured user: accepted$",
                     out, re.M), out
    assert "alerts-account" not in out + r.stderr.decode()
