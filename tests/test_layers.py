"""The include graph follows ARCHITECTURE.md: only the allowed arrows, no
cycle, and the face never sees OpenSSL, the transport or SASL."""
import pathlib
import re

TOP = pathlib.Path(__file__).resolve().parent.parent
GROUND = {"err", "log", "buf", "addr", "tlsconf", "clock", "paths"}
ALLOWED = {
    "ssmtp": {"config", "message", "deadletter", "secret", "smtp", "bs",
              "hubs", "queue", "runq", "check", "tlscache"},
    "check": {"config", "hubs", "smtp"},
    "hubs": {"config", "smtp"},
    "runq": {"config", "message", "deadletter", "queue", "notice", "hubs",
             "smtp"},
    "queue": {"message"},
    "notice": {"message"},
    "bs": {"message"},
    "secret": {"config"},
    "deadletter": {"message"},
    "smtp": {"auth", "net", "message"},
    "net": {"tls", "tlscache"},
    "tlscache": set(),
    "tls": {"provider"},
    "provider": set(),
    "auth": set(),
    "config": set(),
    "message": set(),
}


def includes(path):
    text = path.read_text()
    ours = set(re.findall(r'^#include "([a-z_]+)\.h"', text, re.M))
    system = set(re.findall(r"^#include <([^>]+)>", text, re.M))
    return ours, system


def graph():
    g = {}
    for f in sorted(TOP.glob("*.[ch]")):
        mod = f.stem
        ours, _ = includes(f)
        g.setdefault(mod, set()).update(ours - {mod})
    return g


def test_every_module_is_placed():
    assert set(graph()) <= set(ALLOWED) | GROUND


def test_only_allowed_arrows():
    bad = []
    for mod, deps in graph().items():
        for d in deps:
            if d in GROUND:
                continue
            if mod in GROUND or d not in ALLOWED.get(mod, set()):
                bad.append("%s -> %s" % (mod, d))
    assert bad == []


def test_no_cycle():
    g = graph()
    state = {}

    def visit(m, path):
        if state.get(m) == 1:
            raise AssertionError("cycle: " + " -> ".join(path + [m]))
        if state.get(m) == 2:
            return
        state[m] = 1
        for d in g.get(m, ()):
            visit(d, path + [m])
        state[m] = 2

    for m in g:
        visit(m, [])


def closure(header):
    seen, todo = set(), [header]
    while todo:
        h = todo.pop()
        if h in seen:
            continue
        seen.add(h)
        path = TOP / (h + ".h")
        if path.exists():
            todo.extend(includes(path)[0])
    return seen


def test_face_sees_no_openssl_transport_or_sasl():
    for face in ("ssmtp.c", "secret.c", "bs.c"):
        ours, system = includes(TOP / face)
        seen = set().union(*(closure(h) for h in ours))
        assert not seen & {"net", "tls", "auth"}, (face, seen)
        headers = system | {s for h in seen if (TOP / (h + ".h")).exists()
                            for s in includes(TOP / (h + ".h"))[1]}
        assert not [h for h in headers if h.startswith("openssl/")], (face, headers)


def test_tls_knows_no_smtp_and_no_connection():
    ours, _ = includes(TOP / "tls.c")
    assert not set().union(*(closure(h) for h in ours)) & {"smtp", "net", "config"}
