"""The workspace: --ephemeral and --review. Decided from the host: the real
tree is checksummed before and after, staged diffs are compared with
`git diff --no-index` of the same two trees, applied trees with the tree
the same script makes when run directly.

Every test runs twice: on the overlay, and on the snapshot copy used where
overlayfs cannot be mounted in a user namespace
(HARNESS_WORKSPACE_BACKEND=snapshot forces it); each run says which it got,
and the test checks that it got the one asked for."""

import hashlib
import json
import os
import shutil
import stat
import subprocess

import pytest

# One script of every kind of change: modify, append without a final
# newline, delete, create (nested), rename, chmod, symlink, binary, a
# directory replaced by a file, a file replaced by a directory.
SCRIPT = r"""
set -e
printf 'one\ntwo\nthree CHANGED\nfour\n' > modified.txt
printf 'no newline at the end' >> tail.txt
rm deleted.txt
mkdir -p new/deeper && printf 'fresh\n' > new/deeper/file.txt
mv renamed-from.txt renamed-to.txt
chmod +x script.sh
ln -s modified.txt link
ln -sf tail.txt oldlink
printf '\000\001\002binary' > blob.bin
rm -r dir2file && printf 'was a dir\n' > dir2file
rm file2dir && mkdir file2dir && printf 'inside\n' > file2dir/x
"""


SNAPSHOT_NOTE = "the workspace is a snapshot copy"


@pytest.fixture(autouse=True, params=["overlay", "snapshot"])
def backend(request, harness):
    """Runs the test with the workspace on an overlay, then on a snapshot
    copy; every --review / --ephemeral run must have used that one."""
    harness.env = dict(harness.env, HARNESS_WORKSPACE_BACKEND=request.param)
    plain = harness.call

    def call(args, *a, **kw):
        r = plain(args, *a, **kw)
        workspace = any(f"harness: {m}: " in r.err for m in ("review", "ephemeral"))
        if args and args[0] == "run" and workspace and r.rc != 125:
            assert (SNAPSHOT_NOTE in r.err) == (request.param == "snapshot"), r
        return r
    harness.call = call
    return request.param


def populate(root):
    root.mkdir(exist_ok=True)
    (root / "modified.txt").write_text("one\ntwo\nthree\nfour\n")
    (root / "tail.txt").write_text("start\n")
    (root / "deleted.txt").write_text("bye\n")
    (root / "renamed-from.txt").write_text("moving content that is unique\n")
    (root / "script.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "blob.bin").write_bytes(b"\x00\x01old")
    (root / "dir2file").mkdir()
    (root / "dir2file" / "a").write_text("a\n")
    (root / "file2dir").write_text("plain\n")
    os.symlink("modified.txt", root / "oldlink")
    (root / "untouched.txt").write_text("same\n")


def tree_digest(root):
    """Every entry: path, type, mode, content or link target."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                with open(p, "rb") as f:
                    out[rel] = ("file", stat.S_IMODE(st.st_mode), hashlib.sha256(f.read()).hexdigest())
    return out


def last_run(harness, all_=False):
    r = harness.call(["runs", "--json"] + (["--all"] if all_ else []))
    assert r.rc == 0, r
    runs = json.loads(r.out)
    return runs[-1] if runs else None


def records(harness, action):
    out = harness.call(["audit", "export", "--format", "jsonl"]).out
    return [json.loads(l) for l in out.splitlines() if json.loads(l)["action_type"] == action]


def test_ephemeral_leaves_the_real_tree_byte_identical(harness, project):
    populate(project)
    before = tree_digest(project)
    r = harness.run(SCRIPT + "cat modified.txt; ls new/deeper", "--ephemeral")
    assert r.rc == 0, r
    assert "three CHANGED" in r.out and "file.txt" in r.out, r  # the command saw its writes
    assert tree_digest(project) == before
    assert "ephemeral:" in r.err and "discarded" in r.err, r
    assert last_run(harness) is None  # nothing staged


def test_review_stages_and_the_diff_matches_git(harness, project, tmp_path):
    populate(project)
    before = tree_digest(project)
    r = harness.run(SCRIPT, "--review")
    assert r.rc == 0, r
    assert tree_digest(project) == before  # nothing landed yet
    run = last_run(harness)
    assert run and run["state"] == "staged", run
    # The expected trees: the same script run directly on copies.
    a, b = tmp_path / "a", tmp_path / "b"
    populate(a)
    populate(b)
    subprocess.run(["sh", "-c", SCRIPT], cwd=b, check=True)
    ours = harness.call(["diff", run["id"]])
    assert ours.rc == 0, ours
    git = subprocess.run(["git", "diff", "--no-index", "--no-renames", "a", "b"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert git.returncode == 1, git.stderr

    def hunks(text, strip):
        """{path: the diff lines of that file, headers normalised}"""
        files, cur = {}, None
        for line in text.splitlines():
            if line.startswith("diff --git "):
                cur = line.split(" b/", 1)[1]
                if strip:
                    cur = cur.split("/", 1)[1]
                files.setdefault(cur, [])
                continue
            if line.startswith("index ") or line.startswith("similarity") or \
               line.startswith("rename ") or line.startswith("# harness"):
                continue
            if line.startswith("--- ") or line.startswith("+++ "):
                side = line[4:]
                if side != "/dev/null" and strip:
                    side = side[:2] + side[2:].split("/", 1)[1]
                line = line[:4] + side
            if line.startswith("Binary files") and strip:
                line = line.replace(" a/a/", " a/").replace(" b/b/", " b/")
            files[cur].append(line)
        return files

    theirs_h = hunks(git.stdout, strip=True)
    ours_h = hunks(ours.out, strip=False)
    # git without rename detection shows the rename as a delete and an add;
    # ours shows one rename: compare the rest entry by entry.
    for path in ("renamed-from.txt", "renamed-to.txt"):
        theirs_h.pop(path, None)
        ours_h.pop(path, None)
    assert sorted(ours_h) == sorted(theirs_h), (sorted(ours_h), sorted(theirs_h))
    for path in theirs_h:
        assert ours_h[path] == theirs_h[path], (path, ours_h[path], theirs_h[path])
    assert "rename from renamed-from.txt" in ours.out and "rename to renamed-to.txt" in ours.out
    stat_out = harness.call(["diff", run["id"], "--stat"]).out
    assert "files changed" in stat_out and "modified.txt" in stat_out, stat_out
    one = harness.call(["diff", run["id"], "new"]).out
    assert "new/deeper/file.txt" in one and "modified.txt" not in one, one


def test_apply_lands_exactly_what_the_script_makes(harness, project, tmp_path):
    populate(project)
    expected = tmp_path / "expected"
    shutil.copytree(project, expected, symlinks=True)
    subprocess.run(["sh", "-c", SCRIPT], cwd=expected, check=True)
    r = harness.run(SCRIPT, "--review")
    assert r.rc == 0, r
    run = last_run(harness)
    r = harness.call(["apply", run["id"]])
    assert r.rc == 0, r
    assert tree_digest(project) == tree_digest(expected)
    assert last_run(harness) is None
    assert last_run(harness, all_=True)["state"] == "applied"
    applied = records(harness, "workspace.apply")
    assert any(x["target"].endswith("/modified.txt") and x["outcome"] == "allowed"
               for x in applied), applied
    r = harness.call(["apply", run["id"]])
    assert r.rc == 125 and "already applied" in r.err, r


def test_apply_refuses_what_changed_in_the_real_tree(harness, project):
    populate(project)
    r = harness.run("echo agent >> modified.txt; echo agent >> tail.txt", "--review")
    assert r.rc == 0, r
    run = last_run(harness)
    (project / "modified.txt").write_text("the user's own edit\n")
    r = harness.call(["apply", run["id"]])
    assert r.rc == 1, r
    assert "refused modified.txt" in r.err and "--force" in r.err, r
    assert (project / "modified.txt").read_text() == "the user's own edit\n"
    assert (project / "tail.txt").read_text() == "start\nagent\n"  # the rest landed
    blocked = [x for x in records(harness, "workspace.apply") if x["outcome"] == "blocked"]
    assert blocked and blocked[0]["target"].endswith("/modified.txt"), blocked
    r = harness.call(["apply", run["id"], "--force", "modified.txt"])
    assert r.rc == 0, r
    assert (project / "modified.txt").read_text() == "one\ntwo\nthree\nfour\nagent\n"


def test_a_change_made_during_the_run_is_a_conflict(harness, project):
    """The user edits a file while the agent works on the same file: the
    agent's copy was taken before the edit, so applying it would silently
    drop the user's change."""
    populate(project)
    marker = project.parent / "go"
    import threading
    import time

    def edit():
        time.sleep(0.5)
        with open(project / "modified.txt", "a") as f:
            f.write("user\n")
        marker.write_text("x")

    t = threading.Thread(target=edit)
    t.start()
    r = harness.run(f"sleep 0.1; echo agent >> modified.txt; "
                    f"while [ ! -e {marker} ]; do sleep 0.05; done",
                    "--review", "--allow-read", str(project.parent))
    t.join()
    assert r.rc == 0, r
    run = last_run(harness)
    r = harness.call(["apply", run["id"]])
    assert r.rc == 1 and "during the run" in r.err, r
    assert (project / "modified.txt").read_text().endswith("user\n")


def test_forced_mode_change_never_follows_a_symlink(harness, project, tmp_path):
    """The staged chmod meets a real path that became a symlink to a file
    outside the project: even --force must not change the outside file."""
    (project / "tool.sh").write_text("#!/bin/sh\n")
    r = harness.run("chmod +x tool.sh", "--review")
    assert r.rc == 0, r
    run = last_run(harness)
    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    outside.chmod(0o600)
    (project / "tool.sh").unlink()
    os.symlink(outside, project / "tool.sh")
    r = harness.call(["apply", run["id"]])
    assert r.rc == 1, r  # refused: another kind of entry now
    r = harness.call(["apply", run["id"], "--force"])
    assert stat.S_IMODE(outside.stat().st_mode) == 0o600, r
    assert r.rc == 125, r


def test_discard_and_bad_ids(harness, project):
    populate(project)
    harness.run("echo x > junk.txt", "--review")
    run = last_run(harness)
    r = harness.call(["discard", run["id"][:8]])
    assert r.rc == 0, r
    assert not (project / "junk.txt").exists()
    assert last_run(harness) is None
    r = harness.call(["apply", run["id"]])
    assert r.rc == 125 and "already discarded" in r.err, r
    r = harness.call(["diff", "0123456789ab"])
    assert r.rc == 125 and "no staged run" in r.err, r
    r = harness.call(["apply", "../../etc"])
    assert r.rc == 125 and "not a run id" in r.err, r


def test_a_staged_run_edited_by_hand_is_refused(harness, project, state_dir):
    populate(project)
    harness.run("echo agent > modified.txt", "--review")
    run = last_run(harness)
    blobs = state_dir / "harness" / "runs" / run["id"] / "blobs"
    for b in blobs.iterdir():
        b.write_text("tampered\n")
    r = harness.call(["apply", run["id"]])
    assert r.rc == 125 and "does not hold what was staged" in r.err, r
    assert (project / "modified.txt").read_text() == "one\ntwo\nthree\nfour\n"


def test_the_project_moved_away(harness, project, tmp_path):
    populate(project)
    harness.run("echo agent > modified.txt", "--review")
    run = last_run(harness)
    shutil.move(str(project), str(tmp_path / "moved"))
    r = harness.call(["apply", run["id"]], cwd=tmp_path)
    assert r.rc == 125 and "is gone" in r.err, r


def test_staged_runs_are_invisible_to_later_sandboxes(harness, project, state_dir, home):
    populate(project)
    harness.run("echo secret-change > modified.txt", "--review")
    run = last_run(harness)
    runs = state_dir / "harness" / "runs"
    assert (runs / run["id"]).is_dir()
    # Even a sandbox granted the whole state dir does not see them.
    r = harness.run(f"ls -A {runs}; cat {runs}/{run['id']}/meta.json; "
                    f"grep -r secret-change {state_dir} || echo not-found",
                    "--allow-read", str(state_dir), "--audit", f"jsonl:{project}/../a.jsonl")
    assert run["id"] not in r.out and "not-found" in r.out, r


def test_max_disk_caps_what_the_command_writes(harness, project, backend):
    r = harness.run("dd if=/dev/zero of=big bs=1M count=20 2>&1; echo dd=$?",
                    "--ephemeral", "--max-disk", "4M")
    assert not (project / "big").exists()
    if backend == "overlay":
        assert "No space left" in r.out, r
        return
    # A snapshot copy cannot cap writes, and says so; what --review would
    # stage stays within --max-disk.
    assert "dd=0" in r.out and "not capped" in r.err and "--max-disk (4 MiB)" in r.err, r
    r = harness.run("dd if=/dev/zero of=big bs=1M count=20 2>&1", "--review",
                    "--max-disk", "4M")
    assert r.rc == 125 and "more than --max-disk" in r.err and "nothing was staged" in r.err, r
    assert last_run(harness) is None
    assert not (project / "big").exists()


def test_other_writable_grants_become_read_only(harness, project, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    r = harness.run(f"echo x > {other}/f 2>&1; echo rc=$?", "--review", "--allow-dir", str(other))
    assert "rc=0" not in r.out, r
    assert not (other / "f").exists()
    assert "only the workspace" in r.err, r


def test_review_needs_the_cwd_writable(harness, project, tmp_path):
    r = harness.run("true", "--review", "--read-only")
    assert r.rc == 125 and "not granted read-write" in r.err, r
    r = harness.run("true", "--review", "--ephemeral")
    assert r.rc == 125 and "choose one" in r.err, r


@pytest.mark.slow
def test_ten_thousand_files(harness, project):
    src = project / "src"
    src.mkdir()
    for i in range(10000):
        (src / f"f{i:05d}.txt").write_text(f"line {i}\n")
    r = harness.run("for f in src/f0*.txt; do echo more >> $f; done; rm src/f19999.txt 2>/dev/null;"
                    " mkdir gen && cd gen && seq 1 500 | xargs touch", "--review", timeout=300)
    assert r.rc == 0, r
    run = last_run(harness)
    assert run["files"] == 10000 + 501, run
    r = harness.call(["diff", run["id"], "--stat"], timeout=120)
    assert "10500 files changed" in r.out, r.out[-300:]
    r = harness.call(["apply", run["id"]], timeout=300)
    assert r.rc == 0, r
    assert (src / "f09999.txt").read_text() == "line 9999\nmore\n"
    assert len(list((project / "gen").iterdir())) == 500


def test_the_guard_blocks_until_a_human_says_yes(harness, project):
    populate(project)
    r = harness.run("echo 'aws_key = AKIA' 'ABCDEFGHIJKLMNOP' | tr -d ' ' > config.ini; "
                    "mkdir -p .github/workflows && echo 'on: push' > .github/workflows/ci.yml; "
                    "echo 'DROP TABLE users;' > migrate.sql", "--review")
    assert r.rc == 0, r
    assert "guard: block" in r.err and "secret.aws-access-key" in r.err, r
    assert "AKIAABCDEFGHIJKLMNOP" not in r.err, r  # masked
    run = last_run(harness)
    assert run["guard"] == "block", run
    # Nobody to ask (no terminal, no approver): nothing lands.
    r = harness.call(["apply", run["id"]])
    assert r.rc == 2 and "not approved" in r.err, r
    assert not (project / "config.ini").exists()
    r = harness.call(["apply", run["id"], "--approver", "echo deny"])
    assert r.rc == 2, r
    assert not (project / "migrate.sql").exists()
    r = harness.call(["apply", run["id"], "--approver", "echo allow"])
    assert r.rc == 0, r
    assert (project / "migrate.sql").read_text() == "DROP TABLE users;\n"
    decisions = [(x["outcome"], x["approved_by"]) for x in records(harness, "workspace.approval")]
    assert decisions[-1] == ("approved", "approver"), decisions
    assert ("denied", "approver") in decisions, decisions


def test_guard_configured_by_the_policy(harness, project, tmp_path):
    pol = tmp_path / "p.json"
    pol.write_text(json.dumps({"guard": {"disable": ["sql.drop"],
                                         "rules": [{"id": "local.todo", "severity": "block",
                                                    "message": "no TODOs", "content": "TODO"}]}}))
    r = harness.run("echo 'DROP TABLE t;' > a.sql; echo '# TODO later' > b.py", "--review",
                    "--policy", str(pol))
    assert r.rc == 0, r
    assert "local.todo" in r.err and "sql.drop" not in r.err, r
    run = last_run(harness)
    r = harness.call(["apply", run["id"], "--approver", "echo deny"])
    assert r.rc == 2 and "local.todo" in r.err, r


# ---------------------------------------------------------------- modes ---

@pytest.mark.parametrize("level", ["1", "2"])
def test_levels_1_and_2_are_in_review_mode(harness, project, level):
    """Levels 1 and 2 write the project on a layer and stage it: the real
    tree is untouched and a staged run holds the change."""
    populate(project)
    before = tree_digest(project)
    r = harness.call(["run", "--level", level, "--", "sh", "-c", "echo new > made.txt"])
    assert r.rc == 0, r
    assert tree_digest(project) == before
    run = last_run(harness)
    assert run and run["files"] == 1, run
    r = harness.call(["apply", run["id"]])
    assert r.rc == 0, r
    assert (project / "made.txt").read_text() == "new\n"


def test_direct_writes_the_project_at_level_1(harness, project):
    r = harness.call(["run", "--level", "1", "--direct", "--", "sh", "-c", "echo d > direct.txt"])
    assert r.rc == 0, r
    assert (project / "direct.txt").read_text() == "d\n"
    assert last_run(harness) is None
    r = harness.call(["run", "--level", "1", "--direct", "--review", "--", "true"])
    assert r.rc == 125 and "choose one" in r.err, r


def test_the_policy_chooses_the_mode(harness, project, tmp_path, backend):
    populate(project)
    before = tree_digest(project)
    pol = tmp_path / "eph.json"
    pol.write_text(json.dumps({"workspace": {"mode": "ephemeral", "max_disk": "2M"}}))
    r = harness.call(["run", "--policy", str(pol), "--", "sh", "-c",
                      "rm deleted.txt; echo x > new.txt; head -c 3000000 /dev/zero > big"])
    if backend == "overlay":
        assert r.rc != 0 and "No space left" in r.err, r  # the policy's cap
    else:  # a snapshot copy cannot cap writes: it says so, with the policy's cap
        assert "not capped: --max-disk (2 MiB)" in r.err, r
    assert tree_digest(project) == before
    assert last_run(harness) is None
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "workspace": {"mode": "staged"}\n}\n')
    r = harness.call(["run", "--policy", str(bad), "--", "true"])
    assert r.rc == 125, r
    assert "bad.json:2:" in r.err and "not a workspace mode" in r.err, r


def test_entries_of_another_owner(harness, project, backend):
    """A user namespace maps only the caller's ids: on the overlay, an entry
    of another group cannot be copied up (EOVERFLOW), which the run says
    before the command meets it; the snapshot copy makes it the caller's."""
    populate(project)
    other = project / "theirs.txt"
    other.write_text("theirs\n")
    gid = next((g for g in (1, 2, 3, 4, 100, 65534) if g != os.getegid()), None)
    try:
        os.chown(other, -1, gid)
    except PermissionError:
        pytest.skip("this user cannot give a file to another group")
    r = harness.run("echo more >> theirs.txt 2>&1; echo rc=$?", "--review")
    if backend == "overlay":
        assert "another user or group" in r.err and "theirs.txt" in r.err, r
        assert "Value too large" in r.err and "rc=0" not in r.out, r
        assert last_run(harness) is None
    else:
        assert "rc=0" in r.out, r
        assert "another user or group" not in r.err, r
        assert last_run(harness)["files"] == 1
    assert other.read_text() == "theirs\n"


def test_dry_run_names_the_backend(harness, project, backend):
    before = sorted(p.name for p in project.iterdir())
    r = harness.call(["run", "--dry-run", "--review", "--", "true"])
    assert r.rc == 0, r
    line = next(l for l in r.out.splitlines() if l.startswith("workspace: review"))
    assert ("snapshot copy" in line) == (backend == "snapshot"), line
    assert ("on an overlay" in line) == (backend == "overlay"), line
    assert sorted(p.name for p in project.iterdir()) == before  # nothing copied
    assert last_run(harness) is None
