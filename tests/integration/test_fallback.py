"""Hostile environments, imitated with a seccomp wrapper around harness:
Docker's default profile (clone3 refused with ENOSYS) and no user
namespaces at all. harness must still work in the first, and in the second
refuse with the cause and the remedies, unless --best-effort, which runs
with Landlock + seccomp and says what is missing. Decided from the host:
files that appear or not, canaries untouched."""

import subprocess

import pytest

from conftest import CSRC, assert_no_token


@pytest.fixture
def denyns(tmp_path):
    out = tmp_path / "denyns"
    r = subprocess.run(["gcc", "-O1", "-o", str(out), str(CSRC / "denyns.c"), "-lseccomp"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return out


def _wrapped(harness, denyns, mode, args, timeout=30):
    import time
    t0 = time.monotonic()
    p = subprocess.run([str(denyns), mode, "--", harness.bin, *args], cwd=str(harness.project),
                       env=harness.env, capture_output=True, timeout=timeout)
    from conftest import Result
    return Result(args, p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def test_docker_like_clone3_enosys_still_sandboxes(harness, denyns, project, home, token):
    r = _wrapped(harness, denyns, "docker",
                 ["run", "--", "sh", "-c", "echo made > inside.txt; cat ~/.ssh/id_rsa; "
                  "ls /proc | grep -c '^[0-9]'"])
    assert r.rc == 0, r
    assert (project / "inside.txt").read_text() == "made\n"
    assert_no_token(token, r)
    # a fresh pid namespace: only a handful of processes are visible
    assert int(r.out.strip().splitlines()[-1]) < 10, r


def test_no_userns_refused_with_remedy(harness, denyns, project):
    r = _wrapped(harness, denyns, "nouserns", ["run", "--", "sh", "-c", "echo ran > ran.txt"])
    assert r.rc == 125, r
    assert not (project / "ran.txt").exists()
    assert "namespace" in r.err and "--best-effort" in r.err, r


def test_no_userns_best_effort_runs_fenced(harness, denyns, project, home, token, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    r = _wrapped(harness, denyns, "nouserns",
                 ["run", "--best-effort", "--", "sh", "-c",
                  f"echo ran > ran.txt; cat {home}/.ssh/id_rsa; echo x > {outside}/escape.txt"])
    assert (project / "ran.txt").read_text() == "ran\n", r
    assert "best effort" in r.err and "WITHOUT namespaces" in r.err, r
    # Landlock alone still fences the filesystem
    assert not (outside / "escape.txt").exists(), r
    assert_no_token(token, r)
    assert (home / ".ssh" / "id_rsa").read_text().find(token) >= 0


def test_best_effort_without_namespaces_points_nothing_at_a_proxy(harness, denyns, project):
    """Without a network namespace there is no proxy, and ports 3128/1080 on
    the host's loopback could be anyone's: no proxy variable may point a
    client there, and the user is told allowed hosts are unreachable."""
    r = _wrapped(harness, denyns, "nouserns",
                 ["run", "--best-effort", "--allow-host", "example.com", "--", "sh", "-c",
                  "env | grep -i _proxy= || echo no-proxy-vars"])
    assert "no-proxy-vars" in r.out, r
    assert "allowed hosts are unreachable" in r.err, r
