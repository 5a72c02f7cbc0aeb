"""SMTP on standard input (-bs): the server side ssmtp speaks to a local
caller (Symfony Mailer, Laravel, Nextcloud), every reply it gives, and
the hub session it keeps for the whole -bs session."""
import os
import pathlib
import re
import subprocess
import time

import pytest

TOP = pathlib.Path(__file__).resolve().parent.parent


def dialogue(*lines):
    return b"".join(l.encode() + b"\r\n" for l in lines)


def replies(out):
    return [l for l in out.split("\r\n") if l]


def codes(out):
    """The code of each reply (the last line of a multiline one)."""
    return [l[:3] for l in replies(out) if len(l) < 4 or l[3] == " "]


def hub_taking(n, got, caps=("PIPELINING",), connections=1, refuse=None):
    """A scripted hub taking messages (pipelined) until QUIT."""
    def session(c):
        c.reply("220 hub.test ESMTP")
        c.expect("EHLO")
        c.reply(*(["250-hub.test"] + ["250-" + x for x in caps[:-1]] + ["250 " + caps[-1]]))
        while True:
            line = c.line()
            if line.startswith(b"QUIT"):
                c.reply("221 bye")
                return
            assert line.startswith(b"MAIL FROM:"), line
            env = [line]
            while True:
                line = c.line()
                env.append(line)
                if line == b"DATA":
                    break
            rc = ["250 ok"] * (len(env) - 1)
            if refuse is not None and refuse(env):
                rc[1] = "550 5.1.1 no such user"
                c.reply(*(rc + ["554 5.5.1 no valid recipients"]))
                c.expect("RSET")
                c.reply("250 ok")
                continue
            c.reply(*(rc + ["354 go"]))
            got.append((env, c.data()))
            c.reply("250 2.0.0 queued as Q%d" % len(got))
    return session


def message(i, to="a@example.org"):
    return ("MAIL FROM:<app@example.com>", "RCPT TO:<%s>" % to, "DATA",
            "Subject: m%d" % i, "", "body %d" % i, "..dotted", ".")


def test_three_messages_one_hub_connection(ssmtp, scripted):
    got = []
    s = scripted(hub_taking(3, got))
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port)
    data = dialogue("EHLO app.local", *(message(0) + message(1) + message(2)), "QUIT")
    r = ssmtp.run(["-bs"], data)
    assert r.rc == 0, r
    assert not s.errors
    assert len(s.conns) == 1 and len(got) == 3
    c = codes(r.out)
    assert c == ["220", "250"] + ["250", "250", "354", "250"] * 3 + ["221"], r.out
    assert "Q3" in r.out
    for i, (env, body) in enumerate(got):
        assert env[0] == b"MAIL FROM:<app@example.com>"
        assert body.endswith(b"\r\nbody %d\r\n..dotted\r\n" % i)   # unstuffed, restuffed
        assert b"Message-ID:" in body and b"Date:" in body


def test_no_message_no_connection(ssmtp, closed_port):
    ssmtp.conf(Mailhub="127.0.0.1:%d" % closed_port)
    r = ssmtp.run(["-bs"], dialogue("EHLO x", "NOOP", "RSET", "QUIT"))
    assert r.rc == 0, r
    assert codes(r.out) == ["220", "250", "250", "250", "221"]


def test_ehlo_advertises_what_ssmtp_honours(ssmtp, closed_port):
    ssmtp.conf(Mailhub="127.0.0.1:%d" % closed_port)
    r = ssmtp.run(["-bs"], dialogue("EHLO x", "QUIT"))
    lines = replies(r.out)
    kws = [l[4:] for l in lines[1:-1]]
    assert {"PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"} <= set(kws)
    assert "STARTTLS" not in kws and not any(k.startswith("AUTH") for k in kws)


@pytest.mark.parametrize("lines,want", [
    (["FROB"], "500 5.5.2"),
    (["RCPT TO:<a@example.org>"], "503 5.5.1"),
    (["MAIL FROM:<a@example.org>", "DATA"], "503 5.5.1"),
    (["DATA"], "503 5.5.1"),
    (["MAIL FROM:<a b@example.org>"], "501 5.1.7"),
    (["MAIL FROM:a@example.org>"], "501 5.1.7"),
    (["MAIL FROM:<a@example.org>", "RCPT TO:<>"], "501 5.1.3"),
    (["MAIL FROM:<a@example.org>", "MAIL FROM:<b@example.org>"], "503 5.5.1"),
    (["MAIL FROM:<a@example.org> FROB=1"], "555 5.5.4"),
    (["MAIL FROM:<a@example.org> BODY=9BIT"], "555 5.5.4"),
    (["MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org> NOTIFY=NEVER,SUCCESS"],
     "555 5.5.4"),
    (["STARTTLS"], "502 5.5.1"),
    (["AUTH PLAIN AGEAYg=="], "502 5.5.1"),
    (["VRFY root"], "252 2.5.2"),
    (["HELP"], "214 2.0.0"),
    (["EHLO"], "501 5.5.4"),
    (["X" * 2000], "500 5.5.2"),
])
def test_caller_mistakes_get_their_reply(ssmtp, closed_port, lines, want):
    ssmtp.conf(Mailhub="127.0.0.1:%d" % closed_port)
    r = ssmtp.run(["-bs"], dialogue("EHLO x", *lines, "QUIT"))
    assert r.rc == 0, r
    last = replies(r.out)[-2]
    assert last.startswith(want), r.out


def test_cr_inside_a_command_is_501(ssmtp, closed_port):
    ssmtp.conf(Mailhub="127.0.0.1:%d" % closed_port)
    r = ssmtp.run(["-bs"], b"EHLO x\r\nMAIL FROM:<a@exa\rmple.org>\r\nQUIT\r\n")
    assert replies(r.out)[-2].startswith("501 "), r.out


def test_too_many_recipients_is_452(ssmtp, closed_port):
    ssmtp.conf(Mailhub="127.0.0.1:%d" % closed_port)
    rcpts = ["RCPT TO:<u%d@example.org>" % i for i in range(1001)]
    r = ssmtp.run(["-bs"], dialogue("EHLO x", "MAIL FROM:<a@example.org>", *rcpts, "QUIT"))
    c = codes(r.out)
    assert c[-2] == "452" and c.count("250") == 1 + 1 + 1000, c[-3:]


def test_pipelined_input_answered_in_order(ssmtp, scripted):
    got = []
    s = scripted(hub_taking(2, got))
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port)
    # Everything in one write, with LF line ends, as some callers send.
    data = b"".join(l.encode() + b"\n" for l in
                    ["EHLO x"] + list(message(0)) + ["RSET", "NOOP"] + list(message(1)) + ["QUIT"])
    r = ssmtp.run(["-bs"], data)
    assert r.rc == 0, r
    assert codes(r.out) == ["220", "250", "250", "250", "354", "250", "250", "250",
                            "250", "250", "354", "250", "221"]
    assert len(got) == 2 and len(s.conns) == 1


def test_refused_message_then_the_next_goes(ssmtp, scripted):
    got = []
    s = scripted(hub_taking(2, got, refuse=lambda env: b"bad@" in env[1]))
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port)
    data = dialogue("EHLO x", *(message(0, "bad@example.org") + message(1)), "QUIT")
    r = ssmtp.run(["-bs"], data)
    assert r.rc == 0, r
    lines = replies(r.out)
    finals = [l for l in lines if l[:3] in ("250", "550") and ("relayed" in l or l.startswith("550"))]
    assert finals[0].startswith("550 5.1.1 ") and "bad@example.org" in finals[0], r.out
    assert finals[1].startswith("250 2.0.0 "), r.out
    assert len(got) == 1 and len(s.conns) == 1
    assert b"Subject: m0" in r.dead_letter       # the refused one is kept


def test_hub_drops_between_messages(ssmtp, scripted):
    got = []

    def session(c):
        c.reply("220 hub.test ESMTP")
        c.expect("EHLO")
        c.reply("250-hub.test", "250 PIPELINING")
        env = [c.line() for _ in range(3)]
        c.reply("250 ok", "250 ok", "354 go")
        got.append(c.data())
        c.reply("250 2.0.0 queued")
        if len(s.conns) == 1:
            return                      # hang up: the next one reconnects
        c.expect("QUIT")
        c.reply("221 bye")

    s = scripted(session, connections=2)
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port)
    data = dialogue("EHLO x", *(message(0) + message(1)), "QUIT")
    r = ssmtp.run(["-bs"], data)
    assert r.rc == 0, r
    assert codes(r.out).count("250") == 1 + 2 * 3
    assert len(got) == 2 and len(s.conns) == 2


def test_hub_down_is_451_and_kept(ssmtp, closed_port):
    ssmtp.conf(Mailhub="127.0.0.1:%d" % closed_port)
    r = ssmtp.run(["-bs"], dialogue("EHLO x", *message(0), "QUIT"))
    assert r.rc == 0, r
    final = [l for l in replies(r.out) if l.startswith("451 ")]
    assert final and final[0].startswith("451 4.4.0 "), r.out
    assert b"Subject: m0" in r.dead_letter


def test_size_over_the_hubs_limit_is_552(ssmtp, scripted):
    got = []
    s = scripted(hub_taking(1, got, caps=("PIPELINING", "SIZE 200")))
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port)
    big = ("MAIL FROM:<a@example.com>", "RCPT TO:<a@example.org>", "DATA",
           "Subject: big", "", "x" * 500, ".")
    r = ssmtp.run(["-bs"], dialogue("EHLO x", *big, "QUIT"))
    assert r.rc == 0, r
    assert any(l.startswith("552 5.3.4 ") for l in replies(r.out)), r.out


def test_input_ending_in_data_is_65_and_kept(ssmtp, closed_port):
    ssmtp.conf(Mailhub="127.0.0.1:%d" % closed_port)
    r = ssmtp.run(["-bs"], dialogue("EHLO x", "MAIL FROM:<a@example.com>",
                                    "RCPT TO:<a@example.org>", "DATA",
                                    "Subject: cut", "", "half a messa"))
    assert r.rc == 65, r
    assert b"half a messa" in r.dead_letter


def test_idle_caller_gets_421_and_75(ssmtp, closed_port, tmp_path):
    ssmtp.conf(Mailhub="127.0.0.1:%d" % closed_port, IdleTimeout="1", Timeout="60")
    cmd = [str(ssmtp.binary), "-C", str(ssmtp.conf_path), "-bs"]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env={"HOME": str(ssmtp.home),
                                                      "TMPDIR": str(tmp_path)})
    try:
        p.stdin.write(b"EHLO x\r\n")
        p.stdin.flush()
        p.wait(timeout=20)              # stdin stays open: silence
        out, err = p.stdout.read(), p.stderr.read()
    finally:
        p.kill()
        p.stdin.close()
    assert p.returncode == 75, err
    assert replies(out.decode())[-1].startswith("421 4.4.2 "), out


def test_eof_between_transactions_is_0(ssmtp, closed_port):
    ssmtp.conf(Mailhub="127.0.0.1:%d" % closed_port)
    r = ssmtp.run(["-bs"], dialogue("EHLO x", "MAIL FROM:<a@example.com>"))
    assert r.rc == 0, r


def test_laravel_command_line(ssmtp, hub):
    # Laravel's sendmail mailer: "/usr/sbin/sendmail -bs -i".
    h = hub("starttls")
    ssmtp.conf(h)
    r = ssmtp.run(["-bs", "-i"], dialogue("EHLO laravel", *message(0), "QUIT"))
    assert r.rc == 0, r
    assert len(h.messages) == 1 and h.messages[0]["rcpt_tos"] == ["a@example.org"]


def test_bcc_removed_null_sender_allowed(ssmtp, hub):
    h = hub("starttls")
    ssmtp.conf(h)
    data = dialogue("EHLO x", "MAIL FROM:<>", "RCPT TO:<a@example.org>",
                    "RCPT TO:<hidden@example.org>", "DATA", "To: a@example.org",
                    "Bcc: hidden@example.org", "Subject: bounce", "", "x", ".", "QUIT")
    r = ssmtp.run(["-bs"], data)
    assert r.rc == 0, r
    m = h.messages[0]
    assert sorted(m["rcpt_tos"]) == ["a@example.org", "hidden@example.org"]
    assert b"Bcc" not in m["content"]


def php(script_text, tmp_path, cmd, ssmtp):
    """Run a PHP script with the sendmail command as its argument."""
    if not pathlib.Path("/usr/share/php/Symfony/Component/Mailer/autoload.php").exists():
        pytest.fail("php-symfony-mailer is not installed: run `make check` as root")
    script = tmp_path / "send.php"
    script.write_text(script_text)
    return subprocess.run(["php", str(script), cmd], capture_output=True, timeout=60,
                          env={"HOME": str(ssmtp.home), "TMPDIR": str(ssmtp.tmp),
                               "PATH": os.environ["PATH"],
                               "ASAN_OPTIONS": "detect_leaks=1"})


SYMFONY = r"""<?php
require '/usr/share/php/Symfony/Component/Mailer/autoload.php';
use Symfony\Component\Mailer\Mailer;
use Symfony\Component\Mailer\Transport\SendmailTransport;
use Symfony\Component\Mime\Email;
$t = new SendmailTransport($argv[1]);   // the command, with " -bs"
$m = new Mailer($t);
foreach (['a@example.org', 'refuse@example.org', 'b@example.org'] as $i => $to) {
    $e = (new Email())->from('App <app@example.com>')->to($to)
        ->bcc('hidden@example.org')->subject("symfony $i")->text("body $i")
        ->attach("attached $i", "note.txt", "text/plain");
    try {
        $m->send($e);
        echo "sent $i\n";
    } catch (\Exception $x) {
        echo "failed $i\n";
    }
}
"""


def test_symfony_mailer_default_transport(ssmtp, hub, tmp_path):
    """Symfony Mailer's SendmailTransport in its default -bs mode: one
    process for all three messages, a refused one raises, the next goes."""
    h = hub("starttls")
    h.handler.refuse["refuse@example.org"] = "550 5.1.1 no such user"
    ssmtp.conf(h)
    p = php(SYMFONY, tmp_path, "%s -C %s -bs" % (ssmtp.binary, ssmtp.conf_path), ssmtp)
    out = p.stdout.decode()
    assert out.split() == ["sent", "0", "failed", "1", "sent", "2"], (out, p.stderr)
    assert [sorted(m["rcpt_tos"]) for m in h.messages] == [
        ["a@example.org", "hidden@example.org"], ["b@example.org", "hidden@example.org"]]
    for m in h.messages:
        assert b"Bcc:" not in m["content"] and b"note.txt" in m["content"]


def test_postfix_n_messages_one_connection(ssmtp, postfix):
    """Postfix logs each connection's commands when it ends: all four
    messages must be in one of them."""
    from test_postfix import conf, rcpt
    conf(ssmtp, postfix)
    pat = re.compile(r"disconnect from .* mail=4 rcpt=4 (?:data|bdat)=4 quit=1")
    before = len(pat.findall(postfix.log()))
    tos = [rcpt("bs") for _ in range(4)]
    lines = ["EHLO x"]
    for i, to in enumerate(tos):
        lines += ["MAIL FROM:<app@example.com>", "RCPT TO:<%s>" % to, "DATA",
                  "Subject: bs %d" % i, "", "x", "."]
    r = ssmtp.run(["-bs"], dialogue(*lines, "QUIT"))
    assert r.rc == 0, r
    for to in tos:
        assert len(postfix.delivered(to)) == 1
    deadline = time.monotonic() + 10
    while len(pat.findall(postfix.log())) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(pat.findall(postfix.log())) == before + 1, postfix.log()[-2000:]


def test_needs_an_extension_the_hub_lacks_is_554_567(ssmtp, scripted):
    got = []
    s = scripted(hub_taking(2, got, caps=("PIPELINING", "SIZE 100000")))
    ssmtp.conf(Mailhub="127.0.0.1:%d" % s.port)
    data = dialogue("EHLO x", "MAIL FROM:<a@example.com> BODY=8BITMIME",
                    "RCPT TO:<a@example.org>", "DATA", "Subject: 8bit", "",
                    "r\u00e9sum\u00e9", ".",
                    "MAIL FROM:<a@example.com> SMTPUTF8",
                    "RCPT TO:<j\u00f6rg@example.org>", "DATA", "Subject: utf8", "",
                    "x", ".", "QUIT")
    r = ssmtp.run(["-bs"], data)
    assert r.rc == 0, r
    finals = [l for l in replies(r.out) if l.startswith("554 ")]
    assert len(finals) == 2 and all(l.startswith("554 5.6.7 ") for l in finals), r.out
    assert got == []


SYMFONY_T = r"""<?php
require '/usr/share/php/Symfony/Component/Mailer/autoload.php';
use Symfony\Component\Mailer\Mailer;
use Symfony\Component\Mailer\Transport\SendmailTransport;
use Symfony\Component\Mime\Email;
$m = new Mailer(new SendmailTransport($argv[1]));   // " -t": the pipe mode
$m->send((new Email())->from('app@example.com')->to('a@example.org')
    ->bcc('hidden@example.org')->subject('symfony -t')->text('body'));
echo "sent\n";
"""


def test_symfony_mailer_t_mode(ssmtp, hub, tmp_path):
    h = hub("starttls")
    ssmtp.conf(h)
    p = php(SYMFONY_T, tmp_path, "%s -C %s -t" % (ssmtp.binary, ssmtp.conf_path), ssmtp)
    assert p.stdout.decode().split() == ["sent"], p.stderr
    m = h.messages[0]
    assert sorted(m["rcpt_tos"]) == ["a@example.org", "hidden@example.org"]
    assert b"Bcc:" not in m["content"]
