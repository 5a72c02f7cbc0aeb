"""The TLS session cache: a hub's TLS 1.3 tickets kept in the user's
~/.cache/ssmtp/tls-sessions, offered on the next connection to the same
hub with the same verification settings, never otherwise; the file is
private, checked, bounded and rewritten under a lock."""
import hashlib
import os
import re
import shutil
import ssl
import subprocess
import time

import pytest

MSG = b"Subject: cache\n\nhello\n"


def cache(ssmtp):
    return ssmtp.home / ".cache" / "ssmtp" / "tls-sessions"


def send(ssmtp, h, **kw):
    r = ssmtp.run(["a@example.org"], MSG, **kw)
    assert r.rc == 0, r
    return h.messages[-1]["resumed"]


def fingerprint(path):
    der = ssl.PEM_cert_to_DER_cert(open(path).read())
    return hashlib.sha256(der).hexdigest()


def valid_cache(path):
    lines = path.read_text().split("\n")
    assert lines[0] == "ssmtp-tls-sessions 1"
    assert lines[-1] == ""
    for l in lines[1:-1]:
        exp, key, der = l.split(" ")
        assert int(exp) > time.time() and int(exp) <= time.time() + 3600
        assert re.fullmatch(r"[0-9a-f]+", der) and len(der) % 2 == 0
    return len(lines) - 2


def test_second_send_resumes(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    assert send(ssmtp, h) is False
    f = cache(ssmtp)
    assert f.stat().st_mode & 0o777 == 0o600
    assert f.parent.stat().st_mode & 0o777 == 0o700
    assert 1 <= valid_cache(f) <= 2
    r = ssmtp.run(["-v", "a@example.org"], MSG)
    assert r.rc == 0 and "session resumed" in r.err
    assert h.messages[-1]["resumed"] is True
    assert send(ssmtp, h) is True
    # Each ticket is used once: the one used is gone, the new ones are in.
    assert 1 <= valid_cache(f) <= 2
    assert h.auth_log[-1] == ("PLAIN", True)
    assert b"secret" not in f.read_bytes()


def test_each_ticket_is_used_once_and_taken_in_place(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    assert send(ssmtp, h) is False
    f = cache(ssmtp)
    assert valid_cache(f) == 2          # Python's server sends two
    # From now on the hub sends none: the two kept are used one each, and
    # taking one marks it used in the file itself (no rewrite per send).
    h.tls_context.num_tickets = 0
    with open(f, "rb") as held:         # the file as it is now
        assert send(ssmtp, h) is True
        assert send(ssmtp, h) is True
        assert os.path.samestat(os.fstat(held.fileno()), f.stat())
        assert re.findall(rb"(?m)^(0+) ", held.read()) == [b"0" * 10] * 2
    assert send(ssmtp, h) is False
    # The next tickets replace the used ones.
    h.tls_context.num_tickets = 2
    assert send(ssmtp, h) is False
    assert valid_cache(f) == 2
    assert send(ssmtp, h) is True


@pytest.mark.parametrize("change", ["ca_file_touched", "host_name", "pin",
                                    "tls_verify_off"])
def test_changed_settings_never_reuse_a_session(ssmtp, hub, change):
    h = hub("starttls")
    ssmtp.conf(h)
    assert send(ssmtp, h) is False
    before = cache(ssmtp).read_text()
    if change == "ca_file_touched":
        ca = ssmtp.tmp / "ca.crt"
        shutil.copy(ssmtp.certs / "ca.crt", ca)
        ssmtp.conf(h, TLS_CA_File=str(ca))
        assert send(ssmtp, h) is False
        assert send(ssmtp, h) is True
        t = time.time() + 5
        os.utime(ca, (t, t))
    elif change == "host_name":
        ssmtp.conf(h, Mailhub="localhost:%d" % h.port)
    elif change == "pin":
        ssmtp.conf(h, TLSFingerprint=fingerprint(ssmtp.certs / "server.crt"))
    else:
        ssmtp.conf(h, TLSVerify="NO")
    assert send(ssmtp, h) is False
    if change == "tls_verify_off":
        # Nothing verified, nothing kept: the entries are those of before.
        assert cache(ssmtp).read_text() == before


def test_resumed_session_must_match_the_pin(ssmtp, hub):
    h = hub("starttls")
    good = fingerprint(ssmtp.certs / "server.crt")
    ssmtp.conf(h, TLSFingerprint=good)
    assert send(ssmtp, h) is False
    # A session filed under another pin (as a forged entry would be):
    # resumed, its certificate is checked against the pin again.
    f = cache(ssmtp)
    f.write_text(f.read_text().replace(good, "00" * 32))
    ssmtp.conf(h, TLSFingerprint="00" * 32)
    n = len(h.messages)
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 69, r
    assert "TLSFingerprint" in r.err
    assert len(h.messages) == n and h.auth_log[-1] == ("PLAIN", True)


def test_session_past_its_hour_is_not_used(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    send(ssmtp, h)
    f = cache(ssmtp)
    f.write_text(re.sub(r"(?m)^\d+ ", "%d " % (time.time() + 7200),
                        f.read_text()))
    assert send(ssmtp, h) is False


@pytest.mark.parametrize("plant", ["mode_0644", "corrupt", "other_version",
                                   "symlink"])
def test_unsafe_or_corrupt_cache_is_ignored(ssmtp, hub, plant):
    h = hub("starttls")
    ssmtp.conf(h)
    send(ssmtp, h)
    f = cache(ssmtp)
    target = ssmtp.tmp / "elsewhere"
    if plant == "mode_0644":
        os.chmod(f, 0o644)
    elif plant == "corrupt":
        f.write_bytes(b"ssmtp-tls-sessions 1\n\x00garbage line\n1 2\n" +
                      os.urandom(300))
    elif plant == "other_version":
        f.write_text("ssmtp-tls-sessions 9\n" +
                     f.read_text().split("\n", 1)[1])
    else:
        shutil.copy(f, target)
        os.chmod(target, 0o600)
        f.unlink()
        os.symlink(target, f)
    before = target.read_bytes() if plant == "symlink" else None
    assert send(ssmtp, h) is False
    # Replaced by a good private file; a symlink's target is never written.
    assert not f.is_symlink() and f.stat().st_mode & 0o777 == 0o600
    valid_cache(f)
    if before is not None:
        assert target.read_bytes() == before
    assert send(ssmtp, h) is True


def test_cache_off_writes_nothing(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h, TLSSessionCache="NO")
    assert send(ssmtp, h) is False
    assert send(ssmtp, h) is False
    assert not cache(ssmtp).parent.exists()


def test_50_parallel_senders_leave_a_valid_cache(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    env = {"PATH": os.environ["PATH"], "HOME": str(ssmtp.home),
           "ASAN_OPTIONS": "detect_leaks=1"}
    procs = [subprocess.Popen([str(ssmtp.binary), "-C", str(ssmtp.conf_path),
                               "a@example.org"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env=env)
             for _ in range(50)]
    for p in procs:
        p.stdin.write(MSG)
        p.stdin.close()
    for p in procs:
        p.wait(120)
        err = p.stderr.read().decode()
        p.stderr.close()
        assert p.returncode == 0 and "Sanitizer" not in err, err
    assert len(h.messages) == 50
    assert 1 <= valid_cache(cache(ssmtp)) <= 32
    leftovers = [p.name for p in cache(ssmtp).parent.iterdir()
                 if p.name not in ("tls-sessions", "tls-sessions.lock")]
    assert leftovers == []
    assert send(ssmtp, h) is True


from test_setgid import sgid, run_as_nobody  # noqa: E402,F401


def test_setgid_user_who_cannot_read_the_config_gets_no_cache(ssmtp, hub,
                                                               sgid):
    d, binary, home = sgid
    h = hub("starttls")
    ca = os.path.join(d, "ca.crt")
    shutil.copy(ssmtp.certs / "ca.crt", ca)
    os.chmod(ca, 0o644)
    conf_text = ssmtp.conf(h, TLS_CA_File=ca, Revaliases=None).read_text()
    # A good session for this very hub and settings, planted in nobody's
    # own cache (as nobody could): never read, never rewritten.
    ssmtp.conf_path.write_text(conf_text)
    assert send(ssmtp, h) is False
    import pwd
    nobody = pwd.getpwnam("nobody")
    planted = os.path.join(home, ".cache", "ssmtp")
    os.makedirs(planted, mode=0o700)
    shutil.copy(cache(ssmtp), os.path.join(planted, "tls-sessions"))
    for p in (os.path.join(home, ".cache"), planted,
              os.path.join(planted, "tls-sessions")):
        os.chown(p, nobody.pw_uid, nobody.pw_gid)
    os.chmod(os.path.join(home, ".cache"), 0o700)
    os.chmod(os.path.join(planted, "tls-sessions"), 0o600)
    before = open(os.path.join(planted, "tls-sessions"), "rb").read()
    for _ in range(2):
        r = run_as_nobody(d, binary, home, conf_text, ["a@example.org"], MSG)
        assert r.returncode == 0, r.stderr
        assert h.messages[-1]["resumed"] is False
    assert sorted(os.listdir(planted)) == ["tls-sessions"]
    assert open(os.path.join(planted, "tls-sessions"), "rb").read() == before
    # Root, who can read the config, resumes with its own cache.
    assert send(ssmtp, h) is True
