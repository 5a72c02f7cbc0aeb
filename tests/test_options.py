"""Every command-line option and config key, table-driven: what each one
does, or that it is accepted and ignored, or refused (64), as ssmtp(8)
and ssmtp.conf(5) say."""
import email
import email.header
import email.policy
import hashlib
import os
import ssl
import subprocess
import threading
import time

import pytest

MSG = b"To: a@example.org\nSubject: options\n\nbody\n"

# sSMTP 2.64's "ignored" and "default" options and what callers pass:
# accepted, and the message is sent.
IGNORED = [
    ["-oem"], ["-oee"], ["-oep"], ["-oeq"], ["-oew"], ["-odi"], ["-odb"],
    ["-odq"], ["-B8BITMIME"], ["-B7BIT"], ["-B", "8BITMIME"], ["-Nnever"],
    ["-N", "success,failure"], ["-Rhdrs"], ["-R", "full"], ["-bm"], ["-E"],
    ["-m"], ["-n"], ["-U"], ["-h5"], ["-h", "5"], ["-Ltag"], ["-Oopt=val"],
    ["-X/dev/null"], ["-d0.1"], ["-oA/etc/aliases"], ["-oc"], ["-oD"],
    ["-oF600"], ["-of"], ["-og0"], ["-oH/x"], ["-oL5"], ["-om"],
    ["-oQ/var/spool/mqueue"], ["-or5m"], ["-oS/x"], ["-os"], ["-oT5d"],
    ["-otUTC"], ["-ou0"], ["-Mqueueid"], ["-oi", "-oem", "-odi"],
    ["-i"], ["-v"], ["-4"], ["--"],
]

# Modes that send nothing given: exit 0, nothing read or sent (the queue,
# here empty, is test_queue.py's).
SIMULATED = [(["-bp"], "Mail queue is empty"), (["-bi"], ""),
             (["-q"], ""), (["-q30m"], ""), (["-V"], "ssmtp ")]

UNSUPPORTED = [["-ba"], ["-bd"], ["-bt"], ["-bv"], ["-bz"], ["-oo"],
               ["-Z"], ["-bx"], ["-ax", "v"]]


@pytest.mark.parametrize("opts", IGNORED, ids=[" ".join(o) for o in IGNORED])
def test_ignored_option_still_sends(ssmtp, hub, opts):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(opts + ["a@example.org"], MSG)
    assert r.rc == 0, r
    assert len(h.messages) == 1


@pytest.mark.parametrize("opts,out", SIMULATED, ids=[o[0][0] for o in SIMULATED])
def test_simulated_option(ssmtp, hub, opts, out):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(opts, MSG)
    assert r.rc == 0, r
    assert out in r.out
    assert h.messages == [] and r.dead_letter is None
    # Asked to send as well: a usage error, and still nothing sent.
    r = ssmtp.run(opts + ["a@example.org"], MSG)
    assert r.rc == 64, r
    assert h.messages == []


@pytest.mark.parametrize("opts", UNSUPPORTED, ids=[" ".join(o) for o in UNSUPPORTED])
def test_unsupported_option_is_64(ssmtp, hub, opts):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(opts + ["a@example.org"], MSG)
    assert r.rc == 64, r
    assert r.err.strip()
    assert h.messages == []


@pytest.mark.parametrize("flag", ["-F", "-f", "-C", "-r", "-au", "-o"])
def test_option_without_value_is_64(ssmtp, hub, flag):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run([flag], MSG)
    assert r.rc == 64, r
    assert "needs a value" in r.err


@pytest.mark.parametrize("name,rc,out", [("mailq", 0, "Mail queue is empty"),
                                         ("newaliases", 0, ""),
                                         ("sendmail", 0, "")])
def test_invoked_by_name(ssmtp, hub, tmp_path, name, rc, out):
    h = hub("starttls")
    ssmtp.conf(h)
    link = tmp_path / name
    os.symlink(ssmtp.binary, link)
    ssmtp.binary = link
    r = ssmtp.run(["a@example.org"] if name == "sendmail" else [], MSG)
    assert r.rc == rc, r
    assert out in r.out
    assert len(h.messages) == (1 if name == "sendmail" else 0)


def test_clustered_flags(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(["-ti"], MSG + b".\nafter the dot\n")
    assert r.rc == 0, r
    assert h.messages[0]["rcpt_tos"] == ["a@example.org"]
    assert b"after the dot" in h.messages[0]["content"]


def test_r_same_as_f(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(["-r", "bounce@example.org", "a@example.org"], MSG)
    assert r.rc == 0, r
    assert h.messages[0]["mail_from"] == "bounce@example.org"


def test_f_null_sender(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(["-v", "-f", "<>", "a@example.org"], MSG)
    assert r.rc == 0, r
    assert "-> MAIL FROM:<> " in r.err
    assert h.messages[0]["mail_from"] in ("", "<>")


def test_f_bare_name_qualified(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, RewriteDomain="example.net")
    r = ssmtp.run(["-f", "alerts", "a@example.org"], MSG)
    assert r.rc == 0, r
    assert h.messages[0]["mail_from"] == "alerts@example.net"


def test_f_with_crlf_refused(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(["-f", "a@b\r\nRCPT TO:<x@y>", "a@example.org"], MSG)
    assert r.rc == 64, r
    assert h.messages == []


def test_F_non_ascii_is_rfc2047(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(["-F", "J\u00f6rg M\u00fcller-\u6771\u4eac", "a@example.org"], MSG)
    assert r.rc == 0, r
    raw = [l for l in h.messages[0]["content"].split(b"\r\n") if l.startswith(b"From:")][0]
    assert all(c < 0x80 for c in raw), raw          # encoded, 7-bit
    assert b"=?UTF-8?B?" in raw
    name = str(email.header.make_header(email.header.decode_header(
        raw[5:].decode().rsplit("<", 1)[0])))
    assert name.strip() == "J\u00f6rg M\u00fcller-\u6771\u4eac"


def test_F_with_specials_is_quoted(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(["-F", 'Doe, "JD" John', "a@example.org"], MSG)
    assert r.rc == 0, r
    assert b'From: "Doe, \\"JD\\" John" <root@client.test>' in h.messages[0]["content"]


def test_auth_options_override_config(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, AuthUser=None, AuthPass=None)
    r = ssmtp.run(["-auuser", "-apsecret", "-amLOGIN", "a@example.org"], MSG)
    assert r.rc == 0, r
    assert h.auth_log == [("LOGIN", True)]
    r = ssmtp.run(["-au", "user", "-ap", "wrong", "a@example.org"], MSG)
    assert r.rc == 77, r
    r = ssmtp.run(["-amDIGEST-MD5", "a@example.org"], MSG)
    assert r.rc == 64, r


def test_ap_password_hidden_from_ps(ssmtp, silent_server):
    ssmtp.conf(Mailhub="127.0.0.1:%d" % silent_server.port, Timeout="3")
    secret = "hunter2-%d" % os.getpid()
    p = subprocess.Popen([str(ssmtp.binary), "-C", str(ssmtp.conf_path),
                          "-auuser", "-ap" + secret, "a@example.org"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env={"HOME": str(ssmtp.home)})
    p.stdin.write(MSG)
    p.stdin.close()
    try:
        # Wait until it is connected (reading the greeting), then look.
        deadline = time.monotonic() + 10
        while not silent_server.conns and time.monotonic() < deadline:
            time.sleep(0.05)
        cmdline = open("/proc/%d/cmdline" % p.pid, "rb").read()
    finally:
        p.wait(20)
    assert silent_server.conns
    assert secret.encode() not in cmdline
    assert b"-auuser" in cmdline


def test_root_key_maps_system_accounts(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, Root="postmaster@example.org", RewriteDomain="example.net")
    # daemon is a system account (uid < 1000); a name with no passwd entry
    # is just qualified.
    r = ssmtp.run(["daemon", "nosuchuser-xyz"], MSG)
    assert r.rc == 0, r
    assert h.messages[0]["rcpt_tos"] == ["postmaster@example.org",
                                         "nosuchuser-xyz@example.net"]


def test_rewrite_domain_and_hostname(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, Hostname="box.example.com", RewriteDomain="example.net")
    r = ssmtp.run(["-v", "a@example.org"], MSG)
    assert r.rc == 0, r
    assert "-> EHLO box.example.com" in r.err
    assert h.messages[0]["mail_from"] == "root@example.net"
    assert b"@box.example.com>" in h.messages[0]["content"]     # Message-ID
    # Without RewriteDomain, Hostname qualifies the sender.
    ssmtp.conf(h, Hostname="box.example.com")
    assert ssmtp.run(["a@example.org"], MSG).rc == 0
    assert h.messages[1]["mail_from"] == "root@box.example.com"


def test_add_header(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    with open(ssmtp.conf_path, "a") as f:
        f.write("AddHeader=X-Origin: server1\nAddHeader=X-Env: test\n")
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    c = h.messages[0]["content"]
    assert b"\r\nX-Origin: server1\r\n" in c and b"\r\nX-Env: test\r\n" in c


def test_debug_key_prints_dialogue(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, Debug="YES")
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert "-> MAIL FROM:<root@client.test>" in r.err
    assert "secret" not in r.err


def tls_refusing_hub(scripted, ctx):
    """A hub whose TLS handshake fails with a real alert (blocking ssl)."""
    def session(c):
        c.reply("220 hub.test")
        c.expect("EHLO")
        c.reply("250-hub.test", "250 STARTTLS")
        c.expect("STARTTLS")
        c.reply("220 go ahead")
        try:
            c.starttls(ctx)
        except ssl.SSLError:
            pass
    return scripted(session)


def test_client_certificate(ssmtp, hub, scripted, certs):
    h = hub("starttls", client_ca=True)
    ssmtp.conf(h, UseTLSCert="YES", TLSCert=str(ssmtp.certs / "client.crt"),
               TLSKey=str(ssmtp.certs / "client.key"))
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert len(h.messages) == 1
    # Without one, a hub that requires it refuses the TLS session.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(certs / "server.crt"), str(certs / "server.key"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(str(certs / "ca.crt"))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2    # the alert comes in the handshake
    s = tls_refusing_hub(scripted, ctx)
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port, UseSTARTTLS="YES")
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 69, r
    assert "TLS" in r.err


def test_client_certificate_missing_file_is_78(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, UseTLSCert="YES", TLSCert=str(ssmtp.tmp / "nope.pem"))
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 78, r
    assert "nope.pem" in r.err


def test_tls_ca_dir(ssmtp, hub, tmp_path):
    cadir = tmp_path / "cadir"
    cadir.mkdir()
    (cadir / "test-ca.pem").write_bytes((ssmtp.certs / "ca.crt").read_bytes())
    subprocess.run(["openssl", "rehash", str(cadir)], check=True, timeout=30)
    h = hub("starttls")
    ssmtp.conf(h, TLS_CA_File=None, TLS_CA_Dir=str(cadir))
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r


def test_system_store_does_not_trust_test_ca(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, TLS_CA_File=None)
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 69, r
    assert h.messages == []


def fingerprint(path):
    der = ssl.PEM_cert_to_DER_cert(open(path).read())
    return hashlib.sha256(der).hexdigest()


def test_fingerprint_pin(ssmtp, hub):
    h = hub("starttls")
    good = fingerprint(ssmtp.certs / "server.crt")
    ssmtp.conf(h, TLSFingerprint=":".join(good[i:i + 2] for i in range(0, 64, 2)))
    assert ssmtp.run(["a@example.org"], MSG).rc == 0
    ssmtp.conf(h, TLSFingerprint="00" * 32)
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 69, r
    assert "TLSFingerprint" in r.err
    assert len(h.messages) == 1


def test_fingerprint_alone_with_tls_verify_no(ssmtp, hub):
    h = hub("starttls", cert="rogue")       # not from a trusted CA
    ssmtp.conf(h, TLSVerify="NO", TLSFingerprint=fingerprint(ssmtp.certs / "rogue.crt"))
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert "TLSVerify=NO" not in r.err      # pinned: no warning


def test_tls_verify_no_warns(ssmtp, hub):
    h = hub("starttls", cert="rogue")
    ssmtp.conf(h, TLSVerify="NO")
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert "TLSVerify=NO" in r.err and "not checked" in r.err


def test_tls_min_version(ssmtp, hub, scripted, certs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(certs / "server.crt"), str(certs / "server.key"))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    s = tls_refusing_hub(scripted, ctx)
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port, UseSTARTTLS="YES",
               TLSMinVersion="1.3")
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 69, r
    assert "TLS handshake failed" in r.err
    h = hub("starttls", max_tls=ssl.TLSVersion.TLSv1_2)
    ssmtp.conf(h, TLSMinVersion="1.2")
    r = ssmtp.run(["-v", "a@example.org"], MSG)
    assert r.rc == 0, r
    assert "TLSv1.2" in r.err


def test_auth_pass_command(ssmtp, hub, tmp_path):
    h = hub("starttls")
    ssmtp.conf(h, AuthPass=None, AuthPassCommand="/bin/echo secret")
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    ssmtp.conf(h, AuthPass=None, AuthPassCommand="/bin/false")
    data = b"Subject: kept\n\nx\n"
    r = ssmtp.run(["a@example.org"], data)
    assert r.rc == 78, r
    assert "AuthPassCommand" in r.err
    assert data in r.dead_letter
    # No shell: quotes group words, $ and ; are not special.
    ssmtp.conf(h, AuthPass=None, AuthPassCommand="/usr/bin/printf '%s\\n' 'secret;$x'")
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 77, r    # the password was really "secret;$x"


def test_world_readable_password_warned(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    os.chmod(ssmtp.conf_path, 0o644)
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert "can be read by every user" in r.err
    os.chmod(ssmtp.conf_path, 0o640)
    r = ssmtp.run(["a@example.org"], MSG)
    assert "can be read by every user" not in r.err


def test_t_several_headers_of_a_name_and_resent_bcc(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    msg = (b"To: a@example.org\nTo: b@example.org, a@example.org\n"
           b"Cc: c@example.org\nCc: d@example.org\nBcc: e@example.org\n"
           b"Subject: many\n\nx\n")
    r = ssmtp.run(["-t", "cmdline@example.org"], msg)
    assert r.rc == 0, r
    m = h.messages[0]
    assert sorted(m["rcpt_tos"]) == ["a@example.org", "b@example.org", "c@example.org",
                                     "cmdline@example.org", "d@example.org",
                                     "e@example.org"]
    assert b"Bcc" not in m["content"]
    # A Resent- field makes it a resent message: -t then takes the
    # newest Resent- block's recipients (RFC 5322 3.6.6, as sendmail
    # does), and Resent-Bcc never reaches the hub either.
    msg = (b"Resent-Bcc: hidden@example.org\nTo: a@example.org\n"
           b"Subject: resent\n\nx\n")
    r = ssmtp.run(["-t", "cmdline@example.org"], msg)
    assert r.rc == 0, r
    m = h.messages[1]
    assert sorted(m["rcpt_tos"]) == ["cmdline@example.org", "hidden@example.org"]
    assert b"Bcc" not in m["content"] and b"hidden@" not in m["content"]


# The ssmtp.conf that Debian's ssmtp 2.64 package writes, and the one most
# guides give for a submission server: taken as they are, with only the
# hub's address, its CA and the password changed to the test's.
DEBIAN_SSMTP_CONF = """\
#
# Config file for sSMTP sendmail
#
# The person who gets all mail for userids < 1000
# Make this empty to disable rewriting.
root=postmaster

# The place where the mail goes. The actual machine name is required no 
# MX records are consulted. Commonly mailhosts are named mail.domain.com
mailhub={hub}

# Where will the mail seem to come from?
#rewriteDomain=

# The full hostname
hostname=vm.example.com

# Are users allowed to set their own From: address?
# YES - Allow the user to specify their own From: address
# NO - Use the system generated From: address
#FromLineOverride=YES
TLS_CA_File={ca}
"""

GUIDE_SSMTP_CONF = """\
root=alerts@example.com
mailhub={hub}
AuthUser=user
AuthPass=secret
UseTLS=YES
UseSTARTTLS=YES
hostname=server.example.com
FromLineOverride=YES
TLS_CA_File={ca}
"""


def test_debian_ssmtp_conf_as_is(ssmtp, hub):
    h = hub("plain", auth_required=False)   # mailhub=mail: port 25, no AUTH
    # The stock file, plus the key that keeps tests off the machine's own
    # /etc/ssmtp/revaliases (test_compat.py reads it from there).
    ssmtp.conf_path.write_text(DEBIAN_SSMTP_CONF.format(
        hub="127.0.0.1:%d" % h.port, ca=ssmtp.certs / "ca.crt") +
        "Revaliases=%s\n" % (ssmtp.confdir / "revaliases"))
    (ssmtp.confdir / "revaliases").write_text(
        "# sSMTP aliases\n#\n# Format:\tlocal_account:outgoing_address:mailhub\n"
        "root:admin@example.com\n")
    r = ssmtp.run(["daemon", "someone@example.org"], b"Subject: debian\n\nx\n")
    assert r.rc == 0, r
    assert r.err == ""                      # no warnings for a stock config
    m = h.messages[0]
    assert m["mail_from"] == "admin@example.com"
    assert m["rcpt_tos"] == ["postmaster@vm.example.com", "someone@example.org"]


def test_guide_ssmtp_conf_as_is(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf_path.write_text(GUIDE_SSMTP_CONF.format(
        hub="127.0.0.1:%d" % h.port, ca=ssmtp.certs / "ca.crt"))
    os.chmod(ssmtp.conf_path, 0o640)
    r = ssmtp.run(["-t"], b"From: App <app@example.com>\nTo: a@example.org\n"
                          b"Subject: guide\n\nx\n")
    assert r.rc == 0, r
    m = h.messages[0]
    assert m["tls"] and m["login"] == "user"
    assert m["mail_from"] == "app@example.com"


def test_system_store_hashed_dir_and_bundle(ssmtp, hub, tmp_path):
    # The system store is read lazily from its hashed folder; OpenSSL's
    # SSL_CERT_DIR and SSL_CERT_FILE point it elsewhere, as they do for
    # every OpenSSL program.
    cadir = tmp_path / "certs"
    cadir.mkdir()
    (cadir / "test-ca.pem").write_bytes((ssmtp.certs / "ca.crt").read_bytes())
    subprocess.run(["openssl", "rehash", str(cadir)], check=True, timeout=30)
    h = hub("starttls")
    ssmtp.conf(h, TLS_CA_File=None)
    r = ssmtp.run(["a@example.org"], MSG, env={"SSL_CERT_DIR": str(cadir)})
    assert r.rc == 0, r
    r = ssmtp.run(["a@example.org"], MSG,
                  env={"SSL_CERT_FILE": str(ssmtp.certs / "ca.crt")})
    assert r.rc == 0, r
    # An unhashed folder is no store: the bundle is used (and it does not
    # hold the test CA).
    os.unlink(next(p for p in cadir.iterdir() if p.name.endswith(".0")))
    r = ssmtp.run(["a@example.org"], MSG, env={"SSL_CERT_DIR": str(cadir)})
    assert r.rc == 69, r
    assert len(h.messages) == 2
