"""A fast SMTP sink for the benchmark: STARTTLS, AUTH PLAIN/LOGIN,
PIPELINING, SIZE, 8BITMIME and CHUNKING; it keeps no mail, only counts.

For each session it records the bytes of message data and the round
trips the client spent: each time the sink had to wait for the client
after answering (two for a TLS handshake), plus the TCP handshake and the
trip of the last reply.
One thread per connection; every read has a timeout.

usage: sink.py --certs DIR --port N --stats FILE [--plain]
"""
import argparse
import json
import socket
import ssl
import threading

CAPS_PLAIN = [b"PIPELINING", b"SIZE 1073741824", b"8BITMIME", b"CHUNKING"]


class Session:
    def __init__(self, sock, ctx, plain):
        self.sock = sock
        self.ctx = ctx
        self.plain = plain
        self.buf = b""
        self.waits = 0
        self.tls = False
        self.data_bytes = 0
        self.wrote = False
        self.out = []

    def flush(self):
        if self.out:
            self.sock.sendall(b"".join(self.out))
            self.out = []
            self.wrote = True

    def fill(self):
        self.flush()        # answer everything before waiting
        answered, self.wrote = self.wrote, False
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError
        if answered:
            self.waits += 1     # the client had to hear us first
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self, *lines):
        self.out.append(b"".join(l + b"\r\n" for l in lines))
        # Replies wait while more pipelined commands are already here.
        if b"\r\n" not in self.buf:
            self.flush()

    def read_data(self):
        tail = b""
        while True:
            i = (tail + self.buf).find(b"\r\n.\r\n")
            if self.buf.startswith(b".\r\n") and not tail:
                self.buf = self.buf[3:]
                return
            if i != -1:
                cut = i - len(tail) + 5
                self.data_bytes += cut
                self.buf = self.buf[cut:]
                return
            self.data_bytes += len(self.buf)
            tail = (tail + self.buf)[-4:]
            self.buf = b""
            self.fill()

    def read_exact(self, n):
        while len(self.buf) < n:
            n -= len(self.buf)
            self.data_bytes += len(self.buf)
            self.buf = b""
            self.fill()
        self.data_bytes += n
        self.buf = self.buf[n:]

    def run(self):
        self.reply(b"220 sink.test ESMTP")
        while True:
            line = self.line()
            verb = line.split(b" ", 1)[0].upper()
            if verb in (b"EHLO", b"HELO"):
                caps = list(CAPS_PLAIN)
                if not self.tls and not self.plain:
                    caps.append(b"STARTTLS")
                if self.tls or self.plain:
                    caps.append(b"AUTH PLAIN LOGIN")
                self.reply(*([b"250-sink.test"] + [b"250-" + c for c in caps[:-1]]
                             + [b"250 " + caps[-1]]))
            elif verb == b"STARTTLS":
                self.reply(b"220 go ahead")
                self.flush()
                self.sock = self.ctx.wrap_socket(self.sock, server_side=True)
                self.waits += 2     # for ClientHello, then for Finished
                self.tls = True
                self.wrote = False
            elif verb == b"AUTH":
                parts = line.split()
                if parts[1].upper() == b"LOGIN":
                    self.reply(b"334 VXNlcm5hbWU6")
                    self.line()
                    self.reply(b"334 UGFzc3dvcmQ6")
                    self.line()
                elif len(parts) == 2:
                    self.reply(b"334 ")
                    self.line()
                self.reply(b"235 2.7.0 ok")
            elif verb == b"DATA":
                self.reply(b"354 go ahead")
                self.read_data()
                self.reply(b"250 2.0.0 queued")
            elif verb == b"BDAT":
                self.read_exact(int(line.split()[1]))
                self.reply(b"250 2.0.0 queued")
            elif verb == b"QUIT":
                self.reply(b"221 bye")
                self.flush()
                return
            else:
                self.reply(b"250 ok")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--certs", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--stats", required=True)
    p.add_argument("--plain", action="store_true")
    a = p.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.certs + "/server.crt", a.certs + "/server.key")
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.host, a.port))
    ls.listen(64)
    lock = threading.Lock()

    def serve(sock):
        sock.settimeout(60)
        s = Session(sock, ctx, a.plain)
        try:
            s.run()
        except (EOFError, OSError, ssl.SSLError):
            pass
        finally:
            sock.close()
        with lock, open(a.stats, "a") as f:
            # Round trips the client spent: each wait for it, plus the
            # TCP handshake and the trip of the last reply.
            f.write(json.dumps({"turns": s.waits + 2,
                                "data": s.data_bytes}) + "\n")

    while True:
        c, _ = ls.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
