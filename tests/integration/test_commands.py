"""Command rules at exec time (seccomp user notification + the rules of
docs/commands.md), decided from the host: a remote that was not rewritten,
a project that was not deleted, the store's record of the refusal."""

import json
import subprocess

from conftest import git


def test_force_push_is_blocked_and_the_remote_untouched(harness, project, tmp_path):
    remote = project / "remote.git"
    git("init", "-q", "--bare", str(remote), cwd=project, home=tmp_path)
    git("init", "-q", cwd=project, home=tmp_path)
    (project / "a").write_text("1\n")
    git("add", "a", cwd=project, home=tmp_path)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one", cwd=project,
        home=tmp_path)
    git("push", "-q", str(remote), "HEAD:refs/heads/main", cwd=project, home=tmp_path)
    before = git("rev-parse", "main", cwd=remote, home=tmp_path).stdout
    code = ("import subprocess, sys\n"
            "subprocess.run(['git', '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', "
            "'--amend', '-qm', 'rewritten'])\n"
            "try:\n"
            f"    subprocess.run(['git', 'push', '--force', '{remote}', 'HEAD:refs/heads/main'])\n"
            "except PermissionError as e:\n"
            "    print('refused:', e)\n")
    r = harness.run(["python3", "-c", code])
    assert r.rc == 0 and "refused:" in r.out, r  # the agent goes on after the refusal
    assert git("rev-parse", "main", cwd=remote, home=tmp_path).stdout == before
    assert "blocked 'git push --force" in r.err and "git-push-force" in r.err, r
    recs = [json.loads(l) for l in harness.call(
        ["audit", "export", "--format", "jsonl"]).out.splitlines()]
    blocked = [x for x in recs if x["outcome"] == "blocked"]
    assert blocked and blocked[0]["metadata"]["rule"] == "default:git-push-force", blocked


def test_rm_rf_of_the_project_is_blocked(harness, project):
    (project / "keep.txt").write_text("keep\n")
    r = harness.run(["python3", "-c",
                     "import subprocess, os; subprocess.run(['rm', '-rf', os.getcwd()])"])
    assert (project / "keep.txt").read_text() == "keep\n", r
    assert "rm-recursive-root" in r.err, r


def test_a_policy_rule_of_the_user(harness, project, tmp_path):
    pol = tmp_path / "p.json"
    pol.write_text(json.dumps({"commands": {"deny": [
        {"match": ["touch", "deployed"], "reason": "no deploys from the agent",
         "examples": {"match": ["touch deployed"], "no_match": ["touch built"]}}]}}))
    r = harness.run(["python3", "-c",
                     "import subprocess\n"
                     "subprocess.run(['touch', 'built']); subprocess.run(['touch', 'deployed'])"],
                    "--policy", str(pol))
    assert (project / "built").exists(), r
    assert not (project / "deployed").exists(), r
    assert "no deploys from the agent" in r.err, r


def test_a_failing_self_test_example_refuses_the_policy(harness, tmp_path, project):
    pol = tmp_path / "bad.json"
    pol.write_text('{"commands": {"deny": [{"match": ["git", "push"],\n'
                   ' "examples": {"match": ["git pull"]}}]}}')
    r = harness.run("touch ran", "--policy", str(pol))
    assert r.rc == 125 and "bad.json:2:" in r.err, r
    assert not (project / "ran").exists()


def test_a_full_stderr_pipe_cannot_stall_the_supervisor(harness, project):
    """The refusal is written to the caller's stderr; if the sandbox keeps
    that pipe full, the supervisor must not block on it (its loop also runs
    the wall-clock limit, which must still end the run)."""
    code = ("import os, subprocess\n"
            "r, w = os.pipe()\n"
            "os.set_blocking(w, False)\n"
            "try:\n"
            "    while True: os.write(w, b'x' * 65536)\n"
            "except BlockingIOError: pass\n"
            "os.set_blocking(w, True)\n"
            "try:\n"
            "    subprocess.run(['rm', '-rf', os.getcwd()], stderr=w)\n"
            "except PermissionError: print('refused', flush=True)\n"
            "import time; time.sleep(30)\n")
    r = harness.run(["python3", "-c", code], "--timeout", "2s", timeout=20)
    assert r.rc == 124, r
    assert "refused" in r.out, r
