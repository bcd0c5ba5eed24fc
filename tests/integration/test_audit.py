"""The audit trail of `harness run`, decided from the host: the store is
read back with `harness audit` and with sqlite3/json directly, and the
sandboxed program's own claims count for nothing."""

import json
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import wait_until


def records(harness, *spec):
    args = ["audit", "export", "--format", "jsonl"]
    for s in spec:
        args += ["--audit", s]
    r = harness.call(args)
    assert r.rc == 0, r
    return [json.loads(l) for l in r.out.splitlines() if l.strip()]


def of_run(recs, run_id):
    return [x for x in recs if x["run_id"] == run_id]


def run_id_of(r):
    for line in r.err.splitlines():
        if line.startswith("harness: audit: run "):
            return line.split()[3].rstrip(":")
    raise AssertionError(f"no audit summary line:\n{r!r}")


def test_default_store_records_start_execs_exit(harness, state_dir):
    r = harness.run("ls / | wc -l; echo hi | tr h H")
    assert r.rc == 0, r
    store = state_dir / "harness" / "audit.db"
    assert store.exists()
    recs = of_run(records(harness), run_id_of(r))
    kinds = [x["action_type"] for x in recs if x["action_type"] != "audit.init"]
    assert kinds[0] == "run.start" and kinds[-1] == "run.exit", kinds
    execs = [x for x in recs if x["action_type"] == "exec"]
    # sh, ls, wc, tr: each exactly once, with its argv
    assert sorted(os.path.basename(x["target"]) for x in execs) == ["ls", "sh", "tr", "wc"], execs
    argvs = [x["metadata"]["argv"] for x in execs]
    assert ["tr", "h", "H"] in argvs and ["ls", "/"] in argvs, argvs
    # the same rows, straight from SQLite
    con = sqlite3.connect(store)
    n = con.execute("select count(*) from agent_actions where run_id=? and action_type='exec'",
                    (run_id_of(r),)).fetchone()[0]
    con.close()
    assert n == 4
    assert harness.call(["audit", "verify"]).rc == 0


def test_exit_record_has_status_and_limit(harness):
    r = harness.run("sleep 30", "--timeout", "300ms")
    assert r.rc == 124, r
    recs = of_run(records(harness), run_id_of(r))
    lim = [x for x in recs if x["action_type"] == "limit"]
    assert lim and lim[0]["target"] == "timeout" and lim[0]["outcome"] == "blocked", recs
    ex = recs[-1]
    assert ex["action_type"] == "run.exit" and ex["metadata"]["exit_code"] == 124, ex


def test_store_inside_the_project_is_hidden_from_the_sandbox(harness, project):
    spec = f"jsonl:{project}/audit.jsonl"
    harness.run("true", "--audit", spec)  # the store exists from now on
    before = (project / "audit.jsonl").read_bytes()
    r = harness.run("cat audit.jsonl; echo '{\"seq\":99}' >> audit.jsonl; rm -f audit.jsonl; "
                    "mv audit.jsonl x; true", "--audit", spec)
    assert r.rc == 0, r
    after = (project / "audit.jsonl").read_bytes()
    assert after.startswith(before), "the sandbox changed earlier records"
    assert b'"seq":99' not in after
    assert '"run.start"' not in r.out, "the sandbox read the store"
    assert harness.call(["audit", "verify", "--audit", spec]).rc == 0


def test_unwritable_store_fails_closed(harness, project, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    if os.access(ro, os.W_OK):
        pytest.skip("root ignores directory permissions; /dev/full case below covers it")
    r = harness.run("touch ran", "--audit", f"jsonl:{ro}/audit.jsonl")
    assert r.rc == 125, r
    assert not (project / "ran").exists(), "the command ran without its record"
    assert "--no-audit" in r.err


def test_full_disk_fails_closed(harness, project):
    r = harness.run("touch ran", "--audit", "jsonl:/dev/full")
    assert r.rc == 125, r
    assert not (project / "ran").exists(), "the command ran without its record"


def test_store_removed_mid_run_refuses_further_execs(harness, project, tmp_path):
    store = tmp_path / "gone.jsonl"
    p = subprocess.Popen([harness.bin, "run", "--audit", f"jsonl:{store}", "--", "sh", "-c",
                          "sleep 1; /usr/bin/touch after"], cwd=project, env=harness.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert wait_until(lambda: store.exists() and store.stat().st_size > 0, 5)
    time.sleep(0.3)
    store.unlink()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 125, err
    assert not (project / "after").exists(), "an exec proceeded without its record"


def test_tampering_is_detected(harness, project, tmp_path):
    store = tmp_path / "t.jsonl"
    spec = f"jsonl:{store}"
    for _ in range(3):
        assert harness.run("true", "--audit", spec).rc == 0
    assert harness.call(["audit", "verify", "--audit", spec]).rc == 0
    lines = store.read_text().splitlines()
    edited = lines[:]
    edited[3] = edited[3].replace('"allowed"', '"blocked"')
    store.write_text("\n".join(edited) + "\n")
    r = harness.call(["audit", "verify", "--audit", spec])
    assert r.rc == 1 and "seq 4" in (r.out + r.err), r
    store.write_text("\n".join(lines[:3] + lines[4:]) + "\n")  # a record deleted
    r = harness.call(["audit", "verify", "--audit", spec])
    assert r.rc == 1, r


def test_sigterm_to_harness_still_writes_the_exit_record(harness, project, tmp_path):
    store = tmp_path / "s.jsonl"
    p = subprocess.Popen([harness.bin, "run", "--audit", f"jsonl:{store}", "--", "sleep", "30"],
                         cwd=project, env=harness.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    assert wait_until(lambda: store.exists() and b'"exec"' in store.read_bytes(), 5)
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=30)
    kinds = [json.loads(l)["action_type"] for l in store.read_text().splitlines()]
    assert kinds[-1] == "run.exit", kinds
    assert harness.call(["audit", "verify", "--audit", f"jsonl:{store}"]).rc == 0


def test_concurrent_runs_into_one_sqlite_store(harness, project, tmp_path):
    spec = f"sqlite:{tmp_path}/shared.db"
    procs = [subprocess.Popen([harness.bin, "run", "--audit", spec, "--", "sh", "-c",
                               "for i in 1 2 3 4 5 6 7 8 9 10; do /usr/bin/true; done"],
                              cwd=project, env=harness.env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for _ in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    recs = records(harness, spec)
    assert [x["seq"] for x in recs] == list(range(1, len(recs) + 1))
    assert sum(1 for x in recs if x["action_type"] == "exec") == 4 * 11
    assert harness.call(["audit", "verify", "--audit", spec]).rc == 0


def test_no_audit_keeps_no_record(harness, state_dir):
    assert harness.run("true", "--no-audit").rc == 0
    assert not (state_dir / "harness" / "audit.db").exists()
