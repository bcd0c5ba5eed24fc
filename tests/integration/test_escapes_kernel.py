"""Kernel interfaces the sandbox must close: mount and namespace creation,
io_uring, the x32 and int 0x80 entry points, TIOCSTI, ptrace, open_by_handle_at,
setuid binaries, keyrings. The C programs in csrc/ are compiled on the host
before the run; each verdict is a host-visible effect (a file that did or did
not land on the host, a host process still alive, bytes that did not reach
the host's terminal, a token that appears nowhere)."""

import ctypes
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import tty
from pathlib import Path

import pytest

from conftest import CLEAN_PATH, assert_no_token, git, proc_state, snapshot, tree

SIGSYS_STATUS = 128 + signal.SIGSYS  # 159

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def bare(prog, *args, cwd, **kw):
    """Runs a probe on the host WITHOUT harness: the control showing that the
    probe does what it claims on this kernel (only for harmless probes)."""
    return subprocess.run([str(prog), *map(str, args)], cwd=str(cwd), capture_output=True,
                          timeout=30, env={"PATH": CLEAN_PATH}, **kw)


def git_repo(project, tmp_path):
    git("init", "-q", cwd=project, home=tmp_path)
    git("commit", "-q", "--allow-empty", "-m", "init", cwd=project, home=tmp_path)


# ------------------------------------------------------------ mount & ns ---


def test_mount_cannot_unmask_protected_paths(harness, cc, project, tmp_path, token):
    git_repo(project, tmp_path)
    (project / ".env").write_text(f"API_TOKEN={token}\n")
    (project / "m").mkdir()
    cc("nsprobe")
    config = snapshot(project / ".git" / "config")
    hooks = tree(project / ".git" / "hooks")
    r = harness.sh("./nsprobe mount m; ./nsprobe unmask .git/hooks .git/config .env; "
                   "echo evil > .git/hooks/pre-commit; echo evil >> .git/config; cat .env; "
                   "umount -l .git/hooks; mount -o remount,rw .git/hooks; "
                   "echo evil > .git/hooks/post-commit; true")
    assert r.rc == 0, r
    assert (project / "m" / "flag").exists(), "a tmpfs mount took effect inside the sandbox"
    assert tree(project / ".git" / "hooks") == hooks, "a hook was written through an unmasked path"
    assert snapshot(project / ".git" / "config") == config
    assert_no_token(token, r, paths=[project], exclude=[project / ".env"])


@pytest.mark.parametrize("mode", ["unshare", "clone", "clone3"])
def test_new_user_and_mount_namespace_cannot_be_made(harness, cc, project, mode):
    """unshare/clone/clone3 with CLONE_NEWUSER|CLONE_NEWNS, then a tmpfs on m/:
    the flag written into m/ reaches the host only if no mount took."""
    (project / "m").mkdir()
    cc("nsprobe")
    r = harness.run(["./nsprobe", mode, "m"])
    assert r.rc == 0, r
    assert (project / "m" / "flag").exists(), \
        f"{mode}(CLONE_NEWUSER|CLONE_NEWNS) + mount worked inside the sandbox\n{r!r}"


def test_setns_into_host_namespaces_via_inherited_fds(harness, cc, project, home, token):
    cc("nsprobe")
    fds = [os.open(f"/proc/self/ns/{n}", os.O_RDONLY) for n in ("user", "mnt", "pid", "net")]
    for fd in fds:
        os.set_inheritable(fd, True)
    try:
        r = harness.run(["./nsprobe", "setns", str(home / ".ssh" / "id_rsa")], pass_fds=tuple(fds))
    finally:
        for fd in fds:
            os.close(fd)
    assert_no_token(token, r, paths=[project])


# ---------------------------------------------------------------- io_uring --


def test_io_uring_is_blocked(harness, cc, project, tmp_path):
    prog = cc("uring")
    ctl = tmp_path / "control"
    ctl.mkdir()
    bare(prog, "flag", cwd=ctl)
    if not (ctl / "flag").exists():
        pytest.skip("io_uring does not work on this host even without harness (disabled?)")
    r = harness.run(["./uring", "uring_flag"])
    assert not (project / "uring_flag").exists(), f"io_uring created a file from inside the sandbox\n{r!r}"


# -------------------------------------------------------- foreign syscall ABIs


def test_x32_syscall_kills_the_process(harness, cc, project):
    cc("x32")
    r = harness.run(["./x32", "x32dir"])
    assert r.rc == SIGSYS_STATUS, r
    assert not (project / "x32dir").exists()


def test_int80_syscall_kills_the_process(harness, cc, project, tmp_path):
    prog = cc("int80", "-no-pie")
    ctl = tmp_path / "control"
    ctl.mkdir()
    bare(prog, cwd=ctl)
    if not (ctl / "int80dir").exists():
        pytest.skip("int 0x80 does not work on this host (no IA32 emulation)")
    r = harness.run(["./int80"])
    assert r.rc == SIGSYS_STATUS, r
    assert not (project / "int80dir").exists(), "an i386 syscall ran inside the sandbox"


# ----------------------------------------------------------------- TIOCSTI --


def _pty_pair():
    master, slave = os.openpty()
    tty.setraw(slave)  # no echo, no line buffering: injected bytes are readable at once
    os.set_blocking(master, False)
    return master, slave


def _drain(*fds):
    got = b""
    for fd in fds:
        os.set_blocking(fd, False)
        while True:
            try:
                chunk = os.read(fd, 4096)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            got += chunk
    return got


@pytest.mark.parametrize("mode", ["plain", "high"])
def test_tiocsti_cannot_inject_into_the_callers_terminal(harness, cc, tmp_path, token, mode):
    prog = cc("tiocsti")
    payload = f"echo {token}\n"
    # Control: the same program, run bare on the same kind of pty, injects.
    master, slave = _pty_pair()
    try:
        bare(prog, mode, payload, cwd=tmp_path, stdin=slave)
        injected = _drain(slave, master)
    finally:
        os.close(master)
        os.close(slave)
    if token.encode() not in injected:
        pytest.skip("TIOCSTI does not inject on this host even without harness "
                    "(dev.tty.legacy_tiocsti=0?)")
    master, slave = _pty_pair()
    try:
        r = harness.run(["./tiocsti", mode, payload], stdin=slave)
        injected = _drain(slave, master)
    finally:
        os.close(master)
        os.close(slave)
    assert token.encode() not in injected, f"TIOCSTI ({mode}) injected input into the host's tty\n{r!r}"


# ------------------------------------------------------------------ ptrace --


def test_ptrace_cannot_reach_a_host_process(harness, cc, host_sleep):
    cc("ptrace")
    p = host_sleep()
    r = harness.run(["./ptrace", "kill", str(p.pid)])
    assert r.rc == 0, r
    assert p.poll() is None, "the host process was killed through ptrace"
    st = proc_state(p.pid)
    assert st is not None and st[0] in "SR" and st[1] == 0, f"host process state {st}"


def test_ptrace_of_the_sandbox_init(harness, cc, project):
    """pid 1 (harness's init) must not be attachable: the command could
    otherwise take over a less fenced process, or kill the sandbox's init."""
    cc("ptrace")
    ino = os.stat("/proc/self/ns/pid").st_ino
    r = harness.run(["./ptrace", "pid1", str(ino)])
    assert r.rc == 0, r
    assert (project / "survived").exists(), "pid 1 was attached and killed through ptrace"


MEMDUMP = r"""
import os, re
out = open("mem.bin", "wb")
for pid in sorted(os.listdir("/proc")):
    if not pid.isdigit() or int(pid) == os.getpid():
        continue
    for f in ("environ", "cmdline"):
        try:
            out.write(open(f"/proc/{pid}/{f}", "rb").read())
        except OSError:
            pass
    try:
        maps = open(f"/proc/{pid}/maps").read().splitlines()
        mem = open(f"/proc/{pid}/mem", "rb", 0)
    except OSError:
        continue
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) r", line)
        if not m or int(m[2], 16) - int(m[1], 16) > 64 << 20:
            continue
        try:
            mem.seek(int(m[1], 16))
            out.write(mem.read(int(m[2], 16) - int(m[1], 16)))
        except (OSError, ValueError, OverflowError):
            pass
"""


def test_memory_of_other_sandbox_processes_holds_no_host_secret(harness, project, token):
    """harness's environment (with secrets it does not pass) must not be
    readable from any process in the sandbox: not pid 1's environ, cmdline or
    memory (pid 1 is a fork of harness: non-dumpable, its copies wiped)."""
    r = harness.run(["python3", "-c", MEMDUMP], extra_env={"MY_SECRET": token}, timeout=60)
    assert r.rc == 0, r
    assert (project / "mem.bin").exists()
    assert_no_token(token, r, paths=[project])


# --------------------------------------------------------- file handles ----


class FileHandle(ctypes.Structure):
    _fields_ = [("handle_bytes", ctypes.c_uint), ("handle_type", ctypes.c_int),
                ("f_handle", ctypes.c_ubyte * 128)]


def test_open_by_handle_at_cannot_open_host_files(harness, cc, project, home, token):
    """The "shocker" escape: a file handle for the host canary, opened through
    the project's mount, bypasses the mount view."""
    cc("openhandle")
    fh = FileHandle()
    fh.handle_bytes = 128
    mount_id = ctypes.c_int()
    if libc.name_to_handle_at(-100, str(home / ".ssh" / "id_rsa").encode(), ctypes.byref(fh),
                              ctypes.byref(mount_id), 0) != 0:
        pytest.skip(f"name_to_handle_at: {os.strerror(ctypes.get_errno())}")
    hexhandle = bytes(fh.f_handle[:fh.handle_bytes]).hex()
    r = harness.run(["./openhandle", str(project), str(fh.handle_type), hexhandle])
    assert_no_token(token, r, paths=[project])


# ---------------------------------------------------------------- setuid ----


def test_setuid_root_binary_gains_nothing(harness, cc, project):
    passwd = "/usr/bin/passwd"
    try:
        st = os.stat(passwd)
    except FileNotFoundError:
        pytest.skip("no /usr/bin/passwd")
    if not (st.st_mode & stat.S_ISUID and st.st_uid == 0):
        pytest.skip("/usr/bin/passwd is not setuid root here")
    cc("execstatus")
    r = harness.run(["./execstatus", "status.txt", passwd])
    assert r.rc == 0, r
    out = project / "status.txt"
    assert out.exists(), r
    assert out.stat().st_uid == os.getuid()
    fields = dict(ln.split(":\t", 1) for ln in out.read_text().splitlines() if ":\t" in ln)
    assert "passwd" in fields["Name"], fields
    ruid, euid, suid, fsuid = map(int, fields["Uid"].split())
    assert euid == os.getuid() and suid == os.getuid(), f"setuid took effect: Uid {fields['Uid']}"
    for cap in ("CapPrm", "CapEff"):
        assert int(fields[cap], 16) == 0, f"{cap} = {fields[cap]}"


def test_setuid_root_binary_built_by_root_for_a_user(harness_bin, cc, tmp_path):
    """Root builds a setuid-root program; an unprivileged user runs it in the
    sandbox. The file it creates must belong to the user, not to root."""
    if os.getuid() != 0:
        pytest.skip("needs root to make a setuid-root binary (the unprivileged run "
                    "covers setuid through /usr/bin/passwd)")
    try:
        user = pwd.getpwnam("harness-test")
    except KeyError:
        pytest.skip("no user harness-test (tests/run-integration.sh creates it)")
    if not shutil.which("runuser"):
        pytest.skip("no runuser")
    # A directory only root and harness-test can reach: the setuid binary is
    # never exposed to other users.
    base = Path(tempfile.mkdtemp(prefix="harness-it-suid-", dir="/tmp"))
    try:
        os.chown(base, 0, user.pw_gid)
        base.chmod(0o750)
        project, home = base / "project", base / "home"
        for d in (project, home):
            d.mkdir()
            os.chown(d, user.pw_uid, user.pw_gid)
        prog = cc("suidprobe", dest=project)
        os.chown(prog, 0, 0)
        prog.chmod(0o4755)
        r = subprocess.run(["runuser", "-u", "harness-test", "--", "env", "-i", f"PATH={CLEAN_PATH}",
                            f"HOME={home}", "LANG=C.UTF-8", harness_bin, "run", "--", "./suidprobe"],
                           cwd=str(project), capture_output=True, text=True, timeout=60)
        if r.returncode == 126 and "Permission denied" in r.stderr and "harness" in r.stderr[:200]:
            pytest.skip(f"harness-test cannot run {harness_bin}")
        made = project / "made-by-suid"
        assert made.exists(), r
        assert made.stat().st_uid == user.pw_uid, \
            f"the file made by the setuid binary belongs to uid {made.stat().st_uid}"
        fields = dict(ln.split(":\t", 1) for ln in made.read_text().splitlines() if ":\t" in ln)
        assert fields["Uid"].split()[1] == str(user.pw_uid), f"euid inside: {fields['Uid']}"
        assert int(fields["CapEff"], 16) == 0 and int(fields["CapPrm"], 16) == 0, fields
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_root_in_the_sandbox_has_no_capabilities_after_exec(harness, project):
    # Whatever the caller (root included) runs, exec grants no capabilities.
    r = harness.sh("sh -c 'cat /proc/self/status' > status.txt")
    assert r.rc == 0, r
    fields = dict(ln.split(":\t", 1) for ln in (project / "status.txt").read_text().splitlines()
                  if ":\t" in ln)
    for cap in ("CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(fields[cap], 16) == 0, f"{cap} = {fields[cap]}"


# --------------------------------------------------------------- keyrings --


def _with_session_key(desc, payload):
    def pre():
        # KEYCTL_JOIN_SESSION_KEYRING: a fresh session keyring for this child.
        libc.syscall(ctypes.c_long(250), ctypes.c_long(1), ctypes.c_char_p(None))
        libc.syscall(ctypes.c_long(248), ctypes.c_char_p(b"user"), ctypes.c_char_p(desc.encode()),
                     ctypes.c_char_p(payload.encode()), ctypes.c_size_t(len(payload)),
                     ctypes.c_long(-3))  # KEY_SPEC_SESSION_KEYRING
    return pre


def test_session_keyring_secret_is_unreachable(harness, cc, tmp_path, project, token):
    prog = cc("keyring")
    desc = "harness-it-" + token[:12]
    ctl = bare(prog, desc, cwd=tmp_path, preexec_fn=_with_session_key(desc, token))
    if token.encode() not in ctl.stdout:
        pytest.skip(f"kernel keyrings unusable on this host: {ctl.stderr.decode()[:300]}")
    r = harness.run(["./keyring", desc], preexec_fn=_with_session_key(desc, token))
    assert_no_token(token, r, paths=[project])


# --------------------------------------------------------------- SysV IPC --

IPC_CREAT, IPC_RMID = 0o1000, 0


def test_sysv_ipc_of_the_host_is_unreachable(harness, cc, tmp_path, project, token):
    prog = cc("sysvipc")
    key = 0x4800_0000 | (int(token[-6:], 16) & 0xFFFFFF)
    libc.shmat.restype = ctypes.c_void_p
    shm = libc.shmget(key, 4096, IPC_CREAT | 0o600)
    q = libc.msgget(key, IPC_CREAT | 0o600)
    if shm < 0 or q < 0:
        pytest.skip("SysV IPC unavailable on this host")
    try:
        addr = libc.shmat(shm, None, 0)
        ctypes.memmove(addr, token.encode() + b"\0", len(token) + 1)
        libc.shmdt(ctypes.c_void_p(addr))

        class Msg(ctypes.Structure):
            _fields_ = [("mtype", ctypes.c_long), ("text", ctypes.c_char * 128)]
        m = Msg(1, token.encode())
        assert libc.msgsnd(q, ctypes.byref(m), len(token), 0) == 0
        ctl = bare(prog, hex(key), cwd=tmp_path)  # reads shm (and consumes the message)
        assert token.encode() in ctl.stdout, ctl
        assert libc.msgsnd(q, ctypes.byref(m), len(token), 0) == 0
        r = harness.run(["./sysvipc", hex(key)])
        assert_no_token(token, r, paths=[project])
    finally:
        libc.shmctl(shm, IPC_RMID, None)
        libc.msgctl(q, IPC_RMID, None)


def test_host_dev_shm_is_unreachable(harness, project, token):
    path = f"/dev/shm/harness-it-{token}"
    pwn = f"/dev/shm/harness-it-pwn-{os.getpid()}-{token[-8:][::-1]}"
    try:
        with open(path, "w") as f:
            f.write(token)
    except OSError:
        pytest.skip("no writable /dev/shm on the host")
    leaked = False
    try:
        r = harness.sh(f"ls -la /dev/shm; cat /dev/shm/* ; echo pwn > {pwn}; true")
        leaked = os.path.exists(pwn)
        assert_no_token(token, r, paths=[project])
    finally:
        os.unlink(path)
        if os.path.exists(pwn):  # a broken sandbox must not leave litter on the host
            os.unlink(pwn)
    assert not leaked, "the sandbox wrote into the host's /dev/shm"
