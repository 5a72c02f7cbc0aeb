"""The engine's session API: many messages over one connection, driven by
tests/session.c (build/session, and its ASan + UBSan build).  What the
hub receives, byte for byte and connection by connection, and what each
transaction reports."""
import pathlib
import subprocess

import pytest

TOP = pathlib.Path(__file__).resolve().parent.parent
DRIVERS = {"release": TOP / "build" / "session",
           "asan": TOP / "build" / "asan" / "session"}


@pytest.fixture(params=sorted(DRIVERS))
def driver(request, tmp_path):
    path = DRIVERS[request.param]
    if not path.exists():
        pytest.fail("%s is not built: run `make check`" % path)

    def run(host, port, messages, rcpts="a@example.org", opts=(), timeout=60):
        files = []
        for i, m in enumerate(messages):
            f = tmp_path / ("m%d.eml" % i)
            f.write_bytes(m)
            files.append(str(f))
        p = subprocess.run([str(path)] + list(opts) +
                           [host, str(port), "me@client.test", rcpts] + files,
                           capture_output=True, timeout=timeout,
                           env={"ASAN_OPTIONS": "detect_leaks=1"})
        err = p.stderr.decode(errors="replace")
        assert "Sanitizer" not in err and "runtime error" not in err, err
        return p.returncode, p.stdout.decode().splitlines(), err
    return run


def msgs(n):
    return [b"Subject: m%d\n\nbody %d\n" % (i, i) for i in range(n)]


def greet(c, *caps):
    c.reply("220 hub.test ESMTP")
    c.expect("EHLO client.test")
    c.reply(*(["250-hub.test"] + ["250-" + x for x in caps[:-1]] + ["250 " + caps[-1]]))


def test_two_messages_one_connection_pipelined(driver, scripted):
    got = []

    def session(c):
        greet(c, "PIPELINING", "8BITMIME")
        for i in range(2):
            for _ in range(3):          # MAIL, RCPT, DATA in one flight
                c.line()
            c.reply("250 ok", "250 ok", "354 go")
            got.append(c.data())
            c.reply("250 2.0.0 queued as %d" % i)
        c.expect("QUIT")
        c.reply("221 bye")

    s = scripted(session)
    rc, out, err = driver("127.0.0.1", s.port, msgs(2))
    assert rc == 0, (out, err)
    assert out[0].startswith("1 sent end of data 250 ")
    assert out[1].endswith("2.0.0 queued as 1")
    assert len(s.conns) == 1
    assert s.lines == [b"EHLO client.test",
                       b"MAIL FROM:<me@client.test>", b"RCPT TO:<a@example.org>", b"DATA",
                       b"MAIL FROM:<me@client.test>", b"RCPT TO:<a@example.org>", b"DATA",
                       b"QUIT"]
    assert [g.endswith(b"body %d\r\n" % i) for i, g in enumerate(got)] == [True, True]


def test_three_messages_lock_step(driver, scripted):
    def session(c):
        greet(c, "SIZE 100000")
        for _ in range(3):
            c.start_data()
            c.data()
            c.reply("250 ok")
        c.expect("QUIT")
        c.reply("221 bye")

    s = scripted(session)
    rc, out, err = driver("127.0.0.1", s.port, msgs(3))
    assert rc == 0, (out, err)
    assert len(out) == 3 and all(" sent " in l for l in out)
    assert len(s.conns) == 1
    assert [l.split(b" ")[0] for l in s.lines].count(b"MAIL") == 3


def test_bdat_two_messages_quit_with_the_last(driver, scripted):
    sizes = []

    def session(c):
        greet(c, "PIPELINING", "CHUNKING")
        for i in range(2):
            c.expect("MAIL FROM:")
            c.expect("RCPT TO:")
            n = int(c.expect("BDAT ").split()[1])
            c.read_exact(n)
            sizes.append(n)
            if i == 1:
                c.expect("QUIT")
            c.reply("250 ok", "250 ok", "250 2.0.0 queued")
        c.reply("221 bye")

    s = scripted(session)
    rc, out, err = driver("127.0.0.1", s.port, msgs(2))
    assert rc == 0, (out, err)
    assert len(s.conns) == 1 and len(sizes) == 2
    assert s.lines[-1] == b"QUIT"


def test_refused_recipient_resets_and_the_next_goes(driver, scripted):
    def session(c):
        greet(c, "PIPELINING")
        for _ in range(4):              # MAIL, RCPT, RCPT, DATA
            c.line()
        c.reply("250 ok", "250 ok", "550 5.1.1 no such user", "554 5.5.1 no valid recipients")
        c.expect("RSET")
        c.reply("250 ok")
        for _ in range(4):
            c.line()
        c.reply("250 ok", "250 ok", "250 ok", "354 go")
        c.data()
        c.reply("250 2.0.0 queued")
        c.expect("QUIT")
        c.reply("221 bye")

    s = scripted(session)
    rc, out, err = driver("127.0.0.1", s.port, msgs(2),
                          rcpts="good@example.org,bad@example.org")
    assert rc == 1, (out, err)
    assert out[0].startswith("1 refused RCPT TO 550 ") and "bad@example.org" in out[0]
    assert out[1].startswith("2 sent ")
    assert len(s.conns) == 1


def test_hub_drops_between_messages_reopens(driver, scripted):
    # Nothing of the second message went out before the loss showed:
    # the engine tries it once more on a new connection.
    def session(c):
        greet(c, "PIPELINING")
        for _ in range(3):
            c.line()
        c.reply("250 ok", "250 ok", "354 go")
        c.data()
        c.reply("250 2.0.0 queued")
        if len(s.conns) == 1:
            return                      # hang up before the next MAIL
        c.expect("QUIT")
        c.reply("221 bye")

    s = scripted(session, connections=2)
    rc, out, err = driver("127.0.0.1", s.port, msgs(2))
    assert rc == 0, (out, err)
    assert [l.split(" ")[1] for l in out] == ["sent", "sent"]
    assert len(s.conns) == 2


def test_refused_after_data_closes_and_reopens(driver, scripted):
    def session(c):
        greet(c, "PIPELINING")
        for _ in range(3):
            c.line()
        c.reply("250 ok", "250 ok", "354 go")
        c.data()
        if len(s.conns) == 1:
            c.reply("554 5.6.0 content refused")
            c.expect("QUIT")
            c.reply("221 bye")
            return
        c.reply("250 2.0.0 queued")
        c.expect("QUIT")
        c.reply("221 bye")

    s = scripted(session, connections=2)
    rc, out, err = driver("127.0.0.1", s.port, msgs(2))
    assert rc == 1, (out, err)
    assert out[0].startswith("1 perm end of data 554 ")
    assert out[1].startswith("2 sent ")
    assert len(s.conns) == 2


def test_lost_end_of_data_is_unknown(driver, scripted):
    def session(c):
        greet(c, "PIPELINING")
        for _ in range(3):
            c.line()
        c.reply("250 ok", "250 ok", "354 go")
        c.data()                        # then hang up: no reply

    s = scripted(session)
    rc, out, err = driver("127.0.0.1", s.port, msgs(1))
    assert rc == 1
    assert out[0].startswith("1 unknown end of data 0 "), out
    assert "may or may not have the message" in out[0]


def test_starttls_auth_many_messages_one_session(driver, hub, certs):
    h = hub("starttls")
    rc, out, err = driver("127.0.0.1", h.port, msgs(5),
                          opts=["-s", "-c", str(certs / "ca.crt"), "-u", "user",
                                "-p", "secret"])
    assert rc == 0, (out, err)
    assert len(h.messages) == 5 and all(m["tls"] for m in h.messages)
    assert h.auth_log == [("PLAIN", True)]      # one session, one AUTH
