"""The environment: an allowlist passes, secrets never do unless named with
--env, and harness's own argv/environ cannot be read back from /proc/1."""

import secrets

from conftest import assert_no_token, find_token

SECRET_NAMES = ["GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN",
                "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "MY_SECRET", "FOO_API_KEY", "NPM_TOKEN",
                "DB_PASSWORD", "GH_TOKEN", "SSH_AUTH_SOCK"]

DUMP = ("env; echo ---; cat /proc/self/environ; echo; cat /proc/1/environ; echo; "
        "cat /proc/1/cmdline; echo; for p in /proc/[0-9]*; do cat $p/environ $p/cmdline; done; "
        "env > env.txt; true")


def secret_env():
    return {n: f"{n}-{secrets.token_hex(12)}" for n in SECRET_NAMES}


def parse_env(text):
    out = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def test_host_secrets_do_not_pass(harness, project):
    env = secret_env()
    r = harness.sh(DUMP, extra_env=env)
    assert r.rc == 0, r
    for name, value in env.items():
        hits = find_token(value, r, paths=[project])
        assert not hits, f"{name} leaked into the sandbox: {hits}"


def test_arbitrary_variables_do_not_pass_allowlist(harness, project):
    extra = {"HARNESS_IT_RANDOM": "x1", "LD_PRELOAD": "/nonexistent-harness-it.so",
             "LD_LIBRARY_PATH": "/tmp/evil", "PYTHONPATH": "/tmp/evil", "BASH_ENV": "/tmp/evil",
             "PROMPT_COMMAND": "evil", "GIT_SSH_COMMAND": "evil", "NODE_OPTIONS": "--require /tmp/evil"}
    r = harness.sh("env > env.txt", extra_env=extra)
    assert r.rc == 0, r
    inside = parse_env((project / "env.txt").read_text())
    passed = sorted(set(extra) & set(inside))
    assert not passed, f"not on the allowlist but passed: {passed}"


def test_allowlisted_variables_and_harness_ones(harness, project, home):
    r = harness.sh("env > env.txt", extra_env={"LANG": "C.UTF-8", "TZ": "UTC", "TERM": "xterm-it"})
    assert r.rc == 0, r
    inside = parse_env((project / "env.txt").read_text())
    assert inside.get("HARNESS_SANDBOX") == "1"
    assert inside.get("TMPDIR") == "/tmp"
    assert inside.get("HOME") == str(home)
    assert inside.get("PATH"), "PATH missing"
    assert inside.get("LANG") == "C.UTF-8"
    assert inside.get("TZ") == "UTC"
    assert inside.get("TERM") == "xterm-it"


def test_env_name_passes_a_named_secret(harness, project):
    env = secret_env()
    r = harness.sh("env > env.txt", "--env", "MY_SECRET", "-e", "GITHUB_TOKEN", extra_env=env)
    assert r.rc == 0, r
    inside = parse_env((project / "env.txt").read_text())
    assert inside.get("MY_SECRET") == env["MY_SECRET"]
    assert inside.get("GITHUB_TOKEN") == env["GITHUB_TOKEN"]
    for other in set(SECRET_NAMES) - {"MY_SECRET", "GITHUB_TOKEN"}:
        assert other not in inside, f"{other} passed without being named"


def test_env_name_value_sets(harness, project):
    r = harness.sh("env > env.txt", "--env", "X=1", "-e", "EMPTY=", "-e", "WITH_EQ=a=b")
    assert r.rc == 0, r
    inside = parse_env((project / "env.txt").read_text())
    assert inside.get("X") == "1"
    assert inside.get("EMPTY") == ""
    assert inside.get("WITH_EQ") == "a=b"


def test_secret_given_on_harness_command_line_is_not_in_proc_1(harness, project, token):
    """--env FOO=TOKEN reaches the command's environment, but harness's own
    argv (and so pid 1's, a fork of it) must not show it."""
    r = harness.sh("cat /proc/1/cmdline > pid1-cmdline.bin; cat /proc/1/environ > pid1-environ.bin; "
                   "tr '\\0' ' ' < /proc/1/cmdline; ps -eo pid,args 2>/dev/null; "
                   "printf %s \"$FOO\" > foo.txt; true",
                   "--env", f"FOO={token}")
    assert (project / "foo.txt").read_text() == token, r  # the command does get it
    for f in ("pid1-cmdline.bin", "pid1-environ.bin"):
        assert token.encode() not in (project / f).read_bytes(), f"/proc/1 {f} shows the secret"
    assert token not in r.out, f"the secret is visible in pid 1's command line\n{r!r}"


def test_harness_env_secret_not_in_any_proc_file(harness, project, token):
    r = harness.sh("for p in /proc/[0-9]* /proc/self; do cat $p/environ $p/cmdline; done > procs.bin; "
                   "cat /proc/1/environ /proc/1/cmdline; true",
                   extra_env={"ANTHROPIC_API_KEY": token, "HARNESS_IT_SOMETHING": token + "x"})
    assert (project / "procs.bin").exists(), r
    assert_no_token(token, r, paths=[project])


def test_bad_env_name_is_rejected(harness):
    r = harness.call(["run", "--env", "=x", "--", "true"])
    assert r.rc == 125, r
    r = harness.call(["run", "--env", "A B=x", "--", "true"])
    assert r.rc == 125, r
