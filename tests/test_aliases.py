"""Recipient aliases (the Aliases key, /etc/aliases style): local names
mapped in the envelope only, chains, default:, loops, refused programs
and files, and newaliases checking the file."""
import os

import pytest

MSG = b"To: root\nSubject: alias\n\nx\n"


def aliases(ssmtp, text, **conf):
    path = ssmtp.confdir / "aliases"
    path.write_text(text)
    return path


def send(ssmtp, hub, text, args, msg=MSG, **conf):
    h = hub("starttls")
    path = aliases(ssmtp, text)
    ssmtp.conf(h, Aliases=str(path), **conf)
    r = ssmtp.run(args, msg)
    return h, r


def test_local_name_mapped_headers_untouched(ssmtp, hub):
    h, r = send(ssmtp, hub, "# comment\nroot: admin@example.net\n", ["-t"])
    assert r.rc == 0, r
    m = h.messages[0]
    assert m["rcpt_tos"] == ["admin@example.net"]
    assert b"To: root\r\n" in m["content"]


@pytest.mark.parametrize("rcpt", ["root", "root@localhost", "root@client.test",
                                  "ROOT@LOCALHOST"])
def test_local_forms(ssmtp, hub, rcpt):
    h, r = send(ssmtp, hub, "root: admin@example.net\n", [rcpt])
    assert r.rc == 0, r
    assert h.messages[0]["rcpt_tos"] == ["admin@example.net"]


def test_remote_address_not_mapped(ssmtp, hub):
    h, r = send(ssmtp, hub, "root: admin@example.net\ndefault: catch@example.net\n",
                ["root@example.org"])
    assert r.rc == 0, r
    assert h.messages[0]["rcpt_tos"] == ["root@example.org"]


def test_chain_list_and_continuation(ssmtp, hub):
    text = ("ops: alice@example.net,\n   bob@example.net, oncall\n"
            "oncall: carol@example.net\nroot: ops\n")
    h, r = send(ssmtp, hub, text, ["root"])
    assert r.rc == 0, r
    assert h.messages[0]["rcpt_tos"] == ["alice@example.net", "bob@example.net",
                                         "carol@example.net"]


def test_default_catches_other_local_names(ssmtp, hub):
    h, r = send(ssmtp, hub, "root: admin@example.net\ndefault: catch@example.net\n",
                ["www-data", "cron@localhost", "root"])
    assert r.rc == 0, r
    assert h.messages[0]["rcpt_tos"] == ["catch@example.net", "admin@example.net"]


def test_root_key_after_aliases(ssmtp, hub):
    # An alias first; Root= then for unaliased system accounts.
    h, r = send(ssmtp, hub, "daemon: d@example.net\n", ["daemon", "bin"],
                Root="postmaster@example.net")
    assert r.rc == 0, r
    assert h.messages[0]["rcpt_tos"] == ["d@example.net", "postmaster@example.net"]


def test_backslash_name_is_taken_as_is(ssmtp, hub):
    h, r = send(ssmtp, hub, "root: \\root, admin@example.net\n", ["root"],
                RewriteDomain="example.com")
    assert r.rc == 0, r
    assert h.messages[0]["rcpt_tos"] == ["root@example.com", "admin@example.net"]


@pytest.mark.parametrize("text", ["root: root\n", "a: b\nb: a\nroot: a\n",
                                  "".join("a%d: a%d\n" % (i, i + 1) for i in range(12))
                                  + "root: a0\n"])
def test_loops_and_deep_chains_are_78(ssmtp, hub, text):
    h, r = send(ssmtp, hub, text, ["root"])
    assert r.rc == 78, r
    assert "aliases:" in r.err
    assert h.messages == []
    assert MSG in r.dead_letter


@pytest.mark.parametrize("entry", ["|/bin/touch MARK", "/tmp/aliasfile",
                                   ":include:/etc/other", '"|/bin/touch MARK"'])
def test_programs_files_includes_refused(ssmtp, hub, tmp_path, entry):
    mark = tmp_path / "ran"
    text = "postmaster: root\nroot: admin@example.net, %s\n" % entry.replace(
        "MARK", str(mark))
    h, r = send(ssmtp, hub, text, ["root"])
    assert r.rc == 78, r
    assert "aliases:2:" in r.err and "not supported" in r.err
    assert not mark.exists()
    assert h.messages == []


@pytest.mark.parametrize("text,where", [("root admin@example.net\n", ":1:"),
                                        ("root:\n", ":1:"),
                                        ("ok: a@example.net\nbad@x: y\n", ":2:"),
                                        ("a: x@example.net\na: y@example.net\n", ":2:"),
                                        ("a: <bad address>@x\n", ":1:")])
def test_malformed_aliases_are_78_with_file_line(ssmtp, hub, text, where):
    h, r = send(ssmtp, hub, text, ["root"])
    assert r.rc == 78, r
    assert "aliases" + where in r.err, r.err


def test_newaliases_checks_the_file(ssmtp, tmp_path):
    path = aliases(ssmtp, "root: admin@example.net\nops: root\n")
    ssmtp.conf(Mailhub="127.0.0.1:1", Aliases=str(path))
    r = ssmtp.run(["-bi"])
    assert r.rc == 0, r
    assert "2 aliases" in r.out
    link = tmp_path / "newaliases"
    os.symlink(ssmtp.binary, link)
    ssmtp.binary = link
    r = ssmtp.run([])
    assert r.rc == 0 and "2 aliases" in r.out, r
    path.write_text("root: |/bin/true\n")
    r = ssmtp.run([])
    assert r.rc == 78 and "aliases:1:" in r.err, r


def test_newaliases_without_an_aliases_file(ssmtp):
    ssmtp.conf(Mailhub="127.0.0.1:1")
    r = ssmtp.run(["-bi"])
    assert r.rc == 0 and "no Aliases file" in r.out, r


def test_aliases_file_must_be_a_file(ssmtp, tmp_path):
    fifo = tmp_path / "aliases.fifo"
    os.mkfifo(fifo)
    ssmtp.conf(Mailhub="127.0.0.1:1", Aliases=str(fifo))
    r = ssmtp.run(["root"], MSG, timeout=20)
    assert r.rc == 78 and "not a regular file" in r.err, r


def test_aliases_naming_each_other_many_times_stay_cheap(ssmtp, hub):
    # 6 levels of 20 names, each naming all 20 of the next: 20^6 paths,
    # but each alias is expanded once per message.
    lines = []
    for lv in range(5):
        nxt = ", ".join("l%d_%d" % (lv + 1, j) for j in range(20))
        lines += ["l%d_%d: %s" % (lv, j, nxt) for j in range(20)]
    lines += ["l5_%d: u%d@example.net" % (j, j) for j in range(20)]
    lines.append("root: l0_0")
    h, r = send(ssmtp, hub, "\n".join(lines) + "\n", ["root"])
    assert r.rc == 0, r
    assert h.messages[0]["rcpt_tos"] == ["u%d@example.net" % j for j in range(20)]
