"""The benchmark's hub (bench/sink.c) counts what bench/RESULTS.md
reports: the round trips a client spent and the bytes of message data.
ssmtp against it: the counts must be the protocol's."""
import json
import pathlib
import socket
import subprocess
import time

import pytest

from hub import free_port

TOP = pathlib.Path(__file__).resolve().parent.parent
SINK = TOP / "bench" / "sink"
BODY = b"line one\nline two\n.leading dot\n"
MSG = b"Subject: s\n\n" + BODY


@pytest.fixture
def sink(certs, tmp_path):
    """Factory: sink(plain=False) -> (port, stats path); stopped after."""
    if not SINK.exists():
        pytest.fail("%s is not built: run `make check`" % SINK)
    procs = []

    def start(plain=False):
        port = free_port("127.0.0.1")
        stats = tmp_path / ("stats-%d.jsonl" % port)
        p = subprocess.Popen([str(SINK), "--certs", str(certs), "--port", str(port),
                              "--stats", str(stats)] + (["--plain"] if plain else []))
        procs.append(p)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("the sink did not start")
        # The probe above was a session too: start counting after it.
        wait_lines(stats, 1)
        stats.write_text("")
        return port, stats

    yield start
    for p in procs:
        p.terminate()
        p.wait(10)


def wait_lines(path, n):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= n:
            return [json.loads(l) for l in lines]
        time.sleep(0.05)
    pytest.fail("the sink wrote no stats")


class Sink:
    host, mode = "127.0.0.1", "starttls"

    def __init__(self, port):
        self.port = port


@pytest.mark.parametrize("rcpts,turns", [(1, 8), (2, 9)])
def test_sink_counts_round_trips_and_data(ssmtp, sink, rcpts, turns):
    # One recipient: MAIL, RCPT, BDAT LAST and QUIT in one flight after
    # TCP, greeting, EHLO, STARTTLS, TLS 1.3, EHLO and AUTH: 8.  Two: DATA,
    # one round trip more.
    port, stats = sink()
    ssmtp.conf(Sink(port), AuthUser="bench", AuthPass="x")
    r = ssmtp.run(["r%d@example.org" % i for i in range(rcpts)], MSG)
    assert r.rc == 0, r
    (s,) = wait_lines(stats, 1)
    assert s["turns"] == turns
    # The body on the wire: CRLF line ends, the dot doubled with DATA,
    # and DATA's end mark counted.
    wire = BODY.replace(b"\n", b"\r\n")
    if rcpts > 1:
        wire = wire.replace(b"\r\n.", b"\r\n..") + b".\r\n"
    assert s["data"] > len(wire) and s["data"] < len(wire) + 400


def test_sink_plain_session(ssmtp, sink):
    port, stats = sink(plain=True)
    ssmtp.conf(Sink(port), UseSTARTTLS="NO", AuthUser=None, AuthPass=None)
    assert ssmtp.run(["a@example.org"], MSG).rc == 0
    (s,) = wait_lines(stats, 1)
    assert s["turns"] == 4      # TCP, greeting, EHLO, one flight
