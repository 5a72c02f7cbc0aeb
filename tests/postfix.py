"""A real Postfix smarthub on loopback, for the tests.

Its own config, queue and data folders in a temporary directory, so it
touches nothing else on the machine (Debian's smtpd reads its Cyrus SASL
settings from $config_directory/sasl/smtpd.conf, which is ours too).
Three listeners on 127.0.0.1:
  submission  STARTTLS required, then AUTH PLAIN/LOGIN (sasldb) required
  smtps       implicit TLS, AUTH required
  plain       no TLS and no AUTH; accepts mail from 127.0.0.0/8
Every accepted message goes to one Maildir through the virtual agent; no
mail is relayed anywhere else.  Started with `postfix -c DIR start` (no
systemd), stopped with `postfix stop`; the log is kept in maillog.
"""
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time

from hub import free_port

DOMAINS = ("example.org", "example.net")
USER, PASSWORD, REALM = "user", "secret", "hub.test"

MASTER_CF = """\
127.0.0.1:{submission} inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
127.0.0.1:{smtps} inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
127.0.0.1:{plain} inet n - n - - smtpd
  -o smtpd_tls_security_level=none
  -o smtpd_sasl_auth_enable=no
  -o smtpd_recipient_restrictions=permit_mynetworks,reject
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
local     unix  - n n -  - local
virtual   unix  - n n -  - virtual
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
myhostname = hub.test
mydomain = hub.test
myorigin = hub.test
mydestination =
relay_domains =
relayhost =
default_transport = error:the test hub relays nothing
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
queue_directory = {d}/queue
data_directory = {d}/data
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
alias_maps =
alias_database =
smtpd_peername_lookup = no
message_size_limit = 52428800
virtual_mailbox_limit = 0
virtual_mailbox_domains = {domains}
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
smtpd_tls_cert_file = {d}/etc/server.crt
smtpd_tls_key_file = {d}/etc/server.key
smtpd_sasl_local_domain = {realm}
"""

SASL_CONF = """\
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: {d}/sasl/sasldb2
mech_list: PLAIN LOGIN
"""


class PostfixError(Exception):
    pass


def missing_prerequisites():
    """Why Postfix cannot run here, or None."""
    for tool in ("/usr/sbin/postfix", "/usr/sbin/saslpasswd2"):
        if not os.path.exists(tool):
            return "%s is missing (make check installs postfix and sasl2-bin)" % tool
    if os.geteuid() != 0:
        return "the Postfix tests need root (Postfix's master runs as root)"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "there is no postfix user (is the postfix package installed?)"
    return None


class Postfix:
    def __init__(self, certdir):
        self.dir = tempfile.mkdtemp(prefix="ssmtp-postfix.")
        os.chmod(self.dir, 0o755)   # postfix and the virtual uid traverse it
        self.ports = {"submission": free_port(), "smtps": free_port(),
                      "plain": free_port()}
        self.certdir = certdir
        self.started = False

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def _run(self, *args, timeout=60):
        p = subprocess.run(["/usr/sbin/postfix", "-c", self.path("etc")] + list(args),
                           capture_output=True, timeout=timeout)
        return p.returncode, (p.stdout + p.stderr).decode(errors="replace")

    def start(self):
        pf = pwd.getpwnam("postfix")
        nobody = pwd.getpwnam("nobody")
        for sub in ("etc", "etc/sasl", "queue", "data", "sasl", "mail"):
            os.makedirs(self.path(sub), exist_ok=True)
        for sub in ("data", "sasl"):
            os.chown(self.path(sub), pf.pw_uid, pf.pw_gid)
        os.chown(self.path("mail"), nobody.pw_uid, nobody.pw_gid)
        shutil.copy(os.path.join(self.certdir, "server.crt"), self.path("etc"))
        shutil.copy(os.path.join(self.certdir, "server.key"), self.path("etc"))
        with open(self.path("etc", "main.cf"), "w") as f:
            f.write(MAIN_CF.format(d=self.dir, domains=", ".join(DOMAINS),
                                   uid=nobody.pw_uid, gid=nobody.pw_gid,
                                   realm=REALM))
        with open(self.path("etc", "master.cf"), "w") as f:
            f.write(MASTER_CF.format(**self.ports))
        with open(self.path("etc", "sasl", "smtpd.conf"), "w") as f:
            f.write(SASL_CONF.format(d=self.dir))
        p = subprocess.run(["/usr/sbin/saslpasswd2", "-p", "-c", "-f",
                            self.path("sasl", "sasldb2"), "-u", REALM, USER],
                           input=PASSWORD.encode(), capture_output=True, timeout=30)
        if p.returncode != 0:
            raise PostfixError("saslpasswd2 failed: %s" % p.stderr.decode())
        os.chown(self.path("sasl", "sasldb2"), pf.pw_uid, pf.pw_gid)
        rc, out = self._run("start")
        if rc != 0:
            raise PostfixError("postfix start failed (%d): %s\n%s" % (rc, out, self.log()))
        self.started = True
        self._wait_listening()
        return self

    def _wait_listening(self):
        import socket
        deadline = time.monotonic() + 30
        for port in self.ports.values():
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise PostfixError("Postfix is not listening on %d:\n%s"
                                           % (port, self.log()))
                    time.sleep(0.1)

    def log(self):
        try:
            with open(self.path("maillog"), errors="replace") as f:
                return f.read()
        except OSError:
            return "(no maillog)"

    def stop(self):
        if self.started:
            self._run("stop")
            deadline = time.monotonic() + 20
            while self._master_alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            if self._master_alive():
                self._run("abort")
            self.started = False

    def _master_alive(self):
        try:
            with open(self.path("queue", "pid", "master.pid")) as f:
                os.kill(int(f.read().strip()), 0)
            return True
        except (OSError, ValueError):
            return False

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def delivered(self, recipient, count=1, timeout=30):
        """Wait for count messages to recipient; returns their bytes."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages_for(recipient)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def messages_for(self, recipient):
        out = []
        for fn in sorted(glob.glob(self.path("mail", "box", "new", "*"))):
            with open(fn, "rb") as f:
                data = f.read()
            if b"\nDelivered-To: %s\n" % recipient.encode() in b"\n" + data:
                out.append(data)
        return out
