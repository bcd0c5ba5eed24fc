"""The command line: exit codes for bad input (125), not executable (126),
not found (127); policy files and their FILE:LINE:COL errors; policy show,
dry run, help, version, check."""

import json
import re

import pytest


def lines(text):
    return [ln for ln in text.splitlines() if ln.strip()]


# ------------------------------------------------------------- bad input ---


def test_unknown_flag(harness):
    r = harness.call(["run", "--bogus-flag-harness-it", "--", "true"])
    assert r.rc == 125, r
    assert len(lines(r.err)) == 1, f"expected one line on stderr: {r.err!r}"
    assert "--bogus-flag-harness-it" in r.err


def test_unknown_short_flag(harness):
    r = harness.call(["run", "-Z", "--", "true"])
    assert r.rc == 125, r
    assert len(lines(r.err)) == 1 and "-Z" in r.err, r


@pytest.mark.parametrize("flag", ["--timeout", "--env", "--max-cpu", "--protect"])
def test_flag_missing_its_value(harness, flag):
    r = harness.call(["run", flag])
    assert r.rc == 125, r
    assert len(lines(r.err)) == 1, f"expected one line on stderr: {r.err!r}"
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", r.err), \
        f"control characters in the message: {r.err!r}"
    assert flag in r.err, f"the message does not name {flag}: {r.err!r}"


def test_unknown_subcommand(harness):
    r = harness.call(["frobnicate-harness-it"])
    assert r.rc == 125, r
    assert "frobnicate-harness-it" in r.err


@pytest.mark.parametrize("flag", ["--allow-dir", "-w", "--allow-read", "-r"])
def test_missing_granted_path(harness, flag):
    path = "/nonexistent-harness-it/sub"
    r = harness.call(["run", flag, path, "--", "true"])
    assert r.rc == 125, r
    assert path in r.err, f"the message does not name the path: {r.err!r}"


def test_no_command(harness):
    for args in (["run"], ["run", "--"], ["run", "-t", "5s"]):
        r = harness.call(args)
        assert r.rc == 125, r


def test_bad_timeout_value(harness):
    r = harness.call(["run", "--timeout", "abc", "--", "true"])
    assert r.rc == 125, r
    assert "abc" in r.err


def test_bad_level(harness):
    r = harness.call(["run", "-l", "9", "--", "true"])
    assert r.rc == 125, r


def test_unknown_preset(harness):
    r = harness.call(["run", "-p", "no-such-preset-harness-it", "--", "true"])
    assert r.rc == 125, r
    assert "no-such-preset-harness-it" in r.err


# ------------------------------------------------------ 126 / 127 / args ---


def test_command_not_found(harness):
    r = harness.run(["no-such-command-harness-it", "arg"])
    assert r.rc == 127, r
    assert "no-such-command-harness-it" in r.err


def test_command_not_found_by_path(harness):
    r = harness.run(["./missing-harness-it"])
    assert r.rc == 127, r
    assert "missing-harness-it" in r.err


def test_command_not_executable(harness, project):
    (project / "script.sh").write_text("#!/bin/sh\necho hi\n")
    (project / "script.sh").chmod(0o644)
    r = harness.run(["./script.sh"])
    assert r.rc == 126, r
    assert "script.sh" in r.err


def test_directory_as_command(harness, project):
    (project / "adir").mkdir()
    r = harness.run(["./adir"])
    assert r.rc == 126, r


def test_arguments_after_the_command_belong_to_it(harness):
    r = harness.call(["run", "--", "echo", "--help", "-t", "5"])
    assert r.rc == 0 and r.out == "--help -t 5\n", r
    r = harness.call(["run", "echo", "-n", "--version"])
    assert r.rc == 0 and r.out == "--version", r


def test_arguments_are_passed_verbatim(harness):
    args = ["with space", "", "new\nline", "$HOME", "*", "'quote\"", "ünï"]
    r = harness.run(["python3", "-c", "import sys, json; print(json.dumps(sys.argv[1:]))", *args])
    assert r.rc == 0, r
    assert json.loads(r.out) == args


# --------------------------------------------------------------- policies --


def write_policy(path, text):
    path.write_text(text)
    return path


def test_policy_check_valid_file(harness, tmp_path):
    p = write_policy(tmp_path / "ok.json", '{"extends": "restrict", "limits": {"timeout": "10m"}}\n')
    r = harness.call(["policy", "check", str(p)])
    assert r.rc == 0, r


def test_policy_check_unknown_key_reports_file_line_col(harness, tmp_path):
    p = write_policy(tmp_path / "bad.json",
                     '{\n  "extends": "restrict",\n  "filesystem": {\n    "bogus_key": 1\n  }\n}\n')
    r = harness.call(["policy", "check", str(p)])
    assert r.rc == 125, r
    assert re.search(re.escape(str(p)) + r":4:\d+", r.err), f"no {p}:4:COL in {r.err!r}"
    assert "bogus_key" in r.err


def test_policy_check_syntax_error_reports_file_line_col(harness, tmp_path):
    p = write_policy(tmp_path / "syntax.json", '{\n  "extends": "restrict",\n  "limits": {,}\n}\n')
    r = harness.call(["policy", "check", str(p)])
    assert r.rc == 125, r
    assert re.search(re.escape(str(p)) + r":3:\d+", r.err), r


def test_policy_check_several_files(harness, tmp_path):
    good = write_policy(tmp_path / "good.json", '{"extends": "restrict"}')
    bad = write_policy(tmp_path / "bad.json", '{"nope": 1}')
    r = harness.call(["policy", "check", str(good), str(bad)])
    assert r.rc == 125, r
    assert str(bad) in r.err


def test_policy_network_allow_is_checked(harness, tmp_path):
    p = write_policy(tmp_path / "net.json", '{"extends": "restrict", "network": {"allow": ["example.com"]}}')
    r = harness.call(["policy", "check", str(p)])
    assert r.rc == 0, r
    p = write_policy(tmp_path / "bad.json",
                     '{"extends": "restrict",\n "network": {"allow": ["github.com", "*.com"]}}')
    r = harness.call(["policy", "check", str(p)])
    assert r.rc == 125 and re.search(re.escape(str(p)) + r":2:\d+", r.err), r
    assert "network.allow[1]" in r.err and "top-level domain" in r.err, r
    r = harness.call(["run", "--policy", str(p), "--", "true"])
    assert r.rc == 125, r


def test_run_with_policy_file_unknown_key(harness, tmp_path):
    p = write_policy(tmp_path / "bad.json", '{\n  "extends": "restrict",\n  "limitz": {}\n}\n')
    r = harness.call(["run", "--policy", str(p), "--", "true"])
    assert r.rc == 125, r
    assert re.search(re.escape(str(p)) + r":3:\d+", r.err), r


def test_run_with_policy_file_grants(harness, tmp_path, sibling, project):
    p = write_policy(tmp_path / "grant.json", json.dumps({
        "extends": "restrict",
        "filesystem": {"write": [str(sibling)]},
        "env": {"set": {"FROM_POLICY": "yes"}},
        "limits": {"timeout": "30s"}}))
    r = harness.sh(f'echo granted > {sibling}/by-policy.txt; printf %s "$FROM_POLICY" > env.txt',
                   "--policy", str(p))
    assert r.rc == 0, r
    assert (sibling / "by-policy.txt").read_text() == "granted\n"
    assert (project / "env.txt").read_text() == "yes"


def test_run_with_policy_file_limits(harness, tmp_path):
    p = write_policy(tmp_path / "t.json", '{"extends": "restrict", "limits": {"timeout": "500ms"}}')
    r = harness.sh("sleep 5", "--policy", str(p), timeout=30)
    assert r.rc == 124, r


def test_run_with_missing_policy_file(harness, tmp_path):
    path = tmp_path / "absent.json"
    r = harness.call(["run", "--policy", str(path), "--", "true"])
    assert r.rc == 125, r
    assert str(path) in r.err


def test_policy_show_prints_json(harness, project):
    r = harness.call(["policy", "show"])
    assert r.rc == 0, r
    doc = json.loads(r.out)
    assert isinstance(doc, dict) and "filesystem" in doc, doc


def test_policy_show_reflects_run_options(harness, sibling):
    r = harness.call(["policy", "show", "-w", str(sibling), "--max-procs", "77", "--timeout", "2m"])
    assert r.rc == 0, r
    doc = json.loads(r.out)
    assert str(sibling) in json.dumps(doc["filesystem"]), doc["filesystem"]
    assert doc["limits"]["processes"] == 77


@pytest.mark.parametrize("preset", ["restrict", "analyze", "scratch", "review", "full"])
def test_presets_show(harness, preset):
    r = harness.call(["policy", "show", "-p", preset])
    assert r.rc == 0, r
    json.loads(r.out)


@pytest.mark.parametrize("level", ["0", "1", "2", "3"])
def test_levels_show(harness, level):
    r = harness.call(["policy", "show", "-l", level])
    assert r.rc == 0, r
    json.loads(r.out)


# ----------------------------------------------------------- dry run etc ---


def test_dry_run_starts_nothing(harness, project):
    r = harness.call(["run", "--dry-run", "--", "sh", "-c", "echo x > created-by-dry-run"])
    assert r.rc == 0, r
    assert r.out.strip(), "dry run printed nothing"
    assert not (project / "created-by-dry-run").exists()
    r = harness.call(["run", "-n", "--", "touch", "created-by-n"])
    assert r.rc == 0, r
    assert not (project / "created-by-n").exists()


@pytest.mark.parametrize("args,says", [
    (["run", "--dry-run", "--level", "1", "--", "true"], "workspace (overlay)"),
    (["policy", "show", "--level", "2"], '"mode": "review"'),
    (["run", "--dry-run", "--level", "2", "--direct", "--", "true"], "read-write"),
])
def test_inspecting_creates_nothing_on_the_host(harness, project, args, says):
    """A dry run and `policy show` leave the project as it was (no
    placeholders, no staged run), and say the level's workspace mode:
    levels 1 and 2 are in review mode unless --direct says otherwise."""
    before = sorted(p.name for p in project.iterdir())
    r = harness.call(args)
    assert r.rc == 0, r
    assert sorted(p.name for p in project.iterdir()) == before
    assert says in r.out
    if "--direct" in args:
        assert "overlay" not in r.out


def test_help_and_version(harness):
    for args in (["--help"], ["help"], ["run", "--help"], ["run", "-h"]):
        r = harness.call(args)
        assert r.rc == 0, r
        assert "Usage" in r.out or "usage" in r.out, r
    r = harness.call(["--version"])
    assert r.rc == 0, r
    assert re.search(r"\d+\.\d+", r.out), r


def test_check(harness):
    r = harness.call(["check"])
    assert r.rc == 0, r
    assert r.out.strip() or r.err.strip(), "harness check printed nothing"


def test_check_json(harness):
    r = harness.call(["check", "--json"])
    assert r.rc == 0, r
    doc = json.loads(r.out)
    assert isinstance(doc, dict) and doc, doc


def test_verbose_says_which_layers_are_up(harness):
    r = harness.call(["run", "-v", "--", "true"])
    assert r.rc == 0, r
    assert r.err.strip(), "-v printed nothing"


def test_best_effort_with_every_layer_available(harness, project):
    r = harness.call(["run", "--best-effort", "--", "sh", "-c", "echo ok > be.txt"])
    assert r.rc == 0, r
    assert (project / "be.txt").read_text() == "ok\n"
