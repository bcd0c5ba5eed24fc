"""Exec interception (seccomp user notification): every exec inside the
sandbox stops until the supervisor has read it. With -v harness prints each
one; the lines come from the supervisor, outside the sandbox, so what they
say was read from the kernel's stopped call, not reported by the program."""

import re


def execs(err):
    return [l for l in err.splitlines() if l.startswith("harness: exec ")]


def test_every_exec_of_a_pipeline_once_with_its_argv(harness):
    r = harness.run("ls / | wc -l; echo hi | tr h H; /usr/bin/env true", "-v")
    assert r.rc == 0, r
    lines = execs(r.err)
    progs = [re.match(r"harness: exec (\S+) ", l).group(1) for l in lines]
    # sh itself, then ls, wc, tr, env, true: each once, however PATH was searched
    for p in ("/usr/bin/ls", "/usr/bin/wc", "/usr/bin/tr", "/usr/bin/env", "/usr/bin/true"):
        assert progs.count(p) == 1, (p, lines)
    assert any("[tr h H]" in l for l in lines), lines
    assert any("[ls /]" in l for l in lines), lines
    assert len(lines) == 6, lines


def test_exec_records_the_callers_cwd(harness):
    r = harness.run("mkdir -p /tmp/w && cd /tmp/w && /usr/bin/true", "-v")
    assert r.rc == 0, r
    assert any(l.endswith("[/usr/bin/true] in /tmp/w") for l in execs(r.err)), r


def test_long_argv_is_bounded(harness):
    # 3000 arguments: the supervisor reads at most 1024 and says it cut
    r = harness.run(["sh", "-c", "exec /usr/bin/true \"$@\"", "sh"] + ["x" * 10] * 3000, "-v")
    assert r.rc == 0, r
    line = [l for l in execs(r.err) if l.startswith("harness: exec /usr/bin/true")][0]
    assert line.count("xxxxxxxxxx") == 1023 and " ...]" in line, line[-200:]


def test_many_execs_all_answered(harness):
    r = harness.run("for i in $(seq 300); do /usr/bin/true; done; echo done", "-v", timeout=60)
    assert r.rc == 0 and r.out.strip() == "done", r
    assert sum(1 for l in execs(r.err) if "[/usr/bin/true]" in l) == 300


def test_pid1_stays_unreadable_with_interception(harness):
    """Exec interception refuses prctl(PR_SET_DUMPABLE, 0); pid 1 must have
    made itself non-dumpable before that filter, or its memory (a copy of
    harness's, secrets and all) would be readable from inside."""
    r = harness.run(["python3", "-c",
                     "import sys\n"
                     "try:\n"
                     "    lo = int(open('/proc/1/maps').readline().split('-')[0], 16)\n"
                     "    f = open('/proc/1/mem', 'rb', 0)\n"
                     "    f.seek(lo)\n"
                     "    f.read(16)\n"
                     "except OSError:\n"
                     "    sys.exit(7)\n"
                     "sys.exit(0)"], "-v")
    assert r.rc == 7, r
