"""Fixtures: a test CA, smarthubs on loopback, and a runner for ssmtp.

Every test runs twice: against the release build and against the
AddressSanitizer + UndefinedBehaviorSanitizer build.  A sanitizer report
in stderr fails the test, whatever the exit code.
"""
import os
import pathlib
import socket
import subprocess
import threading
import time

import pytest

from hub import Hub, free_port

TOP = pathlib.Path(__file__).resolve().parent.parent
BINARIES = {"release": TOP / "ssmtp", "asan": TOP / "build" / "asan" / "ssmtp"}
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer")


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    subprocess.run(["sh", str(TOP / "tests" / "mkcerts.sh"), str(d)],
                   check=True, timeout=60)
    return d


@pytest.fixture(params=sorted(BINARIES))
def binary(request):
    path = BINARIES[request.param]
    if not path.exists():
        pytest.fail("%s is not built: run `make check`" % path)
    return path


@pytest.fixture
def hub(certs):
    """Factory: hub(mode="starttls", certs_dir=None, **Hub options) -> a
    started Hub; certs_dir replaces the test CA's folder."""
    started = []

    def make(mode="starttls", certs_dir=None, **kw):
        h = Hub(certs_dir or str(certs), mode, **kw).start()
        started.append(h)
        return h

    yield make
    for h in started:
        h.stop()


class Result:
    def __init__(self, proc, elapsed, home):
        self.rc = proc.returncode
        self.out = proc.stdout.decode(errors="replace")
        self.err = proc.stderr.decode(errors="replace")
        self.elapsed = elapsed
        self.home = home

    @property
    def dead_letter(self):
        p = self.home / "dead.letter"
        return p.read_bytes() if p.exists() else None

    def __repr__(self):
        return "rc=%d stderr=%r" % (self.rc, self.err)


class Runner:
    def __init__(self, binary, tmp, certs):
        self.binary = binary
        self.tmp = tmp
        self.certs = certs
        self.home = tmp / "home"
        self.home.mkdir()
        self.confdir = tmp / "etc"
        self.confdir.mkdir()
        self.conf_path = self.confdir / "ssmtp.conf"

    def conf(self, hub=None, **keys):
        """Write ssmtp.conf for hub; keys add to or (None) remove lines."""
        # Revaliases always: by default ssmtp reads /etc/ssmtp/revaliases
        # (as sSMTP does, whatever -C says), and tests never read the
        # machine's own.
        # QueueDir too: root's default is the machine's /var/spool/ssmtp.
        c = {"Hostname": "client.test",
             "TLS_CA_File": str(self.certs / "ca.crt"),
             "Revaliases": str(self.confdir / "revaliases"),
             "QueueDir": str(self.tmp / "queue")}
        if hub is not None:
            c["Mailhub"] = "%s:%d" % (hub.host, hub.port)
            if hub.mode == "starttls":
                c["UseSTARTTLS"] = "YES"
            elif hub.mode == "implicit":
                c["UseTLS"] = "YES"
            c["AuthUser"] = "user"
            c["AuthPass"] = "secret"
        c.update(keys)
        text = "".join("%s=%s\n" % (k, v) for k, v in c.items() if v is not None)
        self.conf_path.write_text(text)
        os.chmod(self.conf_path, 0o600)     # it holds a password
        return self.conf_path

    def run(self, args, data=b"", conf=None, timeout=60, env=None):
        cmd = [str(self.binary), "-C", str(conf or self.conf_path)] + list(args)
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
             "HOME": str(self.home), "TMPDIR": str(self.tmp),
             "ASAN_OPTIONS": "detect_leaks=1",
             "UBSAN_OPTIONS": "print_stacktrace=1"}
        e.update(env or {})
        t0 = time.monotonic()
        proc = subprocess.run(cmd, input=data, capture_output=True,
                              timeout=timeout, env=e)
        r = Result(proc, time.monotonic() - t0, self.home)
        for mark in SANITIZER_MARKS:
            assert mark not in r.err, r.err
        return r


@pytest.fixture
def ssmtp(binary, tmp_path, certs):
    return Runner(binary, tmp_path, certs)


class SilentServer:
    """Accepts connections and never says anything (for timeouts)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop_event.is_set():
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                pass

    def close(self):
        self.stop_event.set()
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def silent_server():
    s = SilentServer()
    yield s
    s.close()


@pytest.fixture
def closed_port():
    """A loopback port nobody listens on."""
    return free_port()


@pytest.fixture
def scripted():
    """Factory: scripted(session_fn, **ScriptedServer options)."""
    from scripted import ScriptedServer
    servers = []

    def make(session, **kw):
        s = ScriptedServer(session, **kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def server_tls(certs):
    """A server-side TLS context with the test CA's certificate."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(certs / "server.crt"), str(certs / "server.key"))
    return ctx


@pytest.fixture(scope="session")
def postfix(certs, request):
    """One real Postfix for the session (see postfix.py).  If it cannot
    run here the tests fail with the reason: they are never skipped."""
    import postfix as pfmod
    why = pfmod.missing_prerequisites()
    if why:
        pytest.fail("Postfix smarthub unavailable: " + why)
    pf = pfmod.Postfix(str(certs))
    try:
        pf.start()
    except pfmod.PostfixError as e:
        pf.stop()
        pf.cleanup()
        pytest.fail(str(e))
    yield pf
    pf.stop()
    if request.session.testsfailed:
        print("\n--- Postfix maillog (kept at %s) ---\n%s" % (pf.dir, pf.log()[-20000:]))
    else:
        pf.cleanup()
