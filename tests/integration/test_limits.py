"""Limits: wall clock (the whole sandbox dies, daemons included), processes,
memory, file size, CPU, open files, /tmp size; and the sandbox dies with a
SIGKILLed harness. Leftovers are looked for on the host by exact argv."""

import os
import signal
import subprocess
import threading
import time

import pytest

from conftest import SCALE, procs_matching, procs_with_argv, unique_seconds, wait_until


def gone(argvs, timeout):
    """True when no host process has any of ARGVS, within TIMEOUT seconds."""
    return wait_until(lambda: not any(procs_with_argv(a) for a in argvs), timeout)


def leftovers(argvs):
    return {" ".join(a): procs_with_argv(a) for a in argvs if procs_with_argv(a)}


def test_timeout_kills_the_whole_sandbox(harness, reap_marked):
    s1, s2, s3 = unique_seconds(), unique_seconds(), unique_seconds()
    for s in (s1, s2, s3):
        reap_marked(f"sleep\0{s}\0")
    t0 = time.monotonic()
    r = harness.sh(f"setsid sleep {s1} & (sleep {s2} &) ; sleep {s3}", "--timeout", "1s", timeout=30)
    assert r.rc == 124, r
    assert time.monotonic() - t0 < 10 * SCALE, "the timeout fired late"
    assert "--timeout" in r.err, f"the message does not name the flag to raise: {r.err!r}"
    argvs = [["sleep", s] for s in (s1, s2, s3)]
    assert gone(argvs, 2 * SCALE), f"left running on the host after the timeout: {leftovers(argvs)}"


def test_timeout_in_milliseconds(harness):
    r = harness.sh("sleep 5", "-t", "500ms", timeout=30)
    assert r.rc == 124, r
    assert r.elapsed < 4 * SCALE


def test_command_finishing_in_time_is_unaffected(harness):
    r = harness.sh("exit 5", "--timeout", "2m")
    assert r.rc == 5, r


def test_sigkill_of_harness_takes_the_sandbox_down(harness_bin, project, base_env, reap_marked):
    s1, s2, s3 = unique_seconds(), unique_seconds(), unique_seconds()
    for s in (s1, s2, s3):
        reap_marked(f"sleep\0{s}\0")
    argvs = [["sleep", s] for s in (s1, s2, s3)]
    p = subprocess.Popen([harness_bin, "run", "--", "sh", "-c",
                          f"sleep {s1} & setsid sleep {s2} & (sleep {s3} &); wait"],
                         cwd=str(project), env=base_env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        up = wait_until(lambda: all(procs_with_argv(a) for a in argvs), 10 * SCALE)
        assert up, f"the sandboxed sleeps never started: {leftovers(argvs)}"
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    assert gone(argvs, 2 * SCALE), f"left running after harness was SIGKILLed: {leftovers(argvs)}"


def test_sigterm_of_harness_ends_the_sandbox(harness_bin, project, base_env, reap_marked):
    s1 = unique_seconds()
    reap_marked(f"sleep\0{s1}\0")
    p = subprocess.Popen([harness_bin, "run", "--", "sleep", s1], cwd=str(project), env=base_env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_until(lambda: procs_with_argv(["sleep", s1]), 10 * SCALE)
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=10 * SCALE)
    finally:
        if p.poll() is None:
            p.kill()
    assert rc == 128 + signal.SIGTERM, rc
    assert gone([["sleep", s1]], 2 * SCALE)


@pytest.mark.slow
def test_fork_bomb_is_contained(harness, reap_marked):
    marker = "harness-it-bomb-" + unique_seconds()
    reap_marked(marker)
    peak = [0]
    stop = [False]

    def bombs():
        # The forked shells keep sh's argv; harness's own argv also holds the
        # marker, so count only the shells.
        return [p for p in procs_matching(marker)
                if (open(f"/proc/{p}/cmdline", "rb").read().startswith(b"sh\0-c\0")
                    if os.path.exists(f"/proc/{p}/cmdline") else False)]

    def watch():
        while not stop[0]:
            try:
                peak[0] = max(peak[0], len(bombs()))
            except OSError:
                pass
            time.sleep(0.02)
    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        r = harness.run(["sh", "-c", "bomb() { bomb | bomb & }; bomb; sleep 3", marker],
                        "--max-procs", "64", "--timeout", "15s", timeout=60)
    finally:
        stop[0] = True
        t.join()
    assert r.rc != 124, f"the fork bomb ran until the wall clock: the process limit did not hold\n{r!r}"
    assert peak[0] <= 64, f"{peak[0]} bomb processes seen on the host with --max-procs 64"
    assert wait_until(lambda: not bombs(), 2 * SCALE), "bomb processes left behind"
    # The host still forks fine.
    assert subprocess.run(["true"], timeout=10).returncode == 0


def test_memory_bomb_is_contained(harness):
    # 2 GiB of touched memory with a 256M limit: killed (OOM) or MemoryError.
    r = harness.run(["python3", "-c", "s = b'x' * (2 << 30); print(len(s))"],
                    "--max-memory", "256M", timeout=60)
    assert r.rc != 0, r
    assert str(2 << 30) not in r.out
    if r.rc == 128 + signal.SIGKILL:
        assert "--max-memory" in r.err, f"killed without naming the memory limit: {r.err!r}"
    else:
        assert "MemoryError" in r.err, r


def test_max_file_size(harness, project):
    # dd is the command itself (no shell in between): SIGXFSZ kills it, and
    # harness says which limit did.
    r = harness.run(["dd", "if=/dev/zero", "of=big.bin", "bs=1M", "count=10"],
                    "--max-file-size", "1M", timeout=60)
    assert r.rc == 128 + signal.SIGXFSZ, r
    size = (project / "big.bin").stat().st_size
    assert size <= 1 << 20, f"big.bin is {size} bytes on the host with --max-file-size 1M"
    assert "--max-file-size" in r.err, r.err
    # The same through python, which ignores SIGXFSZ and gets EFBIG instead.
    r = harness.run(["python3", "-c", "open('big2.bin','wb').write(bytes(10 << 20))"],
                    "--max-file-size", "1M", timeout=60)
    assert r.rc != 0, r
    assert (project / "big2.bin").stat().st_size <= 1 << 20


@pytest.mark.slow
def test_max_cpu_kills_a_busy_loop(harness):
    r = harness.run(["python3", "-c", "while True: pass"], "--max-cpu", "1s", "--timeout", "30s",
                    timeout=60)
    assert r.rc in (128 + signal.SIGXCPU, 128 + signal.SIGKILL), r
    assert r.elapsed < 8 * SCALE, f"took {r.elapsed:.1f}s to stop a 1s CPU budget"
    assert "--max-cpu" in r.err, f"the message does not name the flag: {r.err!r}"


def test_max_open_files(harness, project):
    code = ("import os\nfds=[]\ntry:\n    for i in range(200): fds.append(os.open('/dev/null', os.O_RDONLY))\n"
            "except OSError as e: print('EMFILE', len(fds))\nn=len(fds)\nfor fd in fds: os.close(fd)\n"
            "open('count.txt','w').write(str(n))")
    r = harness.run(["python3", "-c", code], "--max-open-files", "32")
    assert r.rc == 0, r
    assert int((project / "count.txt").read_text()) < 32


def test_max_open_files_at_the_floor(harness, cc):
    """A limit of 3 leaves the command exactly stdin, stdout and stderr: the
    command's own setup (its nested Landlock domain needs an fd for a moment)
    runs before the limit binds, and the program still starts."""
    cc("fdcount", "-static")
    r = harness.run(["./fdcount"], "--max-open-files", "3")
    assert r.rc == 0, r
    assert r.out.strip() == "3", r


def test_tmp_size(harness, project):
    r = harness.sh("head -c 4194304 /dev/zero > /tmp/fill; ls -l /tmp/fill | awk '{print $5}' > size.txt",
                   "--tmp-size", "1M")
    assert int((project / "size.txt").read_text()) <= 1 << 20, r


@pytest.mark.parametrize("flag,value", [("--max-memory", "lots"), ("--max-procs", "-1"),
                                        ("--max-cpu", "soon"), ("--max-file-size", "1Q"),
                                        ("--max-open-files", "x"), ("--tmp-size", "big"),
                                        ("--timeout", "abc"), ("-t", "10parsecs")])
def test_bad_limit_values_are_harness_errors(harness, flag, value):
    r = harness.call(["run", flag, value, "--", "true"])
    assert r.rc == 125, r
    assert value in r.err, f"the message does not name the bad value: {r.err!r}"


def cgroups_named(name, root="/sys/fs/cgroup", depth=5):
    found = []
    def walk(d, n):
        try:
            entries = list(os.scandir(d))
        except OSError:
            return
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                if e.name == name:
                    found.append(e.path)
                elif n > 0:
                    walk(e.path, n - 1)
    walk(root, depth)
    return found


@pytest.mark.parametrize("how", ["exit", "timeout", "oom"])
def test_no_cgroup_left_behind(harness, how, reap_marked):
    """harness makes a cgroup per run for memory/process limits (when it can)
    and must remove it however the run ends."""
    secs = unique_seconds()
    reap_marked(f"sleep\0{secs}\0")
    script = {"exit": "sleep 0.1 & exit 0",
              "timeout": f"sleep {secs} & sleep {secs} & sleep {secs}",
              "oom": "python3 -c 's = bytearray(1 << 30); s[::4096] = b\"x\" * (len(s) // 4096)'"}[how]
    r = harness.sh(script, "--max-procs", "64", "--max-memory", "128M", "--timeout", "1s", timeout=30)
    assert r.rc != 125, r
    left = wait_until(lambda: not cgroups_named(f"harness-{r.pid}"), 2 * SCALE)
    assert left, f"cgroups left behind: {cgroups_named(f'harness-{r.pid}')}"
