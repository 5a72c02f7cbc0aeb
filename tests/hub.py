"""A throwaway smarthub on loopback, built on aiosmtpd.

Used by `make demo` (run as a program) and by the integration tests
(imported).  It offers STARTTLS or implicit TLS with a certificate from
the test CA, AUTH PLAIN, LOGIN and CRAM-MD5, and records every message
exactly as received (after the dot-unstuffing SMTP requires).
"""
import argparse
import hashlib
import hmac
import os
import secrets
import signal
import socket
import ssl
import sys
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# aiosmtpd itself still touches the deprecated Session.login_data.
warnings.filterwarnings("ignore", message="Session.login_data")


def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Recorder:
    """The aiosmtpd handler: keeps what arrives, checks passwords."""

    def __init__(self, users):
        self.users = users
        self.refuse = {}        # recipient -> reply to RCPT
        self.messages = []
        self.auth_log = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append({
                "mail_from": envelope.mail_from,
                "mail_options": list(envelope.mail_options),
                "rcpt_tos": list(envelope.rcpt_tos),
                "content": envelope.original_content,
                "tls": server.transport.get_extra_info("ssl_object") is not None,
                "resumed": resumed(server),
                "login": login_of(session.auth_data),
            })
        return "250 2.0.0 Ok: queued as %d" % len(self.messages)

    def authenticate(self, server, session, envelope, mechanism, data):
        ok = (isinstance(data, LoginPassword)
              and self.users.get(data.login.decode()) == data.password.decode())
        with self.lock:
            self.auth_log.append((mechanism, ok))
        return AuthResult(success=ok, handled=False,
                          auth_data=data if ok else None)

    # aiosmtpd maps auth_CRAM__MD5 to the mechanism name CRAM-MD5.
    async def auth_CRAM__MD5(self, server, args):
        challenge = ("<%s@hub.test>" % secrets.token_hex(8)).encode()
        resp = await server.challenge_auth(challenge)
        ok = False
        user = None
        if isinstance(resp, bytes) and b" " in resp:
            user, digest = resp.rsplit(b" ", 1)
            pw = self.users.get(user.decode(errors="replace"))
            if pw is not None:
                want = hmac.new(pw.encode(), challenge, hashlib.md5).hexdigest()
                ok = hmac.compare_digest(want.encode(), digest)
        with self.lock:
            self.auth_log.append(("CRAM-MD5", ok))
        return AuthResult(success=ok, handled=False, auth_data=user)


def resumed(server):
    """Whether the client resumed a TLS session (None without TLS)."""
    obj = server.transport.get_extra_info("ssl_object")
    return None if obj is None else obj.session_reused


def login_of(auth_data):
    """The user name a session authenticated as, or None."""
    if isinstance(auth_data, LoginPassword):
        return auth_data.login.decode(errors="replace")
    if isinstance(auth_data, bytes):
        return auth_data.decode(errors="replace")
    return auth_data


def server_context(certdir, name="server", client_ca=False, max_tls=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(certdir, name + ".crt"),
                        os.path.join(certdir, name + ".key"))
    if client_ca:
        # Require a client certificate from the test CA.
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(os.path.join(certdir, "ca.crt"))
    if max_tls is not None:
        ctx.maximum_version = max_tls
    return ctx


class Hub:
    """mode: "starttls", "implicit" or "plain"."""

    def __init__(self, certdir, mode="starttls", users=None, host="127.0.0.1",
                 cert="server", auth_required=True, auth_require_tls=True,
                 data_size_limit=33554432, client_ca=False, max_tls=None):
        self.handler = Recorder(users if users is not None else {"user": "secret"})
        self.host = host
        self.port = free_port(host)
        self.mode = mode
        kw = dict(hostname=host, port=self.port, server_hostname="hub.test",
                  authenticator=self.handler.authenticate,
                  auth_required=auth_required,
                  auth_require_tls=auth_require_tls,
                  decode_data=False, data_size_limit=data_size_limit,
                  ready_timeout=10)
        # The server's TLS context (None for "plain"): a test may change
        # it between connections (num_tickets, say).
        self.tls_context = None
        if mode == "starttls":
            self.tls_context = server_context(certdir, cert, client_ca, max_tls)
            kw.update(tls_context=self.tls_context, require_starttls=True)
        elif mode == "implicit":
            # aiosmtpd counts only STARTTLS as TLS when it decides whether
            # to offer AUTH; here the whole connection is TLS already.
            self.tls_context = server_context(certdir, cert, client_ca, max_tls)
            kw.update(ssl_context=self.tls_context, auth_require_tls=False)
        self.controller = Controller(self.handler, **kw)

    @property
    def messages(self):
        return self.handler.messages

    @property
    def auth_log(self):
        return self.handler.auth_log

    def start(self):
        if self.mode == "implicit":
            # The controller's self-test connection would fail verification
            # against the test CA; aiosmtpd only needs it to have connected.
            self.controller._trigger_server = lambda: socket.create_connection(
                (self.host, self.port), 5).close()
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--certs", required=True)
    p.add_argument("--mode", default="starttls")
    p.add_argument("--user", default="user")
    p.add_argument("--password", default="secret")
    p.add_argument("--portfile", required=True, help="write the port here")
    p.add_argument("--out", required=True, help="append messages here")
    a = p.parse_args()
    hub = Hub(a.certs, a.mode, {a.user: a.password}).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    with open(a.portfile, "w") as f:
        f.write("%d\n" % hub.port)
    seen = 0
    try:
        while not done.wait(0.1):
            while seen < len(hub.messages):
                m = hub.messages[seen]
                seen += 1
                with open(a.out, "ab") as f:
                    f.write(("--- envelope: MAIL FROM:<%s> RCPT TO:%s, "
                             "TLS: %s, authenticated as: %s\n" % (
                                 m["mail_from"],
                                 ",".join("<%s>" % r for r in m["rcpt_tos"]),
                                 "yes" if m["tls"] else "no",
                                 m["login"] or "nobody"
                             )).encode())
                    f.write(m["content"])
    finally:
        hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
