"""Fixtures for the harness integration tests.

Every escape test is decided from the HOST side: a canary's bytes and mtime,
a file that must (or must not) appear on the host, a host listener that
accepted nothing, a host process that is still alive, a token that appears
nowhere the sandbox could write. What the sandboxed program prints about
itself is never the verdict.

The binary comes from $HARNESS_BIN (tests/run-integration.sh sets it); the
tests run as root and again as an unprivileged user, so nothing here assumes
uid 0.
"""

import os
import pwd
import secrets
import select
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CSRC = HERE / "csrc"
SANITIZED = bool(os.environ.get("HARNESS_SANITIZED"))
# Sanitized builds start slower; scale every wait.
SCALE = 3 if SANITIZED else 1
CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin"
HOST_PY = "/usr/bin/python3"

# ---------------------------------------------------------------- binary ---


def _find_binary():
    b = os.environ.get("HARNESS_BIN")
    if b:
        return b
    for c in (HERE.parents[1] / "build" / "harness", Path("/tmp/stub/harness")):
        if c.exists():
            return str(c)
    return None


@pytest.fixture(scope="session")
def harness_bin():
    b = _find_binary()
    if not b or not os.access(b, os.X_OK):
        pytest.fail("no harness binary: set HARNESS_BIN (tests/run-integration.sh does)")
    return b


# ------------------------------------------------------------- directories --


@pytest.fixture
def token():
    """A unique secret for this test; it must never leave the host."""
    return "CANARY" + secrets.token_hex(16)


@pytest.fixture
def home(tmp_path, token):
    """The caller's HOME for the run, holding canaries the sandbox must not read."""
    h = tmp_path / "home"
    (h / ".ssh").mkdir(parents=True, mode=0o700)
    key = h / ".ssh" / "id_rsa"
    key.write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{token}\n-----END OPENSSH PRIVATE KEY-----\n")
    key.chmod(0o600)
    (h / ".aws").mkdir()
    (h / ".aws" / "credentials").write_text(
        f"[default]\naws_access_key_id = AKIA{token[:12]}\naws_secret_access_key = {token}\n")
    (h / ".bashrc").write_text(f"# host bashrc {token}\n")
    (h / ".gitconfig").write_text(f"[user]\n\tname = host-{token}\n")
    return h


@pytest.fixture
def project(tmp_path):
    """The directory harness runs in (granted read-write by the restrict preset)."""
    p = tmp_path / "project"
    p.mkdir()
    (p / "README.md").write_text("hello from the project\n")
    return p


@pytest.fixture
def sibling(tmp_path, token):
    """A directory next to the project that is not granted."""
    s = tmp_path / "sibling"
    s.mkdir()
    (s / "canary.txt").write_text(f"sibling {token}\n")
    return s


# ----------------------------------------------------------------- running --


class Result:
    def __init__(self, args, rc, out, err, elapsed, pid=None):
        self.args = args
        self.pid = pid
        self.returncode = self.rc = rc
        self.out_bytes, self.err_bytes = out, err
        self.stdout = self.out = out.decode(errors="replace")
        self.stderr = self.err = err.decode(errors="replace")
        self.elapsed = elapsed

    def __repr__(self):
        def cut(s):
            return s if len(s) < 1500 else s[:1500] + "...[cut]"
        return (f"<harness {' '.join(map(str, self.args))!r}: rc={self.rc} "
                f"elapsed={self.elapsed:.2f}s\n--stdout--\n{cut(self.out)}\n--stderr--\n{cut(self.err)}>")


class Harness:
    def __init__(self, binary, project, home, env):
        self.bin = binary
        self.project = project
        self.home = home
        self.env = env

    def call(self, args, cwd=None, env=None, extra_env=None, timeout=30, stdin=subprocess.DEVNULL,
             input=None, pass_fds=(), preexec_fn=None):
        """Runs `harness ARGS...`; a hang fails the test instead of blocking it."""
        e = dict(self.env if env is None else env)
        e.update(extra_env or {})
        argv = [self.bin, *map(str, args)]
        t0 = time.monotonic()
        p = subprocess.Popen(argv, cwd=str(cwd or self.project), env=e,
                             stdin=subprocess.PIPE if input is not None else stdin,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             pass_fds=pass_fds, preexec_fn=preexec_fn)
        try:
            out, err = p.communicate(input, timeout=timeout * SCALE)
        except subprocess.TimeoutExpired:
            p.kill()
            try:
                out, err = p.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                # Something outside harness's control still holds our pipes
                # (itself a bug: nothing should outlive the sandbox).
                out, err = b"", b""
                p.stdout.close()
                p.stderr.close()
                p.wait(timeout=5)
            pytest.fail(f"harness did not return within {timeout * SCALE}s: {argv}\n"
                        f"stdout: {out[-2000:]!r}\nstderr: {err[-2000:]!r}")
        return Result(args, p.returncode, out, err, time.monotonic() - t0, p.pid)

    def run(self, cmd, *opts, **kw):
        """`harness run OPTS -- CMD`; a string CMD runs under sh -c."""
        if isinstance(cmd, str):
            cmd = ["sh", "-c", cmd]
        return self.call(["run", *opts, "--", *cmd], **kw)

    def sh(self, script, *opts, **kw):
        return self.run(["sh", "-c", script], *opts, **kw)

    def py(self, code, *args, opts=(), **kw):
        """Runs a python3 program inside the sandbox."""
        return self.run(["python3", "-c", code, *map(str, args)], *opts, **kw)


@pytest.fixture
def state_dir(tmp_path):
    """XDG_STATE_HOME of the runs: the default audit store lives here, away
    from the HOME the tests inspect (test_audit.py covers the default)."""
    d = tmp_path / "state"
    d.mkdir()
    yield d
    # The snapshot store's parent is 0300 by design (no one lists it, the
    # owner included): the owner takes read back, or pytest cannot remove
    # the test's directory and leaves it in its tmp root for good.
    for root, dirs, _ in os.walk(d):
        for name in dirs:
            p = os.path.join(root, name)
            try:
                st = os.lstat(p)
                if stat.S_ISDIR(st.st_mode) and not st.st_mode & 0o400:
                    os.chmod(p, st.st_mode | 0o700)
            except OSError:
                pass


@pytest.fixture
def base_env(home, state_dir):
    user = pwd.getpwuid(os.getuid()).pw_name
    e = {"PATH": CLEAN_PATH, "HOME": str(home), "LANG": "C.UTF-8", "USER": user,
         "LOGNAME": user, "TERM": "dumb", "XDG_STATE_HOME": str(state_dir)}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            e[k] = os.environ[k]
    return e


@pytest.fixture
def harness(harness_bin, project, home, base_env):
    return Harness(harness_bin, project, home, base_env)


@pytest.fixture
def run(harness):
    """run(args, cwd=..., env=..., timeout=...) -> Result (args: harness argv without the binary)."""
    return harness.call


# ------------------------------------------------------------ C programs ---


@pytest.fixture
def cc(project):
    """Compiles tests/integration/csrc/NAME.c on the HOST into the project dir."""
    def build(name, *flags, dest=None):
        out = Path(dest or project) / name
        r = subprocess.run(["gcc", "-O1", "-w", "-o", str(out), str(CSRC / f"{name}.c"), *flags],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"gcc {name}.c failed:\n{r.stderr}"
        return out
    return build


# ---------------------------------------------------------------- leaks ----


def find_token(token, *results, paths=(), exclude=()):
    """Where TOKEN occurs: in the given results' output, or in any regular file
    under PATHS (symlinks are not followed: the host must not be the one who
    reads through a link the sandbox planted)."""
    tb = token.encode()
    excluded = {str(e) for e in exclude}
    hits = []
    for r in results:
        if tb in r.out_bytes:
            hits.append("stdout")
        if tb in r.err_bytes:
            hits.append("stderr")
    for base in paths:
        base = Path(base)
        if base.is_file() and not base.is_symlink():
            if tb in base.read_bytes():
                hits.append(str(base))
            continue
        for root, dirs, files in os.walk(base, followlinks=False):
            for name in files + dirs:
                if token in name:
                    hits.append(os.path.join(root, name) + " (name)")
            for name in files:
                p = os.path.join(root, name)
                if p in excluded:
                    continue
                try:
                    if os.path.islink(p) or not os.path.isfile(p):
                        continue
                    if os.path.getsize(p) > 256 << 20:
                        continue
                    with open(p, "rb") as f:
                        if tb in f.read():
                            hits.append(p)
                except OSError:
                    continue
    return hits


def assert_no_token(token, *results, paths=(), exclude=()):
    hits = find_token(token, *results, paths=paths, exclude=exclude)
    assert not hits, f"canary token leaked to: {hits}\n" + "\n".join(map(repr, results))


def snapshot(path):
    """Bytes, mtime and inode of a host file (None if absent)."""
    p = Path(path)
    try:
        st = p.lstat()
    except FileNotFoundError:
        return None
    data = p.read_bytes() if p.is_file() and not p.is_symlink() else None
    return (data, st.st_mtime_ns, st.st_ino, st.st_mode, st.st_nlink)


def tree(path):
    """Every entry under PATH (relative names), for before/after comparisons."""
    base = Path(path)
    return sorted(str(p.relative_to(base)) for p in base.rglob("*"))


def git(*args, cwd, home, check=True, extra_env=None):
    """Runs git on the HOST, with a clean environment."""
    env = {"PATH": CLEAN_PATH, "HOME": str(home), "LANG": "C.UTF-8",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    env.update(extra_env or {})
    return subprocess.run(["git", *args], cwd=str(cwd), env=env, capture_output=True, text=True,
                          timeout=60, check=check)


# ------------------------------------------------------------- processes ---


def procs_with_argv(argv):
    """Host pids whose argv is exactly ARGV (scans /proc; no pgrep race with itself)."""
    want = "\0".join(argv).encode() + b"\0"
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if f.read() == want:
                    pids.append(int(d))
        except OSError:
            continue
    return pids


def procs_matching(needle):
    """Host pids whose command line contains NEEDLE."""
    nb = needle.encode()
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if nb in f.read():
                    pids.append(int(d))
        except OSError:
            continue
    return pids


def proc_argv(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return None


def wait_until(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)


def proc_state(pid):
    """(State letter, TracerPid) of a host process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            st = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        return st["State"].split()[0], int(st["TracerPid"])
    except (OSError, KeyError, ValueError):
        return None


def unique_seconds():
    """A sleep duration no other test (or user) is likely to use: its argv is our marker."""
    return str(100000 + secrets.randbelow(800000))


@pytest.fixture
def host_sleep():
    """A host process the sandbox must not be able to touch."""
    procs = []

    def start():
        secs = unique_seconds()
        p = subprocess.Popen(["sleep", secs], stdin=subprocess.DEVNULL)
        procs.append(p)
        assert wait_until(lambda: proc_argv(p.pid) == ["sleep", secs], 5), "host sleep did not start"
        return p
    yield start
    for p in procs:
        try:
            os.kill(p.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        p.kill()
        p.wait(timeout=5)


@pytest.fixture
def reap_marked():
    """Kills (at teardown) any host process whose argv contains a registered
    marker, so a harness bug cannot leave sleeps or fork bombs behind."""
    markers = []
    yield markers.append
    for m in markers:
        for pid in procs_matching(m):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


# ------------------------------------------------------------- listeners ---


class Listener:
    """A host socket on a thread, recording everything that reaches it."""

    def __init__(self, sock, stream, address):
        self.sock = sock
        self.stream = stream
        self.address = address
        self.events = []
        self._stop = threading.Event()
        sock.setblocking(False)
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self):
        while not self._stop.is_set():
            try:
                r, _, _ = select.select([self.sock], [], [], 0.05)
            except (OSError, ValueError):
                return
            if not r:
                continue
            try:
                if self.stream:
                    c, addr = self.sock.accept()
                    c.settimeout(0.5)
                    try:
                        data = c.recv(4096)
                    except OSError:
                        data = b""
                    c.close()
                    self.events.append(("accept", addr, data))
                else:
                    data, addr = self.sock.recvfrom(65536)
                    self.events.append(("datagram", addr, data))
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                if self._stop.is_set():
                    return

    def seen(self, settle=0.3):
        time.sleep(settle)
        return list(self.events)

    def close(self):
        self._stop.set()
        self._t.join(timeout=2)
        self.sock.close()


@pytest.fixture
def tcp_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    lst = Listener(s, True, s.getsockname())
    yield lst
    lst.close()


@pytest.fixture
def udp_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    lst = Listener(s, False, s.getsockname())
    yield lst
    lst.close()


@pytest.fixture
def abstract_listener(token):
    name = "harness-it-" + token
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind("\0" + name)
    s.listen(16)
    lst = Listener(s, True, name)
    yield lst
    lst.close()


@pytest.fixture
def path_listener():
    d = tempfile.mkdtemp(prefix="harness-it-sock-", dir="/tmp")
    path = os.path.join(d, "agent.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(16)
    lst = Listener(s, True, path)
    yield lst
    lst.close()
    shutil.rmtree(d, ignore_errors=True)
