"""`make install` and `make uninstall` into a DESTDIR: the layout, the
queue's runners (systemd units, network hooks, cron), and nothing left
behind."""
import os
import shutil
import stat
import subprocess

import pytest

from conftest import TOP

QUEUE_FILES = {
    "usr/lib/systemd/system/ssmtp-queue.service": 0o644,
    "usr/lib/systemd/system/ssmtp-queue.timer": 0o644,
    "usr/lib/systemd/user/ssmtp-queue.service": 0o644,
    "usr/lib/systemd/user/ssmtp-queue.timer": 0o644,
    "etc/cron.d/ssmtp-queue": 0o644,
    "etc/networkd-dispatcher/routable.d/50-ssmtp-queue": 0o755,
    "etc/NetworkManager/dispatcher.d/50-ssmtp-queue": 0o755,
}


def make(*args):
    return subprocess.run(["make", "-s", "-C", str(TOP)] + list(args),
                          capture_output=True, timeout=300, text=True)


@pytest.fixture
def installed(tmp_path):
    dest = tmp_path / "root"
    r = make("install", "DESTDIR=%s" % dest, "PREFIX=/usr")
    assert r.returncode == 0, r.stderr
    return dest


def files_under(d):
    out = set()
    for root, dirs, files in os.walk(d):
        for f in files:
            out.add(os.path.relpath(os.path.join(root, f), d))
    return out


def test_install_layout_and_queue_runners(installed):
    d = installed
    assert os.access(d / "usr/sbin/ssmtp", os.X_OK)
    for link in ("sendmail", "mailq", "newaliases"):
        assert os.readlink(d / "usr/sbin" / link) == "ssmtp"
    assert os.readlink(d / "usr/lib/sendmail") == "../sbin/sendmail"
    for path, mode in QUEUE_FILES.items():
        st = os.stat(d / path)
        assert stat.S_IMODE(st.st_mode) == mode, path
        text = (d / path).read_text()
        assert "@SBINDIR@" not in text
        if not path.endswith(".timer"):
            assert "/usr/sbin/ssmtp" in text, path
    timer = (d / "usr/lib/systemd/system/ssmtp-queue.timer").read_text()
    assert "OnCalendar=*:0/5" in timer and "Persistent=true" in timer
    cron = (d / "etc/cron.d/ssmtp-queue").read_text()
    assert "/run/systemd/system" in cron     # only where systemd is not running


def test_units_are_valid_systemd_units(installed, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    units = tmp_path / "units"
    units.mkdir()
    for name in ("ssmtp-queue.service", "ssmtp-queue.timer"):
        text = (installed / "usr/lib/systemd/system" / name).read_text()
        # The installed path does not exist here: point it at the build.
        (units / name).write_text(text.replace("/usr/sbin/ssmtp",
                                               str(TOP / "ssmtp")))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                        str(units / "ssmtp-queue.service"),
                        str(units / "ssmtp-queue.timer")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_network_hook_only_acts_on_up(installed, tmp_path):
    hook = installed / "etc/NetworkManager/dispatcher.d/50-ssmtp-queue"
    log = tmp_path / "ran"
    fake = tmp_path / "bin"
    fake.mkdir()
    text = hook.read_text().replace("/usr/sbin/ssmtp", str(fake / "ssmtp"))
    (fake / "hook").write_text(text.replace("[ -d /run/systemd/system ]",
                                            "false"))
    (fake / "ssmtp").write_text("#!/bin/sh\necho \"$@\" >>%s\n" % log)
    os.chmod(fake / "ssmtp", 0o755)
    for action, runs in (("down", False), ("up", True)):
        r = subprocess.run(["sh", str(fake / "hook"), "eth0", action],
                           timeout=30)
        assert r.returncode == 0
        for _ in range(50):
            if log.exists() or not runs:
                break
            import time
            time.sleep(0.1)
        assert log.exists() == runs, action
    assert log.read_text() == "-q\n"


def test_uninstall_removes_what_install_put(installed):
    r = make("uninstall", "DESTDIR=%s" % installed, "PREFIX=/usr")
    assert r.returncode == 0, r.stderr
    assert files_under(installed) == set()


def test_q_on_a_machine_without_a_queue_is_quiet(ssmtp):
    # What the timer runs every 5 minutes on a machine with Queue=NO.
    ssmtp.conf(None, Mailhub="127.0.0.1:25", QueueDir=str(ssmtp.tmp / "none"))
    r = ssmtp.run(["-q"])
    assert (r.rc, r.out, r.err) == (0, "", "")
    assert not (ssmtp.tmp / "none").exists()


def test_root_install_modes_and_config_only_when_absent(tmp_path):
    dest = tmp_path / "root"
    conf = dest / "etc/ssmtp/ssmtp.conf"
    r = make("install", "DESTDIR=%s" % dest, "PREFIX=/usr",
             "INSTALL_PERMS=yes", "INSTALL_CONFIG=yes")
    assert r.returncode == 0, r.stderr
    import grp
    mail = grp.getgrnam("mail").gr_gid
    st = os.stat(dest / "usr/sbin/ssmtp")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o2755, 0, mail)
    st = os.stat(dest / "etc/ssmtp")
    assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o750, mail)
    st = os.stat(conf)
    assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o640, mail)
    text = conf.read_text()
    assert all(l == "" or l.startswith("#") for l in text.splitlines())
    assert text == (dest / "usr/share/ssmtp/ssmtp.conf").read_text()
    for l in ("sendmail", "mailq", "newaliases"):
        assert os.readlink(dest / "usr/share/man/man8" / (l + ".8")) == "ssmtp.8"
    # An admin's config is never changed, by install or uninstall.
    conf.write_text("Mailhub=mail.example.com\n")
    os.chmod(conf, 0o600)
    assert make("install", "DESTDIR=%s" % dest, "PREFIX=/usr",
                "INSTALL_PERMS=yes", "INSTALL_CONFIG=yes").returncode == 0
    assert conf.read_text() == "Mailhub=mail.example.com\n"
    assert stat.S_IMODE(os.stat(conf).st_mode) == 0o600
    assert make("uninstall", "DESTDIR=%s" % dest, "PREFIX=/usr").returncode == 0
    assert files_under(dest) == {"etc/ssmtp/ssmtp.conf"}


def test_packagers_install_sets_no_modes_and_writes_no_config(tmp_path):
    dest = tmp_path / "pkg"
    r = make("install", "DESTDIR=%s" % dest, "PREFIX=/usr")
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(dest / "usr/sbin/ssmtp").st_mode) == 0o755
    assert not (dest / "etc/ssmtp/ssmtp.conf").exists()


def test_plain_make_without_build_deps_names_them(tmp_path):
    # A copy of the tree on a "machine" whose pkg-config finds nothing.
    copy = tmp_path / "src"
    files = subprocess.run(["git", "-C", str(TOP), "ls-files", "-co",
                            "--exclude-standard"], capture_output=True,
                           text=True, check=True).stdout.split()
    for f in files:
        if (TOP / f).is_file():
            (copy / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(TOP / f, copy / f)
    r = subprocess.run(["make", "-C", str(copy), "PKG_CONFIG=false"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "apt-get install -y" in r.stderr and "libssl-dev" in r.stderr
    assert "libbsd-dev" in r.stderr
    assert "cannot find -l" not in r.stderr and "error:" not in r.stderr
    assert not (copy / "ssmtp").exists()
