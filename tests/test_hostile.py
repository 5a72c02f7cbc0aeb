"""Hostile input, round two (issue 11): each test here failed against the
build before its fix.  A hostile hub, a hostile or careless caller, a
careless admin, and a local user planting files."""
import base64
import hashlib
import hmac
import os
import re
import signal
import stat
import subprocess
import time

import pytest

MSG = b"Subject: s\n\nbody\n"


def plain(ssmtp, server, **kw):
    return ssmtp.conf(Mailhub="127.0.0.1:%d" % server.port, **kw)


def greet(c, *caps):
    c.reply("220 hub.test ESMTP")
    c.expect("EHLO")
    c.reply(*(["250-hub.test"] + ["250-" + x for x in caps[:-1]] +
              ["250 " + caps[-1]] if caps else ["250 hub.test"]))


# --- 1. CRAM-MD5 with a long user name -----------------------------------

def cram_session(got, challenge):
    def session(c):
        greet(c, "AUTH CRAM-MD5")
        c.expect("AUTH CRAM-MD5")
        c.reply("334 " + base64.b64encode(challenge).decode())
        got["resp"] = base64.b64decode(c.line())
        c.reply("235 2.7.0 ok")
        c.accept_mail()
    return session


@pytest.mark.parametrize("ulen", [560, 567, 580, 599, 600, 601, 1000, 4095])
def test_cram_md5_long_user(ssmtp, scripted, ulen):
    user = ("u%d-" % ulen + "x" * ulen)[:ulen]
    challenge = b"<1896.697170952@postoffice.example.net>"
    got = {}
    s = scripted(cram_session(got, challenge))
    plain(ssmtp, s, AuthUser=user, AuthPass="tanstaaftanstaaf",
          AuthMethod="CRAM-MD5")
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert not s.errors, s.errors
    want = hmac.new(b"tanstaaftanstaaf", challenge, hashlib.md5).hexdigest()
    assert got["resp"] == user.encode() + b" " + want.encode()


# --- 2. Bare CR: one line-end rule everywhere -----------------------------

def record_session(got, chunking=False):
    """A hub that takes one message, lock-step (or BDAT with CHUNKING and
    PIPELINING), and records the MAIL line, the RCPTs and the data."""
    def session(c):
        caps = ["SIZE 10000000"]
        if chunking:
            caps += ["PIPELINING", "CHUNKING"]
        greet(c, *caps)
        got["mail"] = c.expect("MAIL FROM:")
        got["rcpts"] = []
        if chunking:
            while True:
                line = c.line()
                if line.startswith(b"BDAT "):
                    break
                got["rcpts"].append(line)
            n = int(line.split()[1])
            got["data"] = c.read_exact(n)
            got["next"] = c.line()      # QUIT, if the count was exact
            c.reply("250 ok", *(["250 ok"] * len(got["rcpts"])))
            c.reply("250 2.0.0 queued", "221 bye")
            return
        c.reply("250 ok")
        while True:
            line = c.line()
            if line == b"DATA":
                break
            got["rcpts"].append(line)
            c.reply("250 ok")
        c.reply("354 go")
        got["data"] = c.data()
        c.reply("250 2.0.0 queued")
        c.expect("QUIT")
        c.reply("221 bye")
    return session


def wire_lines_ok(data):
    """Every CR and LF on the wire is part of a CRLF."""
    return re.search(rb"\r(?!\n)|(?<!\r)\n", data) is None


def header_section(data):
    return data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def unstuffed(data):
    return re.sub(rb"(^|\r\n)\.", rb"\1", data)


def send_recorded(ssmtp, scripted, msg, args, chunking=False, **conf):
    got = {}
    s = scripted(record_session(got, chunking))
    plain(ssmtp, s, **conf)
    r = ssmtp.run(args, msg)
    assert r.rc == 0, r
    assert not s.errors, s.errors
    return got, r


def test_bare_cr_smuggling_in_body_data(ssmtp, scripted):
    msg = b"Subject: x\n\nhalf\r.\r\nMAIL FROM:<spoof@x>\r\n"
    got, _ = send_recorded(ssmtp, scripted, msg, ["-i", "a@example.org"])
    data = got["data"]
    assert wire_lines_ok(data), data
    assert data.endswith(b"\r\n\r\nhalf\r\n..\r\nMAIL FROM:<spoof@x>\r\n")
    size = int(re.search(rb"SIZE=(\d+)", got["mail"]).group(1))
    assert size == len(unstuffed(data))


def test_bare_cr_smuggling_in_body_bdat(ssmtp, scripted):
    msg = b"Subject: x\n\nhalf\r.\r\nMAIL FROM:<spoof@x>\r\nend\r"
    got, _ = send_recorded(ssmtp, scripted, msg, ["-i", "a@example.org"],
                           chunking=True)
    data = got["data"]
    assert got["next"] == b"QUIT", got     # the BDAT count was exact
    assert wire_lines_ok(data), data
    assert data.endswith(b"\r\n\r\nhalf\r\n.\r\nMAIL FROM:<spoof@x>\r\nend\r\n")


def test_bare_cr_dot_line_ends_input_without_i(ssmtp, scripted):
    # The lone-dot rule uses the same line ends: "\r.\r" is a "." line.
    msg = b"Subject: x\n\nhalf\r.\rafter\n"
    got, _ = send_recorded(ssmtp, scripted, msg, ["a@example.org"])
    assert got["data"].endswith(b"\r\n\r\nhalf\r\n")


@pytest.mark.parametrize("msg", [
    b"Subject: x\rFrom: ceo@corp.example\n\nbody\n",
    b"From: ceo@corp.example\rSubject: x\n\nbody\n",
    b"Subject: x\r\nFrom: a@b.example\r\rbody\n",
    b"\rFrom: ceo@corp.example\nSubject: x\n\nbody\n",
])
def test_bare_cr_no_second_from(ssmtp, scripted, msg):
    got, _ = send_recorded(ssmtp, scripted, msg, ["a@example.org"])
    data = got["data"]
    assert wire_lines_ok(data), data
    hdrs = header_section(data)
    froms = [h for h in hdrs if h.lower().startswith(b"from:")]
    assert froms == [b"From: root <root@client.test>"], hdrs


@pytest.mark.parametrize("msg", [
    b"Subject: x\rBcc: v@x.example\nTo: a@example.org\n\nbody\n",
    b"To: a@example.org\rBcc: v@x.example\rSubject: x\n\nbody\n",
    b"To: a@example.org\nBcc: v@x.example\r\rbody\n",
    b"To: a@example.org\nBcc:\r v@x.example\n\nbody\n",
    b"To: a@example.org\nBcc: w@x.example,\r v@x.example\r\n\r\nbody\n",
])
def test_bare_cr_bcc_is_stripped_and_used(ssmtp, scripted, msg):
    got, _ = send_recorded(ssmtp, scripted, msg, ["-t"])
    data = got["data"]
    assert wire_lines_ok(data), data
    assert b"Bcc" not in data and b"v@x.example" not in data
    assert b"RCPT TO:<v@x.example>" in got["rcpts"]
    assert b"RCPT TO:<a@example.org>" in got["rcpts"]


def test_bare_cr_cr_lf_ends_the_header_section_everywhere(ssmtp, scripted):
    # "x\r\r\n" is a line end and a blank line: the header section ends
    # there for the parser and on the wire alike, so ssmtp's own headers
    # come before it and the rest is body.
    msg = b"Subject: x\r\r\nBcc: v@x.example\nX: y\n\nbody\n"
    got, _ = send_recorded(ssmtp, scripted, msg, ["a@example.org"])
    data = got["data"]
    assert wire_lines_ok(data)
    assert data.endswith(b"Subject: x\r\n\r\nBcc: v@x.example\r\nX: y\r\n"
                         b"\r\nbody\r\n")
    hdrs = header_section(data)
    assert any(h.startswith(b"Message-ID:") for h in hdrs)
    assert got["rcpts"] == [b"RCPT TO:<a@example.org>"]


@pytest.mark.parametrize("pos", range(0, 40, 3))
@pytest.mark.parametrize("chunking", [False, True])
def test_bare_cr_anywhere_keeps_size_exact(ssmtp, scripted, pos, chunking):
    base = b"To: a@example.org\nBcc: v@x.example\nSubject: s\n\n.b\nody\n"
    msg = base[:pos] + b"\r" + base[pos:]
    got = {}
    s = scripted(record_session(got, chunking))
    plain(ssmtp, s)
    r = ssmtp.run(["-i", "a@example.org"], msg)
    assert not s.errors, s.errors
    assert r.rc == 0, r
    data = got["data"]
    assert wire_lines_ok(data), data
    size = int(re.search(rb"SIZE=(\d+)", got["mail"]).group(1))
    assert size == (len(data) if chunking else len(unstuffed(data)))
    if chunking:
        assert got["next"] == b"QUIT"
    assert not any(h.lower().startswith(b"bcc") for h in header_section(data))


# --- 3 and 11. AuthPassCommand: bounded, clean environment -----------------

def counting_server(scripted):
    """A hub that must never be connected to."""
    def session(c):
        c.reply("421 should not be here")
    return scripted(session)


def test_pass_command_that_hangs_is_75_and_never_connects(ssmtp, scripted):
    s = counting_server(scripted)
    plain(ssmtp, s, AuthUser="user", AuthPassCommand="/bin/sleep 600",
          Timeout="2")
    data = b"Subject: kept\n\nx\n"
    r = ssmtp.run(["a@example.org"], data, timeout=30)
    assert r.rc == 75, r
    assert r.elapsed < 10
    assert "AuthPassCommand" in r.err and "timed out" in r.err
    assert data in r.dead_letter
    assert s.conns == []


def test_pass_command_keeping_stdout_open_is_killed(ssmtp, hub, tmp_path):
    h = hub("starttls")
    marker = "3%d" % (os.getpid() % 100000)
    ssmtp.conf(h, AuthPass=None, Timeout="20",
               AuthPassCommand="/bin/sh -c 'echo secret; exec sleep %s'" % marker)
    r = ssmtp.run(["a@example.org"], MSG, timeout=30)
    assert r.rc == 0, r
    assert r.elapsed < 10
    assert len(h.messages) == 1
    p = subprocess.run(["pgrep", "-f", "sleep %s" % marker], capture_output=True)
    assert p.stdout == b"", "helper left running: %r" % p.stdout


def test_pass_command_failing_is_78(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, AuthPass=None, AuthPassCommand="/bin/sh -c 'echo secret; exit 3'")
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 78, r
    assert MSG in r.dead_letter
    assert h.messages == []


def test_pass_command_long_output_uses_first_line(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, AuthPass=None, AuthPassCommand=(
        "/bin/sh -c 'echo secret; head -c 200000 /dev/zero | tr \"\\\\0\" x; echo'"))
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert len(h.messages) == 1


FD_LISTER = r"""
import os, sys
for f in range(1024):
    try:
        os.fstat(f)
        sys.stderr.write("FD %d %s\n" % (f, os.readlink("/proc/self/fd/%d" % f)))
    except OSError:
        pass
print("secret")
"""


def test_pass_command_gets_no_descriptors_and_default_signals(ssmtp, hub, tmp_path):
    h = hub("starttls")
    lister = tmp_path / "fds.py"
    lister.write_text(FD_LISTER)
    # The shell reports its signal mask (Python would ignore SIGPIPE
    # itself), then becomes the lister, which sees the fds it was given.
    ssmtp.conf(h, AuthPass=None, AuthPassCommand=(
        "/bin/sh -c 'grep SigIgn /proc/$$/status >&2; exec /usr/bin/python3 %s'"
        % lister))
    big = b"Subject: big\n\n" + (b"y" * 99 + b"\n") * 3000    # spooled to a file
    r = ssmtp.run(["a@example.org"], big)
    assert r.rc == 0, r
    fds = {}
    for line in r.err.splitlines():
        if line.startswith("SigIgn:"):
            sigign = int(line.split()[1], 16)
        elif line.startswith("FD "):
            _, fd, target = line.split(" ", 2)
            fds[int(fd)] = target
    assert sorted(fds) == [0, 1, 2], r.err
    assert fds[0] == "/dev/null" and fds[1].startswith("pipe:"), r.err
    assert not sigign & (1 << (signal.SIGPIPE - 1)), hex(sigign)


# --- 4 and 10. dead.letter: no FIFO, no hard link, a private fall back ------

def kept_at(r):
    m = re.search(r"message kept in (\S+)", r.err)
    assert m, r.err
    return m.group(1)


def test_dead_letter_fifo_does_not_hang(ssmtp, closed_port, tmp_path):
    fifo = tmp_path / "dl.fifo"
    os.mkfifo(fifo)
    ssmtp.conf(Mailhub="127.0.0.1:%d" % closed_port, DeadLetter=str(fifo))
    data = b"Subject: fifo\n\nkeep me\n"
    r = ssmtp.run(["a@example.org"], data, timeout=20)
    assert r.rc == 75, r
    where = kept_at(r)
    assert where != str(fifo)
    assert data in open(where, "rb").read()
    st = os.stat(where)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.getuid()


def test_planted_fifo_at_fallback_path(ssmtp, closed_port, tmp_path):
    # HOME cannot be used: the fall back is TMPDIR's dead.letter.<uid>,
    # where another user has planted a FIFO.
    planted = tmp_path / ("dead.letter.%d" % os.getuid())
    os.mkfifo(planted)
    ssmtp.conf(Mailhub="127.0.0.1:%d" % closed_port)
    data = b"Subject: planted\n\nkeep me\n"
    r = ssmtp.run(["a@example.org"], data, timeout=20,
                  env={"HOME": "/nonexistent"})
    assert r.rc == 75, r
    where = kept_at(r)
    assert where != str(planted) and stat.S_ISFIFO(os.lstat(planted).st_mode)
    assert data in open(where, "rb").read()


def test_dead_letter_hard_link_refused(ssmtp, closed_port, tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    os.chmod(victim, 0o600)
    link = tmp_path / "dl"
    os.link(victim, link)
    ssmtp.conf(Mailhub="127.0.0.1:%d" % closed_port, DeadLetter=str(link))
    data = b"Subject: link\n\nkeep me\n"
    r = ssmtp.run(["a@example.org"], data)
    assert r.rc == 75, r
    assert victim.read_bytes() == b"precious\n"
    assert "link" in r.err
    where = kept_at(r)
    assert data in open(where, "rb").read()


# --- 12. dead.letter copy exact around long ">" runs ------------------------

def unquote_mboxrd(text):
    body = text.split(b"\n", 1)[1]          # the "From " line we add
    assert body.endswith(b"\n\n")
    body = body[:-1]
    return re.sub(rb"(?m)^>(>*From )", rb"\1", body)


@pytest.mark.parametrize("run,at", [(4096, 65536 - 2000), (5000, 65536 - 10),
                                    (5000, 65536 - 4999), (70000, 100),
                                    (3, 65536 - 2), (1, 65536 - 4)])
def test_dead_letter_exact_with_long_quote_runs(ssmtp, closed_port, run, at):
    head = b"Subject: q\n\n"
    filler = b"z" * 77 + b"\n"
    pad = head + filler * ((at - len(head)) // len(filler))
    pad += b"w" * (at - len(pad) - 1) + b"\n" if at - len(pad) > 0 else b""
    data = pad + b">" * run + b"From here\n>From x\nFrom y\n" + b"tail\n"
    ssmtp.conf(Mailhub="127.0.0.1:%d" % closed_port)
    r = ssmtp.run(["-i", "a@example.org"], data)
    assert r.rc == 75, r
    assert unquote_mboxrd(r.dead_letter) == data


# --- 5. Config errors never echo a secret ----------------------------------

@pytest.mark.parametrize("line,secret", [
    ("AuthPass S3cretPw", "S3cretPw"),
    ("AuthPass s3cr=et", "s3cr"),
    ("AuthPass\tS3cretPw", "S3cretPw"),
    ("S3cretPwAlone", "S3cretPwAlone"),
    ("AuthPass: S3cretPw", "S3cretPw"),
])
def test_config_error_hides_secret(ssmtp, line, secret):
    p = ssmtp.confdir / "bad.conf"
    p.write_text("Mailhub=127.0.0.1:1\n%s\n" % line)
    r = ssmtp.run(["a@example.org"], MSG, conf=p)
    assert secret not in r.err, r.err
    assert "bad.conf:2" in r.err, r.err
    assert r.rc in (0, 75, 78), r


# --- 6. AUTH capability lines of any length ---------------------------------

@pytest.mark.parametrize("lines", [
    ["AUTH " + " ".join("X-MECH-%03d" % i for i in range(30)) + " PLAIN"],
    ["AUTH PLAIN " + " ".join("X-MECH-%04d" % i for i in range(600))],
    ["AUTH " + " ".join("X-MECH-%04d" % i for i in range(600)) + " LOGIN PLAIN"],
    ["AUTH X-ONE X-TWO", "AUTH=LOGIN", "AUTH PLAIN"],
])
def test_long_auth_capability(ssmtp, scripted, server_tls, lines):
    got = {}

    def session(c):
        greet(c, "STARTTLS")
        c.expect("STARTTLS")
        c.reply("220 go")
        c.starttls(server_tls)
        c.expect("EHLO")
        c.reply(*(["250-hub.test"] + ["250-" + l for l in lines[:-1]] +
                  ["250 " + lines[-1]]))
        got["auth"] = c.line()
        c.reply("235 2.7.0 ok")
        c.accept_mail()

    s = scripted(session)
    ssmtp.conf(Mailhub="localhost:%d" % s.port, UseSTARTTLS="YES",
               AuthUser="user", AuthPass="secret")
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert not s.errors, s.errors
    assert got["auth"].startswith(b"AUTH PLAIN ")


# --- 7. Obsolete "Name : value" fields ---------------------------------------

@pytest.mark.parametrize("msg", [
    b"To: a@example.org\nBcc : v@x.example\nSubject: s\n\nbody\n",
    b"To: a@example.org\nX-Foo : y\nBcc: v@x.example\nSubject: s\n\nbody\n",
    b"To: a@example.org\nBcc\t: v@x.example\nSubject: s\n\nbody\n",
])
def test_obsolete_field_syntax(ssmtp, scripted, msg):
    got, _ = send_recorded(ssmtp, scripted, msg, ["-t"])
    data = got["data"]
    assert b"v@x.example" not in data
    assert b"RCPT TO:<v@x.example>" in got["rcpts"]
    assert b"Subject: s" in header_section(data)


# --- 8 and 9. Config files that are not files, or endless -------------------

def test_config_fifo_refused(ssmtp, tmp_path):
    fifo = tmp_path / "conf.fifo"
    os.mkfifo(fifo)
    r = ssmtp.run(["a@example.org"], MSG, conf=fifo, timeout=20)
    assert r.rc == 78, r
    assert str(fifo) in r.err and "not a regular file" in r.err
    assert MSG in r.dead_letter


def test_config_dev_zero_refused(ssmtp):
    r = ssmtp.run(["a@example.org"], MSG, conf="/dev/zero", timeout=20)
    assert r.rc == 78, r
    assert "/dev/zero" in r.err and "not a regular file" in r.err


def test_config_endless_line_bounded(ssmtp):
    p = ssmtp.confdir / "long.conf"
    with open(p, "wb") as f:
        f.write(b"Mailhub=127.0.0.1:1\n")
        f.write(b"x" * (64 << 20))
    r = ssmtp.run(["a@example.org"], MSG, conf=p, timeout=30,
                  env={"ASAN_OPTIONS": "detect_leaks=1:hard_rss_limit_mb=200"})
    assert r.rc == 78, r
    assert "long.conf:2: line too long" in r.err


def test_revaliases_fifo_refused(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    os.mkfifo(ssmtp.confdir / "revaliases")
    r = ssmtp.run(["a@example.org"], MSG, timeout=20)
    assert r.rc == 78, r
    assert "revaliases" in r.err and "not a regular file" in r.err


# --- 13 and 14. Long values: sent, or refused with file:line ----------------

def test_long_add_header_is_sent(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, AddHeader="X-Long: " + "a" * 990)         # 998 in all
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert b"X-Long: " + b"a" * 990 + b"\r\n" in h.messages[0]["content"]


def test_overlong_add_header_refused_at_parse(ssmtp):
    p = ssmtp.confdir / "hdr.conf"
    p.write_text("Mailhub=127.0.0.1:1\nAddHeader=X-Long: %s\n" % ("a" * 3000))
    r = ssmtp.run(["a@example.org"], MSG, conf=p)
    assert r.rc == 78, r
    assert "hdr.conf:2" in r.err and "998" in r.err


def test_longest_valid_hostname_in_message_id(ssmtp, hub):
    h = hub("starttls")
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])     # 253
    ssmtp.conf(h, Hostname=name, RewriteDomain="example.net")
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert ("@%s>" % name).encode() in h.messages[0]["content"]


@pytest.mark.parametrize("key,value", [
    ("Hostname", "h" * 3000),
    ("Hostname", "a" * 64 + ".example"),
    ("Hostname", ".".join(["a" * 63] * 4)),       # 255
    ("RewriteDomain", "r" * 300),
    ("RewriteDomain", "x..example"),
    ("Mailhub", "m" * 64 + ".example:25"),
    ("Root", "postmaster@" + "p" * 300),
])
def test_overlong_host_values_refused_at_parse(ssmtp, key, value):
    p = ssmtp.confdir / "host.conf"
    p.write_text("Mailhub=127.0.0.1:1\n%s=%s\n" % (key, value))
    r = ssmtp.run(["a@example.org"], MSG, conf=p)
    assert r.rc == 78, r
    assert "host.conf:2" in r.err and key in r.err


# --- The command line: values as given, --help, --version -------------------

def test_ap_value_used_as_given(ssmtp, hub):
    pw = "  open sesame #42"
    h = hub("starttls", users={"user": pw})
    ssmtp.conf(h)
    r = ssmtp.run(["-ap" + pw, "a@example.org"], MSG)
    assert r.rc == 0, r
    assert h.messages[0]["login"] == "user"


def test_au_value_used_as_given(ssmtp, hub):
    h = hub("starttls", users={"us er#1": "secret"})
    ssmtp.conf(h)
    r = ssmtp.run(["-au", "us er#1", "a@example.org"], MSG)
    assert r.rc == 0, r


@pytest.mark.parametrize("flag", ["--help"])
def test_help(ssmtp, flag):
    r = ssmtp.run([flag])
    assert r.rc == 0, r
    assert "usage: ssmtp" in r.out and "--version" in r.out


def test_long_version(ssmtp):
    r = ssmtp.run(["--version"])
    assert r.rc == 0, r
    assert r.out.startswith("ssmtp ")


def test_unknown_long_option_named(ssmtp):
    r = ssmtp.run(["--frobnicate"])
    assert r.rc == 64, r
    assert "--frobnicate" in r.err
