"""What a sandboxed command can and cannot do in the ordinary case: its own
project, its exit status, an empty HOME, a private /tmp, a fresh /proc, a
read-only system, no privileges."""

import fcntl
import os
import signal
import tempfile
import termios

import pytest

from conftest import (SCALE, assert_no_token, procs_with_argv, snapshot, unique_seconds,
                      wait_until)


def test_exit_status_is_the_commands(harness):
    assert harness.sh("exit 7").rc == 7
    assert harness.run(["true"]).rc == 0
    assert harness.run(["false"]).rc == 1


def test_killed_by_signal_is_128_plus_n(harness):
    r = harness.sh("kill -USR1 $$; sleep 5")
    assert r.rc == 128 + signal.SIGUSR1, r


def test_stdout_stderr_stdin_pass_through(harness):
    r = harness.run(["sh", "-c", "cat; echo to-err >&2"], input=b"from-stdin\n")
    assert r.rc == 0, r
    assert r.out == "from-stdin\n"
    assert "to-err" in r.err


def test_project_is_readable_and_writable(harness, project):
    r = harness.sh("cat README.md && echo new > created.txt && mkdir -p sub/dir && "
                   "echo deep > sub/dir/f && echo more >> README.md && rm -f gone.txt")
    assert r.rc == 0, r
    assert "hello from the project" in r.out
    assert (project / "created.txt").read_text() == "new\n"
    assert (project / "sub/dir/f").read_text() == "deep\n"
    assert (project / "README.md").read_text().endswith("more\n")


def test_created_files_belong_to_the_caller(harness, project):
    r = harness.sh("echo x > owned.txt && mkdir owned.d")
    assert r.rc == 0, r
    for name in ("owned.txt", "owned.d"):
        st = (project / name).stat()
        assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid()), name


def test_uid_inside_is_the_callers(harness, project):
    r = harness.sh("id -u > uid.txt; id -g > gid.txt")
    assert r.rc == 0, r
    assert (project / "uid.txt").read_text().strip() == str(os.getuid())
    assert (project / "gid.txt").read_text().strip() == str(os.getgid())


def test_cwd_and_home_are_the_callers_paths(harness, project, home):
    r = harness.sh('pwd > pwd.txt; printf %s "$HOME" > home.txt')
    assert r.rc == 0, r
    assert (project / "pwd.txt").read_text().strip() == str(project)
    assert (project / "home.txt").read_text() == str(home)


def test_home_is_empty_and_canaries_unreadable(harness, project, home, token):
    r = harness.sh('ls -A "$HOME" > home-list.txt; '
                   'cat "$HOME/.ssh/id_rsa" "$HOME/.aws/credentials" "$HOME/.bashrc" "$HOME/.gitconfig"; '
                   'cp -r "$HOME" copied-home; tar cf home.tar "$HOME"; true')
    assert (project / "home-list.txt").exists(), r
    assert (project / "home-list.txt").read_text() == "", "HOME is not empty inside the sandbox"
    assert_no_token(token, r, paths=[project])


def test_home_writes_stay_inside(harness, home):
    before = {p: snapshot(home / p) for p in (".bashrc", ".ssh/id_rsa", ".gitconfig")}
    r = harness.sh('echo evil >> "$HOME/.bashrc"; echo evil > "$HOME/.ssh/id_rsa"; '
                   'mkdir -p "$HOME/.config/autostart" && echo evil > "$HOME/.config/autostart/x.desktop"; '
                   'echo evil > "$HOME/.gitconfig"; echo evil > "$HOME/new-file"; true')
    assert r.rc == 0, r
    for p, snap in before.items():
        assert snapshot(home / p) == snap, f"host ~/{p} changed"
    assert not (home / "new-file").exists()
    assert not (home / ".config").exists()


def test_tmp_is_private(harness, token):
    names = [f"/tmp/harness-it-{token}", f"/var/tmp/harness-it-{token}"]
    try:
        r = harness.sh(f"echo x > {names[0]}; echo x > {names[1]}; cat {names[0]}")
        assert r.rc == 0, r
        for n in names:
            assert not os.path.exists(n), f"{n} appeared on the host"
    finally:
        for n in names:  # a broken sandbox must not leave litter on the host
            if os.path.exists(n):
                os.unlink(n)


def test_host_tmp_files_are_invisible(harness, tmp_path, token):
    # A file in the host's /tmp (not granted) must not be readable inside.
    fd, path = tempfile.mkstemp(prefix="harness-it-host-", dir="/tmp")
    try:
        os.write(fd, token.encode())
        os.close(fd)
        r = harness.sh(f"cat {path}; ls /tmp")
        assert_no_token(token, r)
        assert os.path.basename(path) not in r.out
    finally:
        os.unlink(path)


def test_proc_shows_only_the_sandbox(harness, host_sleep):
    p = host_sleep()
    arg = open(f"/proc/{p.pid}/cmdline").read().split("\0")[1]
    r = harness.sh(f"ls /proc; cat /proc/{p.pid}/cmdline; "
                   "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done")
    assert r.rc == 0, r
    assert arg not in r.out, f"host process {p.pid} (sleep {arg}) visible in the sandbox's /proc"
    assert str(p.pid) not in r.out.split()


def test_system_dirs_are_read_only(harness, token):
    targets = [f"/usr/harness-it-{token}", f"/etc/harness-it-{token}", f"/usr/bin/harness-it-{token}",
               f"/harness-it-{token}"]
    try:
        r = harness.sh("; ".join(f"touch {t}" for t in targets) + "; true")
        assert r.rc == 0, r
        for t in targets:
            assert not os.path.exists(t), f"{t} appeared on the host"
    finally:
        for t in targets:  # a broken sandbox must not leave litter on the host
            if os.path.exists(t):
                os.unlink(t)


def test_etc_shadow_is_hidden(harness):
    try:
        lines = [ln for ln in open("/etc/shadow").read().splitlines() if ln.strip()]
    except PermissionError:
        pytest.skip("/etc/shadow is unreadable to this user on the host already")
    r = harness.sh("cat /etc/shadow /etc/gshadow; true")
    for ln in lines:
        assert ln not in r.out, "host /etc/shadow content visible in the sandbox"


def test_dev_is_minimal(harness, project):
    r = harness.sh("ls -A /dev > dev.txt; test -c /dev/null && echo ok > /dev/null && "
                   "head -c 4 /dev/urandom | wc -c")
    assert r.rc == 0, r
    assert r.out.strip() == "4"
    inside = set((project / "dev.txt").read_text().split())
    allowed = {"null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm",
               "fd", "stdin", "stdout", "stderr", "core", "mqueue"}
    host = set(os.listdir("/dev"))
    extra = (inside & host) - allowed
    assert not extra, f"host devices visible in the sandbox: {sorted(extra)}"


def test_no_capabilities_no_new_privs_seccomp(harness, project):
    r = harness.sh("cat /proc/self/status > status.txt")
    assert r.rc == 0, r
    st = dict(ln.split(":\t", 1) for ln in (project / "status.txt").read_text().splitlines() if ":\t" in ln)
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(st[cap], 16) == 0, f"{cap} = {st[cap]}"
    assert st["NoNewPrivs"].strip() == "1"
    assert st["Seccomp"].strip() == "2"


def test_no_controlling_terminal(harness, project):
    """harness runs with a controlling tty; the command must not have one
    (setsid), or it could TIOCSTI/ioctl the caller's terminal."""
    master, slave = os.openpty()

    def make_ctty():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    try:
        r = harness.sh("cat /proc/self/stat > stat.txt; (exec 3</dev/tty) 2>/dev/null && "
                       "echo has-tty > tty.txt; true", stdin=slave, preexec_fn=make_ctty)
    finally:
        os.close(master)
        os.close(slave)
    assert r.rc == 0, r
    stat = (project / "stat.txt").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    assert fields[4] == "0", f"the command has a controlling tty (tty_nr {fields[4]})"
    assert not (project / "tty.txt").exists(), "/dev/tty opens inside the sandbox"


def test_daemon_left_behind_is_killed_when_the_command_exits(harness, reap_marked):
    """The command exits; a setsid'd child it leaves behind must neither keep
    harness waiting nor survive on the host."""
    secs = unique_seconds()
    reap_marked(f"sleep\0{secs}\0")
    r = harness.sh(f"setsid sleep {secs} >/dev/null 2>&1 < /dev/null & (sleep {secs} &); exit 3",
                   timeout=20)
    assert r.rc == 3, r
    assert r.elapsed < 10
    left = wait_until(lambda: not procs_with_argv(["sleep", secs]), 2 * SCALE)
    assert left, f"sleep {secs} still runs on the host: {procs_with_argv(['sleep', secs])}"


def test_sysctl_of_the_host_cannot_be_changed(harness):
    path = "/proc/sys/kernel/printk_ratelimit_burst"
    try:
        before = open(path).read()
    except OSError:
        pytest.skip(f"{path} unreadable")
    try:
        r = harness.sh(f"echo {int(before) + 1} > {path}; true")
        assert r.rc == 0, r
        after = open(path).read()
    finally:
        if open(path).read() != before and os.access(path, os.W_OK):
            open(path, "w").write(before)  # a broken sandbox must not leave the host changed
    assert after == before, f"host sysctl {path} changed from inside the sandbox"
