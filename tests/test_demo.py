"""`make demo`'s script: it sends through STARTTLS and AUTH, shows the
dialogue and what the hub received, leaves nothing behind, and its
config (it holds AuthPass) is private, so ssmtp does not warn."""
import os
import subprocess

from conftest import TOP


def test_demo_sends_privately_and_leaves_nothing(tmp_path):
    env = dict(os.environ, TMPDIR=str(tmp_path), HOME=str(tmp_path))
    r = subprocess.run(["sh", str(TOP / "scripts" / "demo.sh")], env=env,
                       capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "== ssmtp exited with 0" in out
    assert "STARTTLS" in out and "AUTH" in out
    assert "Subject: Hello from ssmtp" in out
    assert "demo-secret" not in out
    assert "can be read by every user" not in out, out
    # The work folder is gone (the cache under HOME is ssmtp's own).
    assert [p.name for p in tmp_path.iterdir()
            if p.name.startswith("ssmtp-demo.")] == []
