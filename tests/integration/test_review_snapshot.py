"""The snapshot copy, the workspace where overlayfs cannot be mounted in a
user namespace (forced here with HARNESS_WORKSPACE_BACKEND=snapshot): what
only it does. test_review.py runs every review scenario on it too."""

import json
import os
import stat
import subprocess
import time

import pytest

from test_review import last_run, populate, tree_digest

SNAP = {"HARNESS_WORKSPACE_BACKEND": "snapshot"}


def snapshots(state_dir):
    """The copies under the runs dir (its .snapshots withholds listing)."""
    d = state_dir / "harness" / "runs" / ".snapshots"
    if not d.exists():
        return []
    mode = stat.S_IMODE(d.stat().st_mode)
    os.chmod(d, 0o700)
    try:
        return os.listdir(d)
    finally:
        os.chmod(d, mode)


def test_the_copy_is_mounted_and_removed(harness, project, state_dir):
    populate(project)
    r = harness.run(f"grep ' {project} ' /proc/self/mountinfo; test -L oldlink && echo link-kept",
                    "--review", extra_env=SNAP)
    assert r.rc == 0, r
    assert "the workspace is a snapshot copy (HARNESS_WORKSPACE_BACKEND=snapshot)" in r.err, r
    assert "not capped" in r.err and "--max-disk" in r.err, r
    mount = r.out.splitlines()[0].split()
    # mountinfo's root is the path inside its filesystem: the same path, a
    # shorter one (state dir on a tmpfs /tmp) or a longer one (a root that
    # is itself a bind of a subdirectory, as in a container).
    i = mount[3].find("/harness/runs/.snapshots/")
    seen, want = mount[3][:i], str(state_dir)
    assert i >= 0 and (want.endswith(seen) or seen.endswith(want)), mount
    assert mount[mount.index("-") + 1] != "overlay", mount
    assert "link-kept" in r.out, r
    assert snapshots(state_dir) == [], "the copy outlived the run"
    assert last_run(harness) is None  # nothing changed


def test_a_project_larger_than_max_disk_is_refused_before_the_run(harness, project, state_dir):
    if json.loads(harness.call(["check", "--json"]).out)["workspace"]["reflink"]:
        pytest.skip("the copy would be cloned here, taking no room to bound")
    populate(project)
    (project / "big").write_bytes(b"x" * (3 << 20))
    before = tree_digest(project)
    r = harness.run("echo ran", "--review", "--max-disk", "1M", extra_env=SNAP)
    assert r.rc == 125 and "ran" not in r.out, r
    assert "--max-disk (1 MiB)" in r.err and "takes more than 1048576 bytes" in r.err, r
    assert snapshots(state_dir) == []
    assert tree_digest(project) == before


def test_links_in_the_project_are_copied_as_links(harness, project, tmp_path, token):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "canary.txt").write_text(token)
    os.symlink(outside, project / "out")
    os.symlink(outside / "canary.txt", project / "out-file")
    r = harness.run("readlink out out-file; ls out/ 2>&1; cat out-file 2>&1; "
                    "rm out && mkdir out && echo mine > out/canary.txt",
                    "--review", extra_env=SNAP)
    assert r.rc == 0 and "snapshot copy" in r.err, r
    assert str(outside) in r.out and token not in r.out, r
    run = last_run(harness)
    diff = harness.call(["diff", run["id"]]).out
    assert token not in diff, diff
    assert "deleted file mode 120000" in diff and "+mine" in diff, diff
    assert (outside / "canary.txt").read_text() == token


def test_another_runs_copy_is_out_of_reach(harness, project, state_dir, tmp_path, token):
    """A run in progress: a second sandbox, granted the whole state dir,
    cannot see its copy (nor the staged runs)."""
    populate(project)
    flag = tmp_path / "flags"
    flag.mkdir()
    first = subprocess.Popen(
        [harness.bin, "run", "--review", "--allow-read", str(flag), "--", "sh", "-c",
         f"echo {token} > marker.txt; while [ ! -e {flag}/done ]; do sleep 0.05; done"],
        cwd=project, env={**harness.env, **SNAP}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        snaps = state_dir / "harness" / "runs" / ".snapshots"
        for _ in range(400):
            copies = snapshots(state_dir)
            if copies and (snaps / copies[0] / "marker.txt").exists():
                break
            assert first.poll() is None, first.communicate()
            time.sleep(0.05)
        assert (snaps / copies[0] / "marker.txt").read_text().strip() == token
        runs = state_dir / "harness" / "runs"
        r = harness.run(f"ls -A {runs} {runs}/.snapshots 2>&1; grep -rs {token} {state_dir} "
                        f"|| echo not-found", "--allow-read", str(state_dir),
                        "--audit", f"jsonl:{tmp_path}/a.jsonl", extra_env=SNAP)
        assert "not-found" in r.out and token not in r.out, r
    finally:
        (flag / "done").write_text("")
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert snapshots(state_dir) == []
    assert "marker.txt" in harness.call(["diff", last_run(harness)["id"]]).out


def test_a_copy_left_by_a_killed_run_is_swept(harness, project, state_dir):
    d = state_dir / "harness" / "runs" / ".snapshots"
    d.mkdir(parents=True)
    stale, fresh = d / ("ab" * 16), d / ("cd" * 16)
    (stale / "deep" / "er").mkdir(parents=True)
    (stale / "deep" / "er" / "f").write_text("left over\n")
    os.chmod(stale / "deep", 0o500)
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh.mkdir()  # a minute old at most: maybe a copy being made
    r = harness.run("true", "--ephemeral", extra_env=SNAP)
    assert r.rc == 0, r
    assert snapshots(state_dir) == ["cd" * 16]


def test_check_reports_the_workspace(harness):
    r = harness.call(["check", "--json"], extra_env=SNAP)
    j = json.loads(r.out)
    assert j["workspace"]["backend"] == "snapshot", j["workspace"]
    assert isinstance(j["workspace"]["reflink"], bool)
    row = [x for x in j["layers"] if x["name"] == "workspace"][0]
    assert row["status"] == "snapshot" and "not capped by --max-disk" in row["note"], row
    assert ("reflink yes" if j["workspace"]["reflink"] else "reflink no") in row["note"], row
    r = harness.call(["check"], extra_env={"HARNESS_WORKSPACE_BACKEND": "overlay"})
    assert any(l.startswith("workspace") and " overlay " in l for l in r.out.splitlines()), r
    r = harness.run("true", "--review", extra_env={"HARNESS_WORKSPACE_BACKEND": "bogus"})
    assert r.rc == 125 and "overlay, snapshot or auto" in r.err, r
