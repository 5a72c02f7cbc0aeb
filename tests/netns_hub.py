"""Run inside a private network namespace (unshare -n): give its lo a
TEST-NET-1 address (ssmtp's loopback rule looks at the address, not the
interface), serve SMTP there with AUTH offered in the
clear (no STARTTLS), run the ssmtp command given, and print as JSON what
the hub saw.  Nothing leaves the namespace.

usage: netns_hub.py ADDRESS -- ssmtp-command...
"""
import json
import subprocess
import sys
import threading

from scripted import ClientClosed, ScriptedServer


def main():
    addr = sys.argv[1]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    for c in (["ip", "link", "set", "lo", "up"],
              ["ip", "addr", "add", addr + "/32", "dev", "lo"]):
        subprocess.run(c, check=True, timeout=30)
    seen = []

    def session(c):
        c.reply("220 hub.test")
        c.expect("EHLO")
        c.reply("250-hub.test", "250-AUTH PLAIN LOGIN", "250 PIPELINING")
        while True:
            line = c.line(timeout=10)
            seen.append(line.decode(errors="replace"))
            if line.startswith(b"QUIT"):
                c.reply("221 bye")
                return
            c.reply("250 ok" if not line.startswith(b"AUTH") else "235 ok")

    s = ScriptedServer(session, host=addr, port=2525)
    p = subprocess.run(cmd, input=b"Subject: x\n\nbody\n", capture_output=True, timeout=60)
    s.stop()
    json.dump({"rc": p.returncode, "stderr": p.stderr.decode(errors="replace"),
               "seen": seen}, sys.stdout)


if __name__ == "__main__":
    main()
