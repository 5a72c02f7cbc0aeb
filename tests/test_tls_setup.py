"""How ssmtp sets OpenSSL up: it skips parts of OpenSSL's start-up that
cost instructions on every message (the legacy cipher and digest tables,
the error strings until an error is reported; bench/RESULTS.md), and
fetches from a provider of its own that hands on the default provider less
the ciphers libssl never uses and the key decoders a certificate does not
need (provider.c).  These tests hold what must not be lost on the way:
chains of every common signature algorithm verify, weak ones are refused,
every record cipher, key exchange and group a hub may choose works, client
keys in every common format are read, and every error still names its
reason in words."""
import ssl
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


# TLS 1.2 cipher suites, one for each record cipher and key exchange
# ssmtp offers (at security level 2, OpenSSL's default list: no CCM,
# CAMELLIA or ARIA): the hub allows only that one, so a delivery means it
# was used.  TLS 1.3 uses the same ciphers, AES-GCM and ChaCha20-Poly1305.
SUITES = {
    # the test CA's hub: an EC P-256 certificate
    "ECDHE-ECDSA-AES128-GCM-SHA256": None,
    "ECDHE-ECDSA-AES256-GCM-SHA384": None,
    "ECDHE-ECDSA-CHACHA20-POLY1305": None,
    "ECDHE-ECDSA-AES128-SHA256": None,
    "ECDHE-ECDSA-AES256-SHA": None,
    # an RSA certificate: RSA signatures, RSA key transport, finite-field DH
    "ECDHE-RSA-AES256-GCM-SHA384": "rsa-sha256",
    "ECDHE-RSA-AES128-SHA": "rsa-sha256",
    "AES128-GCM-SHA256": "rsa-sha256",
    "AES256-SHA256": "rsa-sha256",
    "DHE-RSA-AES128-GCM-SHA256": "rsa-sha256",
    "DHE-RSA-CHACHA20-POLY1305": "rsa-sha256",
}


@pytest.fixture(scope="module")
def dh_params(tmp_path_factory):
    p = tmp_path_factory.mktemp("dh") / "ffdhe2048.pem"
    openssl("genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt",
            "group:ffdhe2048", "-out", str(p), cwd=p.parent)
    return p


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_each_tls12_cipher_suite(ssmtp, hub, certs, algo_certs, dh_params, suite):
    cert = SUITES[suite]
    if cert is None:
        h = hub("starttls", max_tls=ssl.TLSVersion.TLSv1_2)
        ca = certs / "ca.crt"
    else:
        h = hub("starttls", certs_dir=str(algo_certs), cert=cert,
                max_tls=ssl.TLSVersion.TLSv1_2)
        ca = algo_certs / ("ca-%s.crt" % cert)
    ctx = h.controller.SMTP_kwargs["tls_context"]
    ctx.set_ciphers(suite)
    ctx.load_dh_params(str(dh_params))
    ssmtp.conf(h, TLS_CA_File=str(ca))
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert len(h.messages) == 1


# TLS 1.3 key exchange groups: the hub accepts only one curve, so that
# the client's first key share (X25519, which every other test uses) is
# retried in that group.  (Finite-field DH: the DHE suites above.)
@pytest.mark.parametrize("group", ["prime256v1", "secp384r1", "secp521r1"])
def test_each_tls13_group(ssmtp, hub, group):
    h = hub("starttls")
    ctx = h.controller.SMTP_kwargs["tls_context"]
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_ecdh_curve(group)
    ssmtp.conf(h)
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert len(h.messages) == 1


# Client keys as files hold them: PKCS #8 and each type's own PEM form.
CLIENT_KEYS = {
    "rsa-pkcs8": ["genpkey", "-algorithm", "RSA", "-pkeyopt",
                  "rsa_keygen_bits:2048"],
    "rsa-traditional": ["genrsa", "-traditional", "2048"],
    "ec-pkcs8": ["genpkey", "-algorithm", "EC", "-pkeyopt",
                 "ec_paramgen_curve:P-384"],
    "ec-traditional": ["ecparam", "-genkey", "-name", "prime256v1",
                       "-noout"],
    "ed25519": ["genpkey", "-algorithm", "ED25519"],
}


@pytest.mark.parametrize("kind", sorted(CLIENT_KEYS))
def test_client_key_format(ssmtp, hub, certs, tmp_path, kind):
    key, crt = tmp_path / "c.key", tmp_path / "c.crt"
    cmd = CLIENT_KEYS[kind]
    openssl(cmd[0], "-out", str(key), *cmd[1:], cwd=tmp_path)
    head = key.read_text().splitlines()[0]
    assert ("TRADITIONAL" in kind.upper()) == (head != "-----BEGIN PRIVATE KEY-----")
    openssl("req", "-new", "-key", str(key), "-subj", "/CN=client.test",
            "-out", "c.csr", cwd=tmp_path)
    (tmp_path / "c.ext").write_text("extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", "c.csr", "-CA", str(certs / "ca.crt"),
            "-CAkey", str(certs / "ca.key"), "-CAcreateserial", "-sha256",
            "-days", "2", "-extfile", "c.ext", "-out", str(crt), cwd=tmp_path)
    h = hub("starttls", client_ca=True)
    ssmtp.conf(h, UseTLSCert="YES", TLSCert=str(crt), TLSKey=str(key))
    r = ssmtp.run(["a@example.org"], MSG)
    assert r.rc == 0, r
    assert len(h.messages) == 1
