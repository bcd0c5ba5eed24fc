"""Approvals of `ask` commands: an approver command, harness's own terminal,
timeouts, the bound on waiting requests. Decided from the host: a file the
approved (or refused) command would create, the approver's own record of
what it was asked, the audit store."""

import json
import os
import pty
import select
import signal
import subprocess
import time

import pytest

from conftest import SCALE

MARK = "touch approved-marker"


def ask_policy(tmp_path, extra=None):
    """A policy whose one ask rule matches `touch approved-marker`."""
    pol = tmp_path / "ask.json"
    doc = {"commands": {"ask": [{"match": ["touch", "approved-marker"],
                                 "reason": "the marker needs a human"}]}}
    doc.update(extra or {})
    pol.write_text(json.dumps(doc))
    return pol


def approver(tmp_path, body, name="approver.sh"):
    """An approver script on the host; it saves what it was asked."""
    p = tmp_path / name
    p.write_text("#!/bin/sh\ncat > \"$0.request\"\n" + body + "\n")
    p.chmod(0o755)
    return p


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def records(harness):
    out = harness.call(["audit", "export", "--format", "jsonl"]).out
    return [json.loads(l) for l in out.splitlines()]


def run_marker(harness, pol, *opts, script=MARK + "; echo rc=$?", **kw):
    return harness.run(["sh", "-c", script], "--policy", str(pol), *opts, **kw)


def test_approver_allow_lets_the_command_run(harness, project, tmp_path):
    pol = ask_policy(tmp_path)
    ap = approver(tmp_path, "echo allow")
    r = run_marker(harness, pol, "--approver", str(ap))
    assert r.rc == 0, r
    assert (project / "approved-marker").exists(), r
    # The approver was asked about exactly this command, with its context.
    req = json.loads((tmp_path / "approver.sh.request").read_text())
    assert req["version"] == 1 and req["rule"]["reason"] == "the marker needs a human", req
    assert req["cwd"] == str(project), req
    assert req["command"].startswith("sh -c") or "approved-marker" in req["command"], req
    recs = records(harness)
    flagged = [x for x in recs if x["action_type"] == "exec" and x["outcome"] == "flagged"]
    assert flagged and flagged[0]["metadata"]["approval"] == "pending", recs
    ap_recs = [x for x in recs if x["action_type"] == "approval"]
    assert ap_recs and all(x["outcome"] == "approved" for x in ap_recs), ap_recs
    assert ap_recs[0]["approved_by"] == "approver", ap_recs
    assert "approved 1" in r.err or "approved 2" in r.err, r.err
    assert harness.call(["audit", "verify"]).rc == 0


def test_approver_deny_refuses_with_eperm_and_a_reason(harness, project, tmp_path):
    pol = ask_policy(tmp_path)
    ap = approver(tmp_path, "echo deny")
    r = harness.run(["python3", "-c",
                     "import subprocess\n"
                     "try:\n"
                     "    subprocess.run(['touch', 'approved-marker'])\n"
                     "except PermissionError as e:\n"
                     "    print('refused', e.errno)\n"],
                    "--policy", str(pol), "--approver", str(ap))
    assert not (project / "approved-marker").exists(), r
    assert "refused 1" in r.out, r  # EPERM, and the agent carries on
    assert "not approved (approver: the approver said deny)" in r.err, r
    ap_recs = [x for x in records(harness) if x["action_type"] == "approval"]
    assert [x["outcome"] for x in ap_recs] == ["denied"], ap_recs


def test_approver_json_answer_names_who_decided(harness, project, tmp_path):
    pol = ask_policy(tmp_path)
    ap = approver(tmp_path, "echo '{\"decision\": \"allow\", \"by\": \"alice\", "
                  "\"reason\": \"ticket 42\"}'")
    r = run_marker(harness, pol, "--approver", str(ap))
    assert (project / "approved-marker").exists(), r
    ap_recs = [x for x in records(harness) if x["action_type"] == "approval"]
    assert ap_recs[-1]["approved_by"] == "approver:alice", ap_recs
    assert ap_recs[-1]["metadata"]["why"] == "ticket 42", ap_recs


@pytest.mark.parametrize("body,why", [
    ("echo allow; exit 3", "failed (exit status 3)"),
    # The script is run by `sh -c`, which reports its death as status 137.
    ("kill -9 $$", ("killed by signal 9", "exit status 137")),
    ("echo 'allow please'", "not understood"),
    ("echo '{\"decision\": \"yes\"}'", "not understood"),
    ("echo '{\"decision\": \"allow\", \"decision\": \"allow\"}'", "not understood"),
    ("true", "printed nothing"),
    ("head -c 100000 /dev/zero | tr '\\0' a", "too long"),
])
def test_a_broken_approver_means_deny(harness, project, tmp_path, body, why):
    pol = ask_policy(tmp_path)
    ap = approver(tmp_path, body)
    r = run_marker(harness, pol, "--approver", str(ap))
    assert not (project / "approved-marker").exists(), r
    assert any(w in r.err for w in ((why,) if isinstance(why, str) else why)), r
    ap_recs = [x for x in records(harness) if x["action_type"] == "approval"]
    assert ap_recs and ap_recs[-1]["outcome"] == "denied", ap_recs


def test_a_hanging_approver_times_out_and_is_killed(harness, project, tmp_path):
    pol = ask_policy(tmp_path)
    pidfile = tmp_path / "approver.pid"
    ap = approver(tmp_path, f"echo $$ > {pidfile}; sleep 300 & wait; echo allow")
    t0 = time.monotonic()
    r = run_marker(harness, pol, "--approver", str(ap), "--approval-timeout", "1s")
    took = time.monotonic() - t0
    assert not (project / "approved-marker").exists(), r
    assert "denied by timeout" in r.err, r
    assert took < 10 * SCALE, took
    # The approver (the script's shell, a child of `sh -c`) was killed, not
    # left behind: gone, or a zombie waiting for its new parent to reap it.
    pid = int(pidfile.read_text())
    assert not alive(pid), pid


def test_no_terminal_and_no_approver_denies_at_once(harness, project, tmp_path):
    pol = ask_policy(tmp_path)
    t0 = time.monotonic()
    r = run_marker(harness, pol, preexec_fn=os.setsid)  # no controlling terminal
    assert time.monotonic() - t0 < 10 * SCALE
    assert not (project / "approved-marker").exists(), r
    assert "nobody to ask" in r.err and "--approver" in r.err, r
    denied = [x for x in records(harness) if x["outcome"] == "denied"]
    assert denied and denied[0]["action_type"] == "exec", denied


def test_pending_approvals_are_bounded(harness, project, tmp_path):
    """Three asks at once, room for one: the others are denied, never
    silently allowed; the one that waited is approved."""
    pol = ask_policy(tmp_path, {"commands": {"ask": [
        {"match": ["touch", "approved-marker*"], "reason": "needs a human"}]}})
    ap = approver(tmp_path, "sleep 1; echo allow")
    # Started from python, not `sh -c '...'`: the shell's own exec would
    # be asked about (the rules look inside sh -c).
    # Forked by hand: subprocess.Popen would wait for each exec in turn.
    code = ("import os\n"
            "kids = []\n"
            "for i in range(3):\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        try:\n"
            "            os.execv('/usr/bin/touch', ['touch', f'approved-marker{i}'])\n"
            "        finally:\n"
            "            os._exit(1)\n"
            "    kids.append(pid)\n"
            "[os.waitpid(k, 0) for k in kids]\n")
    r = harness.run(["python3", "-c", code], "--policy", str(pol), "--approver", str(ap),
                    "--max-pending-approvals", "1")
    made = sorted(p.name for p in project.glob("approved-marker*"))
    assert len(made) == 1, (made, r)
    assert r.err.count("approvals are already waiting") == 2, r.err
    outs = [x["outcome"] for x in records(harness) if x["action_type"] == "approval"]
    assert sorted(outs) == ["approved", "denied", "denied"], outs


def test_other_execs_and_the_wall_clock_go_on_while_one_waits(harness, project, tmp_path):
    pol = ask_policy(tmp_path)
    ap = approver(tmp_path, "sleep 300")
    t0 = time.monotonic()
    code = ("import os, subprocess, time\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    try:\n"
            "        os.execv('/usr/bin/touch', ['touch', 'approved-marker'])\n"
            "    finally:\n"
            "        os._exit(1)\n"
            "time.sleep(0.3)\n"
            "subprocess.run(['touch', 'other'])\n"
            "os.waitpid(pid, 0)\n")
    r = harness.run(["python3", "-c", code], "--policy", str(pol), "--approver", str(ap),
                    "--timeout", "2s")
    took = time.monotonic() - t0
    assert r.rc == 124, r  # the wall-clock limit still held
    assert took < 15 * SCALE, took
    assert (project / "other").exists(), r  # an unrelated exec was not held up
    assert not (project / "approved-marker").exists(), r
    ap_recs = [x for x in records(harness) if x["action_type"] == "approval"]
    assert ap_recs and ap_recs[-1]["outcome"] == "denied", ap_recs
    assert ap_recs[-1]["approved_by"] == "run-ended", ap_recs


def test_bad_approval_flags_are_refused(harness):
    for args, msg in ((["--approval-timeout", "0"], "--approval-timeout"),
                      (["--approval-timeout", "soon"], "--approval-timeout"),
                      (["--max-pending-approvals", "0"], "--max-pending-approvals"),
                      (["--approver", ""], "--approver")):
        r = harness.run(["true"], *args)
        assert r.rc == 125 and msg in r.err, r


# ------------------------------------------------------------- terminal ----


def on_a_terminal(harness, args, answer, wait_prompt=True, typeahead=None, timeout=20):
    """Runs `harness ARGS` with a pseudo-terminal as its controlling terminal;
    types ANSWER once the question is on screen. Returns (status, screen)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(str(harness.project))
        os.execve(harness.bin, [harness.bin, *map(str, args)], harness.env)
    screen = b""
    sent = False
    if typeahead:
        os.write(fd, typeahead)
    deadline = time.monotonic() + timeout * SCALE
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                d = os.read(fd, 4096)
            except OSError:
                break
            if not d:
                break
            screen += d
        if not sent and answer is not None and b"[y/N]" in screen:
            os.write(fd, answer)
            sent = True
    else:
        os.kill(pid, signal.SIGKILL)
    _, st = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(st), screen.decode(errors="replace")


def test_terminal_yes_allows(harness, project, tmp_path):
    pol = ask_policy(tmp_path)
    st, screen = on_a_terminal(harness, ["run", "--policy", pol, "--", "touch",
                                         "approved-marker"], b"yes\n")
    assert st == 0, screen
    assert (project / "approved-marker").exists(), screen
    assert "approval needed" in screen and "the marker needs a human" in screen, screen
    ap_recs = [x for x in records(harness) if x["action_type"] == "approval"]
    assert ap_recs[-1]["outcome"] == "approved", ap_recs
    assert ap_recs[-1]["approved_by"].startswith("tty:"), ap_recs


def test_terminal_anything_else_denies(harness, project, tmp_path):
    pol = ask_policy(tmp_path)
    st, screen = on_a_terminal(harness, ["run", "--policy", pol, "--", "touch",
                                         "approved-marker"], b"sure\n")
    assert st == 126, screen
    assert not (project / "approved-marker").exists(), screen


def test_terminal_typeahead_cannot_approve(harness, project, tmp_path):
    """A 'yes' typed before the question (or by something racing it) is
    discarded; nobody answers, so the request times out."""
    pol = ask_policy(tmp_path)
    st, screen = on_a_terminal(harness, ["run", "--policy", pol, "--approval-timeout", "2s",
                                         "--", "sh", "-c", "sleep 0.5; touch approved-marker"],
                               None, typeahead=b"yes\n")
    assert not (project / "approved-marker").exists(), screen
    assert "no answer in time" in screen, screen


def test_terminal_question_shows_no_escape_sequences(harness, project, tmp_path):
    """A command line full of terminal escapes cannot redraw the question."""
    pol = ask_policy(tmp_path, {"commands": {"ask": [
        {"match": ["touch", "approved-marker*"], "reason": "needs a human"}]}})
    evil = "approved-marker\x1b[2J\x1b[1;1Hls\x07"
    st, screen = on_a_terminal(harness, ["run", "--policy", pol, "--", "touch", evil], b"n\n")
    q = screen[screen.index("approval needed"):]
    assert "\x1b[2J" not in q and "\x07" not in q, repr(q)
    assert not list(project.glob("approved-marker*")), screen
