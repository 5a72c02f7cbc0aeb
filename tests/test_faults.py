"""The fault matrix: at each step of a session (STARTTLS, AUTH, pipelined
MAIL/RCPT/DATA, and the BDAT path) the hub drops the connection, replies
4xx, replies 5xx, stalls, or sends garbage.  For every cell: the exit code, the dead letter
holding the whole message exactly when the hub did not accept it, and an
end within bounded time.  tests/README.md has the same table in prose.
"""
import threading

import pytest

STEPS = ["greeting", "ehlo", "starttls", "tls", "ehlo2", "auth", "mail",
         "rcpt", "data", "body", "dot", "quit"]
FAULTS = ["drop", "4xx", "5xx", "stall", "garbage"]

# Exit codes by step and fault; anything not listed: drop, 4xx and stall
# give 75 (try again), garbage 76 (not SMTP).
EXPECT = {
    "greeting": {"5xx": 69},
    "ehlo": {"5xx": 69},
    "starttls": {"5xx": 69},
    "tls": {"garbage": 69},             # a TLS failure
    "ehlo2": {"5xx": 69},
    "auth": {"5xx": 77},                # authentication refused
    "mail": {"5xx": 69},
    "rcpt": {"5xx": 67},                # recipient refused
    "data": {"5xx": 69},
    "body": {"5xx": 69},
    "dot": {"5xx": 69},
    "quit": {f: 0 for f in FAULTS},     # the message was already accepted
}
NOT_APPLICABLE = {("tls", "4xx"), ("tls", "5xx")}   # no reply in a handshake

BODY = b"".join(b"line %06d of a message large enough to be cut\n" % i
                for i in range(6000))           # about 300 KB
MESSAGE = b"Subject: fault matrix\nTo: a@example.org\n\n" + BODY


def expected(step, fault):
    return EXPECT[step].get(fault, 76 if fault == "garbage" else 75)


class Injected(Exception):
    pass


def injector(step, fault, release, reached):
    """inject(c, where): play the fault when where is the step (True),
    else do nothing (False).  drop and stall end the session (Injected).
    reached gets the step once the session got there."""
    def inject(c, where):
        if where != step:
            return False
        reached.append(where)
        if fault == "drop":
            raise Injected()
        if fault == "stall":
            release.wait(30)
            raise Injected()
        if fault == "garbage":
            c.send(b"HELLO? this is not SMTP at all\r\n")
        elif fault == "4xx":
            c.reply("421 4.3.2 injected fault" if where == "greeting"
                    else "451 4.3.0 injected fault")
        else:
            c.reply("554 5.3.0 injected fault")
        return True

    return inject


def respond_rest(c):
    # After a refusal the client may RSET and QUIT; answer plainly.
    while True:
        line = c.line(timeout=10)
        if line.startswith(b"QUIT"):
            c.reply("221 bye")
            return
        c.reply("250 ok" if line.startswith(b"RSET") else "503 5.5.1 bad sequence")


def assert_outcome(r, want):
    """The exit code, a bounded time, and the dead letter holding the whole
    message exactly when the hub did not accept it."""
    assert r.rc == want, r
    # Every wait is bounded: 2 s per step, a few steps at most.
    assert r.elapsed < 15, r.elapsed
    if want == 0:
        assert r.dead_letter is None, "accepted, yet kept"
    else:
        dl = r.dead_letter
        assert dl is not None, "refused, yet not kept"
        # The whole message, byte for byte, after the mbox From_ line.
        assert dl.split(b"\n", 1)[1] == MESSAGE + b"\n", "dead letter differs"
        assert "dead.letter" in r.err


def hub_session(step, fault, tls_ctx, release, reached):
    inject = injector(step, fault, release, reached)

    def session(c):
        try:
            if inject(c, "greeting"):
                return respond_rest(c)
            c.reply("220 hub.test ESMTP")
            c.expect("EHLO")
            if inject(c, "ehlo"):
                return respond_rest(c)
            c.reply("250-hub.test", "250-PIPELINING", "250 STARTTLS")
            c.expect("STARTTLS")
            if inject(c, "starttls"):
                return respond_rest(c)
            c.reply("220 2.0.0 go ahead")
            if step == "tls":
                if fault == "garbage":
                    reached.append("tls")
                    c.send(b"this is not a TLS handshake\r\n" * 4)
                    c.at_eof()
                    return
                inject(c, "tls")
            c.starttls(tls_ctx)
            c.expect("EHLO")
            if inject(c, "ehlo2"):
                return respond_rest(c)
            c.reply("250-hub.test", "250-PIPELINING", "250-AUTH PLAIN",
                    "250 SIZE 10000000")
            c.expect("AUTH PLAIN ")
            if inject(c, "auth"):
                return respond_rest(c)
            c.reply("235 2.7.0 ok")
            c.expect("MAIL FROM:")
            c.expect("RCPT TO:")
            c.expect("DATA")
            if inject(c, "mail"):
                c.reply("503 5.5.1 no MAIL", "503 5.5.1 no valid recipients")
                return respond_rest(c)
            c.reply("250 2.1.0 ok")
            if inject(c, "rcpt"):
                c.reply("554 5.5.1 no valid recipients")
                return respond_rest(c)
            c.reply("250 2.1.5 ok")
            if inject(c, "data"):
                return respond_rest(c)
            c.reply("354 go ahead")
            if step == "body":
                while len(c.buf) < 65536:
                    c._fill(10)
                inject(c, "body")
                c.data(timeout=20)
                return respond_rest(c)
            c.data(timeout=20)
            if inject(c, "dot"):
                return respond_rest(c)
            c.reply("250 2.0.0 queued")
            c.expect("QUIT")
            if inject(c, "quit"):
                return
            c.reply("221 bye")
        except Injected:
            return

    return session


CELLS = [(s, f) for s in STEPS for f in FAULTS if (s, f) not in NOT_APPLICABLE]


@pytest.mark.parametrize("step,fault", CELLS, ids=["%s-%s" % c for c in CELLS])
def test_fault(ssmtp, scripted, server_tls, step, fault):
    release = threading.Event()
    reached = []
    s = scripted(hub_session(step, fault, server_tls, release, reached))
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port, UseSTARTTLS="YES",
               AuthUser="user", AuthPass="secret", Timeout="2")
    try:
        r = ssmtp.run(["-i", "a@example.org"], MESSAGE, timeout=40)
    finally:
        release.set()
    assert reached == [step], "the session never got to %s" % step
    assert_outcome(r, expected(step, fault))


# The BDAT path (RFC 3030): one recipient and CHUNKING, so MAIL, RCPT,
# "BDAT n LAST" with the whole message and QUIT go in one flight, and the
# hub's replies come back in that order.  Each fault at each reply.
BDAT_STEPS = ["mail", "rcpt", "bdat", "quit"]
BDAT_EXPECT = {
    "mail": {"5xx": 69},
    "rcpt": {"5xx": 67},
    "bdat": {"5xx": 69},
    "quit": {f: 0 for f in FAULTS},
}


def bdat_session(step, fault, release, reached):
    inject = injector(step, fault, release, reached)

    def session(c):
        try:
            c.reply("220 hub.test ESMTP")
            c.expect("EHLO")
            c.reply("250-hub.test", "250-PIPELINING", "250-CHUNKING",
                    "250 SIZE 10000000")
            c.expect("MAIL FROM:")
            c.expect("RCPT TO:")
            n = int(c.expect("BDAT ").split()[1])
            c.read_exact(n)
            # RFC 3030 2: after a refused MAIL or RCPT, the pipelined
            # BDAT is answered with a failure too.
            if inject(c, "mail"):
                c.reply("503 5.5.1 no MAIL", "554 5.5.1 no valid recipients")
                return respond_rest(c)
            c.reply("250 2.1.0 ok")
            if inject(c, "rcpt"):
                c.reply("554 5.5.1 no valid recipients")
                return respond_rest(c)
            c.reply("250 2.1.5 ok")
            if inject(c, "bdat"):
                return respond_rest(c)
            c.reply("250 2.0.0 queued")
            c.expect("QUIT")
            if inject(c, "quit"):
                return
            c.reply("221 bye")
        except Injected:
            return

    return session


BDAT_CELLS = [(s, f) for s in BDAT_STEPS for f in FAULTS]


@pytest.mark.parametrize("step,fault", BDAT_CELLS,
                         ids=["bdat-%s-%s" % c for c in BDAT_CELLS])
def test_fault_bdat(ssmtp, scripted, step, fault):
    release = threading.Event()
    reached = []
    s = scripted(bdat_session(step, fault, release, reached))
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port, UseSTARTTLS="NO", Timeout="2")
    try:
        r = ssmtp.run(["-i", "a@example.org"], MESSAGE, timeout=40)
    finally:
        release.set()
    assert reached == [step], "the session never got to %s" % step
    assert any(l.startswith(b"BDAT ") for l in s.lines), "not the BDAT path"
    assert_outcome(r, BDAT_EXPECT[step].get(fault, 76 if fault == "garbage" else 75))
