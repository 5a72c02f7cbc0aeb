"""How ssmtp sets OpenSSL up: it skips parts of OpenSSL's start-up that
cost instructions on every message (the legacy cipher and digest tables,
the error strings until an error is reported; bench/RESULTS.md).  These
tests hold what must not be lost on the way: chains of every common
signature algorithm verify, weak ones are refused, and every error still
names its reason in words."""
import subprocess

import pytest

MSG = b"Subject: s\n\nbody\n"
SAN = "DNS:localhost,IP:127.0.0.1,IP:::1"

# name: (key algorithm options for genpkey, signing options for openssl)
ALGORITHMS = {
    "rsa-sha256": (["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                   ["-sha256"]),
    "rsa-sha512": (["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                   ["-sha512"]),
    "rsa-pss": (["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                ["-sha256", "-sigopt", "rsa_padding_mode:pss",
                 "-sigopt", "rsa_pss_saltlen:digest"]),
    "p384-sha384": (["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
                    ["-sha384"]),
    "p521-sha512": (["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
                    ["-sha512"]),
    "ed25519": (["-algorithm", "ED25519"], []),
    "rsa-sha1": (["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                 ["-sha1"]),
}


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def algo_certs(tmp_path_factory):
    """For each algorithm: a CA (ca-NAME.crt) and a server certificate
    (NAME.crt/.key) both keyed and signed with it."""
    d = tmp_path_factory.mktemp("algos")
    for name, (keyopts, signopts) in ALGORITHMS.items():
        openssl("genpkey", *keyopts, "-out", "ca-%s.key" % name, cwd=d)
        # The CA itself is signed with SHA-256 when its leaf uses SHA-1:
        # a hub's old certificate under a current CA.
        ca_signopts = ["-sha256"] if name == "rsa-sha1" else signopts
        openssl("req", "-x509", "-new", "-key", "ca-%s.key" % name, *ca_signopts,
                "-days", "30", "-subj", "/CN=%s test CA" % name,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-out", "ca-%s.crt" % name, cwd=d)
        openssl("genpkey", *keyopts, "-out", "%s.key" % name, cwd=d)
        openssl("req", "-new", "-key", "%s.key" % name, "-subj", "/CN=%s" % name,
                "-out", "%s.csr" % name, cwd=d)
        (d / ("%s.ext" % name)).write_text(
            "subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
            "extendedKeyUsage=serverAuth\n" % SAN)
        openssl("x509", "-req", "-in", "%s.csr" % name, "-CA", "ca-%s.crt" % name,
                "-CAkey", "ca-%s.key" % name, "-CAcreateserial", *signopts,
                "-days", "30", "-extfile", "%s.ext" % name,
                "-out", "%s.crt" % name, cwd=d)
    return d


@pytest.mark.parametrize("name", sorted(set(ALGORITHMS) - {"rsa-sha1"}))
def test_chain_of_each_algorithm_verifies(ssmtp, hub, algo_certs, name):
    h = hub("starttls", certs_dir=str(algo_certs), cert=name)
    ssmtp.conf(h, TLS_CA_File=str(algo_certs / ("ca-%s.crt" % name)))
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert len(h.messages) == 1


def test_sha1_signature_refused(ssmtp, hub, algo_certs):
    # Security level 2 (what Debian's openssl.cnf sets) refuses SHA-1
    # signatures: 80 bits of security, 112 needed.
    # The hub starts with an RSA certificate that its OpenSSL accepts,
    # then swaps in the SHA-1 one (same key type: it replaces the first).
    h = hub("starttls", certs_dir=str(algo_certs), cert="rsa-sha256")
    ctx = h.controller.SMTP_kwargs["tls_context"]
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.load_cert_chain(algo_certs / "rsa-sha1.crt", algo_certs / "rsa-sha1.key")
    ssmtp.conf(h, TLS_CA_File=str(algo_certs / "ca-rsa-sha1.crt"))
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 69, r
    assert "not trusted" in r.err and "too weak" in r.err
    assert h.messages == [] and MSG in r.dead_letter


def test_tls_error_named_in_words(ssmtp, hub):
    # Implicit TLS to a hub that speaks plain SMTP: OpenSSL's reason, in
    # words, not a number.
    h = hub("plain")
    ssmtp.conf(h, UseTLS="YES", AuthUser=None, AuthPass=None)
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 69, r
    assert "wrong version number" in r.err
    assert MSG in r.dead_letter


def test_bad_ca_file_named_in_words(ssmtp, hub, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    h = hub("starttls")
    ssmtp.conf(h, TLS_CA_File=str(bad))
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 78, r
    # Reported where TLS starts, once (the context is first tried while
    # the EHLO reply is on its way).
    assert r.err.count("STARTTLS: cannot load CA certificates from") == 1
    assert "bad.pem" in r.err and "no certificate or crl found" in r.err
    assert MSG in r.dead_letter


def test_bad_client_key_named_in_words(ssmtp, hub, tmp_path):
    # The reason OpenSSL gives for a key it cannot read, in words (the
    # key is parsed from the bytes read before the rights were dropped).
    key = tmp_path / "client.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n"
                   "-----END PRIVATE KEY-----\n")
    h = hub("starttls")
    ssmtp.conf(h, UseTLSCert="YES", TLSCert=str(ssmtp.certs / "client.crt"),
               TLSKey=str(key))
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 78, r
    assert "client.key" in r.err and "asn1 error" in r.err, r.err
    assert "error:" not in r.err, r.err
    assert MSG in r.dead_letter


def test_encrypted_client_key_refused_without_prompt(ssmtp, hub, tmp_path):
    # A sendmail run from cron cannot answer a passphrase prompt, and one
    # run from a terminal must not stop to ask (OpenSSL's default is to
    # prompt on the terminal or stdin): refuse the key and say why.
    key = tmp_path / "client.key"
    subprocess.run(["openssl", "pkey", "-in", str(ssmtp.certs / "client.key"),
                    "-aes256", "-passout", "pass:secret", "-out", str(key)],
                   check=True, capture_output=True, timeout=30)
    h = hub("starttls")
    ssmtp.conf(h, UseTLSCert="YES", TLSCert=str(ssmtp.certs / "client.crt"),
               TLSKey=str(key))
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 78, r
    assert "pass phrase" not in r.err.lower()
    assert "client.key" in r.err and "passphrase" in r.err, r.err
    assert MSG in r.dead_letter and h.messages == []
