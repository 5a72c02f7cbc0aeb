"""A scripted SMTP server for transcript and fault tests.

A test writes the server's side of the session as a Python function that
gets a Conn; the server runs it in a thread for each connection it
accepts.  Conn records every line the client sent, so a test can assert
the exact transcript.  Every read has a timeout; nothing waits forever.
"""
import socket
import ssl
import threading


class ClientClosed(Exception):
    pass


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.lines = []         # every command line received, without CRLF
        self.raw = b""          # every byte received

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def reply(self, *lines):
        """Send reply lines, each with CRLF, in one write."""
        self.send(b"".join((l.encode() if isinstance(l, str) else l) + b"\r\n"
                           for l in lines))

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("client sent nothing for %s s" % timeout)
        if not chunk:
            raise ClientClosed()
        self.raw += chunk
        self.buf += chunk

    def line(self, timeout=10):
        while b"\r\n" not in self.buf:
            self._fill(timeout)
        line, self.buf = self.buf.split(b"\r\n", 1)
        self.lines.append(line)
        return line

    def expect(self, prefix, timeout=10):
        line = self.line(timeout)
        if not line.startswith(prefix.encode() if isinstance(prefix, str) else prefix):
            raise AssertionError("expected %r, got %r" % (prefix, line))
        return line

    def data(self, timeout=10):
        """Read DATA up to the lone dot; returns the bytes as sent (stuffed)."""
        while True:
            i = self.buf.find(b"\r\n.\r\n")
            if self.buf.startswith(b".\r\n"):
                body, self.buf = b"", self.buf[3:]
                return body
            if i != -1:
                body, self.buf = self.buf[:i + 2], self.buf[i + 5:]
                return body
            self._fill(timeout)

    def start_data(self, rcpts=1):
        """Play a lock-step MAIL, RCPT... and DATA, up to the 354."""
        self.expect("MAIL FROM:")
        self.reply("250 ok")
        for _ in range(rcpts):
            self.expect("RCPT TO:")
            self.reply("250 ok")
        self.expect("DATA")
        self.reply("354 go ahead")

    def accept_mail(self, rcpts=1, final="250 2.0.0 queued"):
        """Play a lock-step MAIL, RCPT..., DATA, the data, QUIT; return the
        data as sent (dot-stuffed)."""
        self.start_data(rcpts)
        data = self.data()
        self.reply(final)
        self.expect("QUIT")
        self.reply("221 bye")
        return data

    def read_exact(self, n, timeout=10):
        """Read exactly n bytes (a BDAT chunk)."""
        while len(self.buf) < n:
            self._fill(timeout)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def at_eof(self, timeout=5):
        """True when the client closes without sending anything more."""
        try:
            self._fill(timeout)
        except ClientClosed:
            return True
        except (ConnectionResetError, TimeoutError):
            return False
        return False

    def starttls(self, ctx):
        assert self.buf == b"", "client pipelined past STARTTLS: %r" % self.buf
        self.sock = ctx.wrap_socket(self.sock, server_side=True)


class ScriptedServer:
    def __init__(self, session, host="127.0.0.1", connections=1, tls=None, port=0):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.session = session
        self.connections = connections
        self.tls = tls
        self.conns = []
        self.errors = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(30)
        for _ in range(self.connections):
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            c = None
            try:
                if self.tls is not None:
                    s = self.tls.wrap_socket(s, server_side=True)
                c = Conn(s)
                self.conns.append(c)
                self.session(c)
            except (ClientClosed, BrokenPipeError, ConnectionResetError):
                pass            # the client hung up: its right, not a script bug
            except Exception as e:      # reported by stop()
                self.errors.append(e)
            finally:
                # After STARTTLS the live socket is the TLS one.
                for sock in (c.sock if c is not None else None, s):
                    try:
                        if sock is not None:
                            sock.close()
                    except OSError:
                        pass

    @property
    def lines(self):
        return self.conns[0].lines if self.conns else []

    def stop(self):
        """Stop serving; raise what a session ran into (an unexpected
        line, a timeout): a test must not pass on a broken script."""
        self.sock.close()
        self.thread.join(40)
        assert not self.thread.is_alive(), "scripted server still running"
        if self.errors:
            raise AssertionError("scripted server: %r" % self.errors)
