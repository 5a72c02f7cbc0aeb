"""make bench: ssmtp against Debian's msmtp and sSMTP, side by side.

The anchors are downloaded from Debian's archive with `apt-get download`
(with the libraries they need that this machine lacks) and unpacked with
`dpkg -x` into a temporary folder: nothing is installed, nothing of theirs
is kept.  Every client sends to the same sink (sink.c) on loopback, over
STARTTLS with AUTH unless said otherwise.  Run as root; prints one table
and keeps it in bench/latest-run.md.

BENCH_QUICK=1 runs fewer repetitions (and 20 processes instead of 200).
"""
import json
import os
import pathlib
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TOP = pathlib.Path(__file__).resolve().parent.parent
QUICK = os.environ.get("BENCH_QUICK") == "1"
USER, PASSWORD = "bench", "bench-secret"


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch_anchors(work):
    """Unpack msmtp and ssmtp with the libraries missing here; return the
    root folder."""
    root = work / "anchors"
    debs = work / "debs"
    debs.mkdir()
    out = sh(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
              "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances",
              "--no-pre-depends", "msmtp", "ssmtp"]).stdout.decode()
    pkgs = sorted({l for l in out.splitlines() if re.match(r"^[a-z0-9]", l)})
    for p in pkgs:
        st = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p],
                            capture_output=True).stdout.decode()
        if "install ok installed" in st and p not in ("msmtp", "ssmtp"):
            continue
        subprocess.run(["apt-get", "download", p], cwd=debs, capture_output=True)
    for deb in debs.glob("*.deb"):
        sh(["dpkg", "-x", str(deb), str(root)])
    for tool in ("usr/bin/msmtp", "usr/sbin/ssmtp"):
        if not (root / tool).exists():
            sys.exit("bench: could not fetch %s from Debian's archive" % tool)
        # Debian ships sSMTP setgid mail; valgrind will not run that.
        os.chmod(root / tool, 0o755)
    return root


class Client:
    def __init__(self, name, argv, env=None):
        self.name, self.argv, self.env = name, argv, env or {}

    def run(self, data_path, extra_env=None, wrap=(), netns=None, argv=None):
        """Run once with data_path on stdin; returns (seconds, max RSS in
        MB, stderr).  GNU time is the parent, so that the RSS is the
        client's own (ru_maxrss would count the forked Python too)."""
        env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
        env.update(self.env)
        env.update(extra_env or {})
        pre = ["ip", "netns", "exec", netns] if netns else []
        cmd = pre + ["/usr/bin/time", "-f", "RSS-KB %M"] + list(wrap) + (argv or self.argv)
        with open(data_path, "rb") as f:
            t0 = time.monotonic()
            p = subprocess.run(cmd, stdin=f, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env=env, timeout=600)
            elapsed = time.monotonic() - t0
        err = p.stderr.decode(errors="replace")
        if p.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (self.name, p.returncode, err[-500:]))
        rss = int(re.findall(r"RSS-KB (\d+)", err)[-1]) / 1024.0
        return elapsed, rss, err


def make_clients(work, anchors, certs, port, plain=False, host="127.0.0.1"):
    ca = certs / "ca.crt"
    lib = "%s/usr/lib/x86_64-linux-gnu:%s/lib/x86_64-linux-gnu" % (anchors, anchors)
    tag = ("-plain" if plain else "") + ("" if host == "127.0.0.1" else "-rtt")
    ours = work / ("ssmtp%s.conf" % tag)
    ours.write_text("Mailhub=%s:%d\nHostname=bench.test\n" % (host, port) + (
        "UseSTARTTLS=NO\n" if plain else
        "UseSTARTTLS=YES\nTLS_CA_File=%s\nAuthUser=%s\nAuthPass=%s\n" % (ca, USER, PASSWORD)))
    os.chmod(ours, 0o600)
    msmtprc = work / ("msmtprc%s" % tag)
    msmtprc.write_text("defaults\naccount default\nhost %s\nport %d\n"
                       "from root@bench.test\ndomain bench.test\n" % (host, port) + (
                           "tls off\nauth off\n" if plain else
                           "tls on\ntls_starttls on\ntls_trust_file %s\nauth on\n"
                           "user %s\npassword %s\n" % (ca, USER, PASSWORD)))
    os.chmod(msmtprc, 0o600)
    sconf = work / ("sssmtp%s.conf" % tag)
    sconf.write_text("mailhub=%s:%d\nhostname=bench.test\n" % (host, port) + (
        "" if plain else "UseTLS=YES\nUseSTARTTLS=YES\nAuthUser=%s\nAuthPass=%s\n"
        % (USER, PASSWORD)))
    return [
        Client("ssmtp", [str(TOP / "ssmtp"), "-C", str(ours), "rcpt@example.org"]),
        Client("msmtp 1.8.23", [str(anchors / "usr/bin/msmtp"), "-C", str(msmtprc),
                                "rcpt@example.org"], {"LD_LIBRARY_PATH": lib}),
        Client("sSMTP 2.64", [str(anchors / "usr/sbin/ssmtp"), "-C" + str(sconf),
                              "rcpt@example.org"], {"LD_LIBRARY_PATH": lib}),
    ]


def message(path, size):
    """A message of about size bytes (a few lines when size is small)."""
    line = b"The quick brown fox jumps over the lazy dog, 0123456789 ABCDEFGHIJKLMNOP\n"
    block = line * (1000 if size > 100000 else 4)
    with open(path, "wb") as f:
        f.write(b"Subject: bench\nTo: rcpt@example.org\n\n")
        n = 0
        while n < size:
            f.write(block)
            n += len(block)
    return path


def count_writes(client, path):
    out = tempfile.mktemp()
    client.run(path, wrap=("strace", "-f", "-c", "-o", out,
                           "-e", "trace=write,writev,sendto,sendmsg"))
    text = open(out).read()
    os.unlink(out)
    return sum(int(m.group(1)) for m in re.finditer(
        r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(?:write|writev|sendto|sendmsg)\s*$",
        text, re.M))


def instructions(client, path, extra_env=None):
    out = tempfile.mktemp()
    _, _, err = client.run(path, extra_env, wrap=("valgrind", "--tool=callgrind",
                                                  "--callgrind-out-file=" + out))
    os.unlink(out)
    return int(re.search(r"Collected : (\d+)", err).group(1))


RTT_MS = 50
LOWER_BOUND = {}
HARNESS_MS = [0.0]
PROC_FLOOR = [0.0]     # n processes of /bin/true through Client.run


def rtt_figures(work, anchors, certs, results):
    """(a): one message, STARTTLS + AUTH, 1 and 10 recipients, over a link
    with RTT_MS of round-trip time (rttlink.py); wall time (median) and
    the round trips the hub counted, beside the protocol's lower bound."""
    link = None
    sink = None
    stats = work / "rtt-stats.jsonl"
    sh([sys.executable, str(TOP / "bench" / "rttlink.py"), "up"])
    try:
        link = subprocess.Popen([sys.executable, str(TOP / "bench" / "rttlink.py"), "run",
                                 str(RTT_MS)], stdout=subprocess.PIPE)
        link.stdout.readline()          # "ready"
        sink = subprocess.Popen(["ip", "netns", "exec", "ssmtpbench-h",
                                 str(TOP / "bench" / "sink"), "--certs", str(certs),
                                 "--host", "192.0.2.2", "--port", "2525",
                                 "--stats", str(stats)])
        time.sleep(1.5)
        clients = make_clients(work, anchors, certs, 2525, host="192.0.2.2")
        small = message(work / "rtt.eml", 1)
        runs = 3 if QUICK else 7
        # What the harness itself takes (ip netns exec, GNU time) is not
        # the client's: measured with /bin/true and taken off every time.
        true = Client("true", ["/bin/true"])
        HARNESS_MS[0] = statistics.median(
            true.run(small, netns="ssmtpbench-c")[0] * 1000 for _ in range(9))
        for nrcpt in (1, 10):
            rcpts = ["r%d@example.org" % i for i in range(nrcpt)]
            for c in clients:
                times, turns = [], []
                for _ in range(runs):
                    n0 = len(stats.read_text().splitlines()) if stats.exists() else 0
                    t, _, _ = c.run(small, netns="ssmtpbench-c", argv=c.argv[:-1] + rcpts)
                    times.append(t * 1000 - HARNESS_MS[0])
                    deadline = time.monotonic() + 5
                    while time.monotonic() < deadline:
                        lines = stats.read_text().splitlines() if stats.exists() else []
                        if len(lines) > n0:
                            turns.append(json.loads(lines[-1])["turns"])
                            break
                        time.sleep(0.05)
                results[c.name]["%d ms RTT, %d rcpt: ms" % (RTT_MS, nrcpt)] = \
                    statistics.median(times)
                results[c.name]["%d ms RTT, %d rcpt: round trips" % (RTT_MS, nrcpt)] = \
                    statistics.median(turns) if turns else float("nan")
            # The protocol's lower bound: TCP, greeting, EHLO, STARTTLS,
            # TLS 1.3, EHLO, AUTH PLAIN, then one pipelined group: MAIL,
            # RCPT..., BDAT LAST (one recipient and CHUNKING) with the
            # message and QUIT; with DATA, one more for the data.
            rts = 8 if nrcpt == 1 else 9
            LOWER_BOUND["%d ms RTT, %d rcpt: ms" % (RTT_MS, nrcpt)] = rts * RTT_MS
            LOWER_BOUND["%d ms RTT, %d rcpt: round trips" % (RTT_MS, nrcpt)] = rts
            print("bench: %d ms RTT, %d recipients done" % (RTT_MS, nrcpt), flush=True)
    finally:
        for p in (sink, link):
            if p is not None:
                p.terminate()
                p.wait(10)
        sh([sys.executable, str(TOP / "bench" / "rttlink.py"), "down"])


CHAINS = ("rsa2048", "rsa4096", "p256")


def last_stat(stats, n0, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = stats.read_text().splitlines() if stats.exists() else []
        if len(lines) > n0:
            return json.loads(lines[-1])
        time.sleep(0.02)
    return {}


def chain_figures(work, anchors):
    """(f): the CPU of one small message, STARTTLS + AUTH, full
    verification, for each common hub chain (leaf + intermediate sent,
    the root trusted), with and without TLS 1.3 session tickets from the
    hub: callgrind instructions of each client, ssmtp's first message (no
    cache) and a repeat one (its cache warm: the session resumed), and
    the hub's CPU per message."""
    rows = []
    for alg in CHAINS:
        certs = work / ("chain-" + alg)
        sh(["sh", str(TOP / "bench" / "mkchain.sh"), str(certs), alg])
        for tickets in (True, False):
            port = free_port()
            stats = work / ("chain-%s-%d.jsonl" % (alg, tickets))
            sink = subprocess.Popen([str(TOP / "bench" / "sink"), "--certs",
                                     str(certs), "--port", str(port),
                                     "--stats", str(stats)] +
                                    ([] if tickets else ["--no-tickets"]))
            try:
                time.sleep(0.5)
                clients = make_clients(work, anchors, certs, port)
                small = message(work / "chain.eml", 1)
                row = {"chain": alg, "tickets": tickets}
                cold = work / ("home-cold-%s-%d" % (alg, tickets))
                warm = work / ("home-warm-%s-%d" % (alg, tickets))
                for d in (cold, warm):
                    d.mkdir()
                ours = clients[0]
                n0 = len(stats.read_text().splitlines()) if stats.exists() else 0
                row["ssmtp first"] = instructions(ours, small, {"HOME": str(cold)})
                row["hub CPU ms, full"] = last_stat(stats, n0).get("cpu_us", 0) / 1000
                ours.run(small, {"HOME": str(warm)})
                n0 = len(stats.read_text().splitlines())
                row["ssmtp repeat"] = instructions(ours, small, {"HOME": str(warm)})
                st = last_stat(stats, n0)
                row["resumed"] = bool(st.get("resumed"))
                row["hub CPU ms, repeat"] = st.get("cpu_us", 0) / 1000
                for c in clients[1:]:
                    row[c.name] = instructions(c, small)
                # 200 (20) messages, one process each, the cache warm.
                n = 20 if QUICK else 200
                t0 = time.monotonic()
                for _ in range(n):
                    ours.run(small, {"HOME": str(warm)})
                row["%d processes (s)" % n] = time.monotonic() - t0
                rows.append(row)
            finally:
                sink.terminate()
                sink.wait(10)
        print("bench: chain %s done" % alg, flush=True)
    return rows


def chain_report(rows):
    n = [k for k in rows[0] if k.endswith("processes (s)")][0]
    out = ["| hub chain | tickets | ssmtp first (M) | ssmtp repeat (M) | "
           "msmtp 1.8.23 (M) | sSMTP 2.64 (M) | first / msmtp | repeat / "
           "msmtp | hub CPU ms, full / resumed | %s |" % n,
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        m = r["msmtp 1.8.23"]
        out.append("| %s | %s | %.2f | %.2f%s | %.2f | %.2f | %.2fx | %.2fx | "
                   "%.1f / %.1f | %.2f |" % (
                       r["chain"], "yes" if r["tickets"] else "no",
                       r["ssmtp first"] / 1e6, r["ssmtp repeat"] / 1e6,
                       "" if r["resumed"] else " (not resumed)", m / 1e6,
                       r["sSMTP 2.64"] / 1e6, r["ssmtp first"] / m,
                       r["ssmtp repeat"] / m, r["hub CPU ms, full"],
                       r["hub CPU ms, repeat"], r[n]))
    return "\n".join(out)


def main():
    if os.geteuid() != 0:
        sys.exit("bench: run as root (make bench): it downloads packages")
    if not (TOP / "bench" / "sink").exists():
        sys.exit("bench: bench/sink is not built: run `make bench`")
    work = pathlib.Path(tempfile.mkdtemp(prefix="ssmtp-bench."))
    sinks = []
    try:
        print("bench: fetching msmtp and ssmtp from Debian's archive...", flush=True)
        anchors = fetch_anchors(work)
        if os.environ.get("BENCH_ONLY") == "chains":
            print(chain_report(chain_figures(work, anchors)))
            return
        certs = work / "certs"
        sh(["sh", str(TOP / "tests" / "mkcerts.sh"), str(certs)])
        port, plain_port = free_port(), free_port()
        stats = work / "stats.jsonl"
        for p, extra in ((port, []), (plain_port, ["--plain"])):
            sinks.append(subprocess.Popen([str(TOP / "bench" / "sink"),
                                           "--certs", str(certs), "--port", str(p),
                                           "--stats", str(stats)] + extra))
        time.sleep(1)
        clients = make_clients(work, anchors, certs, port)
        plain = make_clients(work, anchors, certs, plain_port, plain=True)
        small = message(work / "small.eml", 1)
        results = {c.name: {} for c in clients}
        rtt_figures(work, anchors, certs, results)

        for size in (10, 100):
            path = message(work / ("m%d.eml" % size), size * 1000 * 1000)
            mb = os.path.getsize(path) / 1e6
            for c in clients:
                # Three runs, the median, for a client that takes under
                # 10 s; one for the slow anchors.
                runs = [c.run(path)]
                if not QUICK and runs[0][0] < 10:
                    runs += [c.run(path) for _ in range(2)]
                t = statistics.median(r[0] for r in runs)
                results[c.name]["%d MB: MB/s" % size] = mb / t
                results[c.name]["%d MB: max RSS MB" % size] = max(r[1] for r in runs)
                if size == 10:
                    results[c.name]["10 MB: writes per MB"] = count_writes(c, path) / mb
            print("bench: %d MB done" % size, flush=True)
        for i, (c, cp) in enumerate(zip(clients, plain)):
            # The first message: no TLS session cache yet (a fresh HOME);
            # the repeat ones are in the chain table.
            fresh = work / ("home-first-%d" % i)
            fresh.mkdir()
            results[c.name]["instructions, STARTTLS+AUTH (M)"] = instructions(
                c, small, {"HOME": str(fresh)}) / 1e6
            results[c.name]["instructions, no TLS (M)"] = instructions(cp, small) / 1e6
        print("bench: instructions done", flush=True)
        n = 20 if QUICK else 200
        for c in clients:
            t0 = time.monotonic()
            for _ in range(n):
                c.run(small)
            results[c.name]["%d messages, one process each (s)" % n] = time.monotonic() - t0
        # The same loop starting /bin/true: what the harness itself takes.
        t0 = time.monotonic()
        for _ in range(n):
            Client("true", ["/bin/true"]).run(small)
        PROC_FLOOR[0] = time.monotonic() - t0
        print("bench: %d messages done" % n, flush=True)
        bs = bs_figures(work, clients[0], small, stats, 20 if QUICK else 100)
        bs += "\n" + queue_figures(work, clients[0], small, stats, port,
                                   20 if QUICK else 100)
        chains = chain_report(chain_figures(work, anchors))
        report(results, n, bs + "\n\n" + chains)
    finally:
        for s in sinks:
            s.terminate()
            s.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def bs_figures(work, ours, small, stats, n):
    """(e): n small messages through one -bs session (one hub connection,
    one TLS handshake) against n processes, STARTTLS + AUTH; wall time and
    the handshakes the sink counted (one per connection)."""
    body = open(small, "rb").read().replace(b"\n", b"\r\n")
    lines = [b"EHLO bench.test"]
    for _ in range(n):
        lines += [b"MAIL FROM:<bench@bench.test>", b"RCPT TO:<rcpt@example.org>",
                  b"DATA", body.rstrip(b"\r\n"), b"."]
    dialogue = work / "bs.txt"
    dialogue.write_bytes(b"\r\n".join(lines + [b"QUIT", b""]))
    argv = ours.argv[:-1] + ["-bs"]     # the same config, no recipient
    rows = []
    for what, run in (("one -bs session", lambda: ours.run(dialogue, argv=argv)),
                      ("one process each", lambda: [ours.run(small) for _ in range(n)])):
        c0 = len(stats.read_text().splitlines()) if stats.exists() else 0
        t0 = time.monotonic()
        run()
        rows.append((what, time.monotonic() - t0,
                     len(stats.read_text().splitlines()) - c0))
    print("bench: -bs done", flush=True)
    return ("\n| %d messages, STARTTLS + AUTH (ssmtp) | s | TLS handshakes |\n"
            "| --- | ---: | ---: |\n" % n +
            "\n".join("| %s | %.2f | %d |" % r for r in rows))


def queue_figures(work, ours, small, stats, port, n):
    """(g): n small messages queued while the hub is down (Queue=YES),
    then one `ssmtp -q`: wall time and the TLS handshakes the sink
    counted for the run (one session for all of them)."""
    qdir = work / "bench-queue"
    conf = pathlib.Path(ours.argv[2])
    base = conf.read_text()
    down, up = work / "queue-down.conf", work / "queue-up.conf"
    down.write_text(re.sub(r"(?m)^Mailhub=.*$", "Mailhub=127.0.0.1:%d" % free_port(),
                           base) + "Queue=YES\nQueueDir=%s\n" % qdir)
    up.write_text(base + "Queue=YES\nQueueDir=%s\n" % qdir)
    for f in (down, up):
        os.chmod(f, 0o600)
    for _ in range(n):
        ours.run(small, argv=[ours.argv[0], "-C", str(down), "rcpt@example.org"])
    for f in qdir.iterdir():           # due now (the bench's clock)
        if re.fullmatch(r"[0-9A-F]{17}", f.name):
            head, rest = f.read_bytes().split(b"\n\n", 1)
            head = re.sub(rb"(?m)^next \d+$", b"next 0", head)
            tmp = f.with_name(".tmp.bench")
            tmp.write_bytes(head + b"\n\n" + rest)
            os.chmod(tmp, 0o600)
            os.rename(tmp, f)
    c0 = len(stats.read_text().splitlines()) if stats.exists() else 0
    t0 = time.monotonic()
    ours.run(small, argv=[ours.argv[0], "-C", str(up), "-q"])
    t = time.monotonic() - t0
    left = [f for f in qdir.iterdir() if re.fullmatch(r"[0-9A-F]{17}", f.name)]
    print("bench: queue run done", flush=True)
    return "| one `ssmtp -q` for %d queued messages | %.2f | %d |%s" % (
        n, t, len(stats.read_text().splitlines()) - c0,
        "" if not left else " (%d left in the queue!)" % len(left))


LOWER_IS_BETTER = ("RSS", "writes", "instructions", "(s)", ": ms", "round trips")


def report(results, n, more=""):
    names = list(results)
    figures = list(results[names[0]])
    lines = ["| figure | " + " | ".join(names) + " | ssmtp vs best anchor | lower bound |",
             "| --- |" + " --- |" * (len(names) + 2)]
    for f in figures:
        vals = [results[nm][f] for nm in names]
        lower = any(k in f for k in LOWER_IS_BETTER)
        best = min(vals[1:]) if lower else max(vals[1:])
        ratio = vals[0] / best if best else float("nan")
        bound = LOWER_BOUND.get(f)
        lines.append("| %s | %s | %.2fx %s | %s |" % (
            f, " | ".join(("%.2f" if "instructions" in f else "%.1f") % v
                          for v in vals), ratio,
            "(lower is better)" if lower else "(higher is better)",
            "%g (ssmtp at %.2fx)" % (bound, vals[0] / bound) if bound else ""))
    table = "\n".join(lines) + (
        "\n\nRTT times are net of the harness (ip netns exec and GNU time "
        "starting /bin/true: %.1f ms)." % HARNESS_MS[0])
    if PROC_FLOOR[0]:
        table += ("\nThe process counts include the harness (Python starting "
                  "GNU time starting the client): %d of /bin/true take %.2f s."
                  % (n, PROC_FLOOR[0]))
    table += "\n" + more
    print(table)
    cpu = open("/proc/cpuinfo").read()
    model = re.search(r"model name\s*:\s*(.*)", cpu)
    out = TOP / "bench" / "latest-run.md"
    print("bench: the table is kept in %s (bench/RESULTS.md discusses a run)" % out)
    with open(out, "w") as f:
        f.write("# Latest `make bench` run\n\n%s, %d cores, %s, %s\n\n%s\n" % (
            model.group(1) if model else platform.machine(), os.cpu_count(),
            platform.platform(), time.strftime("%Y-%m-%d"), table))


if __name__ == "__main__":
    main()
