"""Agent profiles (`harness run --agent NAME`) without the real clients
(test_agents.py drives those): what a profile grants and refuses, decided
from the host: a listener that saw or did not see a request, the caller's
config files byte-identical, a token that appears nowhere the sandbox
wrote, the state dir's content on the host."""

import hashlib
import http.server
import os
import threading

import pytest

from conftest import CLEAN_PATH, HOST_PY


@pytest.fixture
def model():
    """A stand-in model API on the host's loopback, recording requests."""
    seen = []

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            seen.append((self.path, self.rfile.read(n)))
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    srv.seen = seen
    srv.port = srv.server_address[1]
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def user_claude(home, token):
    """The caller's own Claude Code config: settings with a hook, a
    command, and a credentials file that must never be seen inside."""
    d = home / ".claude"
    (d / "commands").mkdir(parents=True)
    (d / "settings.json").write_text('{"hooks": {"Stop": []}, "model": "user-choice"}\n')
    (d / "commands" / "review.md").write_text("review the diff\n")
    (d / ".credentials.json").write_text(f'{{"token": "{token}"}}\n')
    return d


def digest(path):
    out = {}
    for dirpath, _, files in os.walk(path):
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, path)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def agent_state(state_dir, name):
    base = state_dir / "harness" / "agents" / name
    dirs = list(base.iterdir()) if base.exists() else []
    assert len(dirs) <= 1, dirs
    return dirs[0] if dirs else None


POST = (f"{HOST_PY} -c \"import urllib.request,sys; "
        "r=urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=b'hi'), timeout=10); "
        "print(r.status)\"")


def test_the_base_url_host_is_reachable_and_no_other(harness, model, tcp_listener):
    """ANTHROPIC_BASE_URL's host is allowed through the proxy; another
    loopback port is not."""
    env = {"ANTHROPIC_BASE_URL": f"http://127.0.0.1:{model.port}"}
    other = f"http://127.0.0.1:{tcp_listener.address[1]}/exfil"
    r = harness.run(f"{POST} $ANTHROPIC_BASE_URL/v1/messages; {POST} {other}",
                    "--agent", "claude", extra_env=env, timeout=60)
    assert "200" in r.out, r
    assert [p for p, _ in model.seen] == ["/v1/messages"], model.seen
    assert tcp_listener.seen() == [], "a host the profile does not allow saw a connection"
    assert "refused" in r.err and str(tcp_listener.address[1]) in r.err, r


def test_without_the_profile_the_model_is_unreachable(harness, model):
    env = {"ANTHROPIC_BASE_URL": f"http://127.0.0.1:{model.port}"}
    r = harness.run(f"{POST} http://127.0.0.1:{model.port}/v1/messages", extra_env=env,
                    timeout=60)
    assert r.rc != 0
    assert model.seen == []


def test_the_key_passes_only_when_named(harness, project, token):
    env = {"ANTHROPIC_API_KEY": token, "ANTHROPIC_MODEL": "m-1"}
    script = "env > env.txt; cat /proc/1/environ >> env.txt 2>/dev/null; true"
    r = harness.run(script, "--agent", "claude", extra_env=env)
    assert r.rc == 0, r
    seen = (project / "env.txt").read_text()
    assert token not in seen
    assert "ANTHROPIC_MODEL=m-1" in seen and "IS_SANDBOX=1" in seen
    assert "CLAUDE_CONFIG_DIR=" in seen
    assert "ANTHROPIC_API_KEY is set here but is not passed" in r.err, r
    r = harness.run(script, "--agent", "claude", "--env", "ANTHROPIC_API_KEY", extra_env=env)
    assert r.rc == 0, r
    assert f"ANTHROPIC_API_KEY={token}" in (project / "env.txt").read_text()
    assert "not passed" not in r.err


def test_settings_are_seeded_read_only_and_the_real_config_is_unseen(
        harness, project, state_dir, user_claude, token):
    """The agent cannot rewrite its settings or hooks (CVE-2026-25725) and
    cannot see or touch the caller's ~/.claude."""
    before = digest(user_claude)
    script = ("cat \"$CLAUDE_CONFIG_DIR/settings.json\" > seen.txt; "
              "cat \"$CLAUDE_CONFIG_DIR/commands/review.md\" >> seen.txt; "
              "cat ~/.claude/.credentials.json >> seen.txt 2>&1; "
              "cat \"$CLAUDE_CONFIG_DIR/.credentials.json\" >> seen.txt 2>&1; "
              "echo '{\"hooks\": {\"Stop\": [{\"command\": \"evil\"}]}}' > \"$CLAUDE_CONFIG_DIR/settings.json\"; "
              "echo evil > \"$CLAUDE_CONFIG_DIR/commands/evil.md\"; "
              "mkdir -p ~/.claude && echo evil > ~/.claude/settings.json; "
              "echo '{\"mine\": 1, \"mcpServers\": {\"planted\": {\"command\": \"evil\"}}}' "
              "> \"$CLAUDE_CONFIG_DIR/.claude.json\"; true")
    r = harness.run(script, "--agent", "claude")
    assert r.rc == 0, r
    seen = (project / "seen.txt").read_text()
    assert "user-choice" in seen and "review the diff" in seen  # seeded
    assert token not in seen
    assert digest(user_claude) == before
    st = agent_state(state_dir, "claude")
    assert "evil" not in (st / "settings.json").read_text()
    assert not (st / "commands" / "evil.md").exists()
    assert "planted" in (st / ".claude.json").read_text()  # its own state is writable
    # ... and persists into the next run, where the seeds are fresh again
    (user_claude / "settings.json").write_text('{"model": "changed"}\n')
    r = harness.run("cat \"$CLAUDE_CONFIG_DIR/.claude.json\" \"$CLAUDE_CONFIG_DIR/settings.json\"",
                    "--agent", "claude")
    # ... its own state kept, the MCP server it planted gone
    assert r.out == '{"mine":1}{"model": "changed"}\n', r


def test_reset_forgets_the_state(harness, project, state_dir):
    r = harness.run("echo kept > \"$CODEX_HOME/history.jsonl\"", "--agent", "codex")
    assert r.rc == 0, r
    st = agent_state(state_dir, "codex")
    assert (st / "history.jsonl").read_text() == "kept\n"
    r = harness.call(["agent", "list"])
    assert r.rc == 0 and str(st) in r.out, r
    r = harness.call(["agent", "reset", "codex"])
    assert r.rc == 0 and "removed" in r.out, r
    assert not st.exists()
    r = harness.call(["agent", "reset", "codex"])
    assert r.rc == 0 and "nothing to reset" in r.out, r


def test_state_is_per_project(harness, project, tmp_path, state_dir):
    other = tmp_path / "other-project"
    other.mkdir()
    harness.run("echo a > \"$XDG_DATA_HOME/f\"", "--agent", "generic")
    r = harness.run("cat \"$XDG_DATA_HOME/f\" 2>&1", "--agent", "generic", cwd=other)
    assert "No such file" in r.out, r
    assert len(list((state_dir / "harness" / "agents" / "generic").iterdir())) == 2


def test_review_mode_keeps_the_state_writable(harness, project, state_dir):
    """At level 1 the project is on a layer; the agent's own state is not
    project and stays writable (it never lands)."""
    r = harness.run("echo s > \"$CLAUDE_CONFIG_DIR/session\"; echo p > proj.txt",
                    "--agent", "claude", "--level", "1")
    assert r.rc == 0, r
    assert (agent_state(state_dir, "claude") / "session").read_text() == "s\n"
    assert not (project / "proj.txt").exists()


def test_the_install_dir_is_shown_read_only(harness, project, tmp_path):
    """An agent installed outside the system dirs (an npm prefix in /opt or
    HOME) runs; its directory is read-only; with no command the profile
    runs the agent itself."""
    prefix = tmp_path / "npm-prefix"
    (prefix / "lib" / "node_modules" / "fake-claude").mkdir(parents=True)
    (prefix / "bin").mkdir()
    cli = prefix / "lib" / "node_modules" / "fake-claude" / "cli.sh"
    cli.write_text("#!/bin/sh\necho fake-claude-ran \"$@\"\necho x > \"$0\" 2>/dev/null || echo ro\n")
    cli.chmod(0o755)
    os.symlink("../lib/node_modules/fake-claude/cli.sh", prefix / "bin" / "claude")
    for p in (tmp_path, prefix, prefix / "lib", prefix / "lib" / "node_modules", prefix / "bin",
              cli.parent):
        p.chmod(0o755)
    env = {"PATH": f"{prefix}/bin:{CLEAN_PATH}"}
    r = harness.call(["run", "--agent", "claude"], extra_env=env)
    assert r.rc == 0, r
    assert r.out == "fake-claude-ran\nro\n", r
    assert "fake-claude-ran" in cli.read_text()
    r = harness.call(["run", "--agent", "claude", "--", "claude", "-p", "hi"], extra_env=env)
    assert r.out.startswith("fake-claude-ran -p hi"), r


def test_a_missing_agent_names_its_install_command(harness):
    r = harness.call(["run", "--agent", "codex", "--", "codex", "exec", "hi"])
    assert r.rc == 125, r
    assert "Codex CLI is not installed" in r.err and "npm install -g @openai/codex" in r.err, r
    r = harness.call(["run", "--agent", "claude"])
    assert r.rc == 125 and "npm install -g @anthropic-ai/claude-code" in r.err, r
    r = harness.call(["run", "--agent", "generic"])
    assert r.rc == 125 and "no command of its own" in r.err, r


@pytest.mark.parametrize("args,says", [
    (["--agent", "claud"], 'did you mean "claude"'),
    (["--agent", "claude", "--read-only"], "--level 0"),
    (["--agent", "claude", "--no-network"], "--deny-host"),
    (["--agent", "claude", "--agent", "codex"], "one agent profile per run"),
])
def test_bad_input_is_explained(harness, project, args, says):
    before = sorted(p.name for p in project.iterdir())
    r = harness.call(["run", *args, "--", "true"])
    assert r.rc == 125, r
    assert says in r.err, r
    assert sorted(p.name for p in project.iterdir()) == before


def test_a_bad_base_url_is_named(harness):
    r = harness.call(["run", "--agent", "codex", "--", "true"],
                     extra_env={"OPENAI_BASE_URL": "https://user:secret@api.example/v1"})
    assert r.rc == 125, r
    assert "OPENAI_BASE_URL" in r.err and "user name or password" in r.err, r
    assert "secret@" in r.err  # the value is shown so that it can be fixed


def test_dry_run_says_what_the_agent_will_see(harness, project, state_dir, user_claude, model,
                                              token):
    env = {"ANTHROPIC_BASE_URL": f"http://127.0.0.1:{model.port}/", "ANTHROPIC_API_KEY": token}
    r = harness.call(["run", "--agent", "claude", "--dry-run"], extra_env=env)
    assert r.rc == 0, r
    out = r.out
    for want in ("api.anthropic.com:443 (agent: Claude Code's model API)",
                 f"127.0.0.1:{model.port} (agent: $ANTHROPIC_BASE_URL)",
                 "CLAUDE_CONFIG_DIR=", "settings.json: read-only inside, copied from your config",
                 "CLAUDE.md: read-only inside, empty (you have none)",
                 "ANTHROPIC_API_KEY is set here but NOT passed",
                 f"your own config dir {user_claude} is not visible inside",
                 "layers: namespaces", "binary: NOT FOUND"):
        assert want in out, (want, out)
    assert token not in out
    assert agent_state(state_dir, "claude") is None  # a dry run makes nothing
    r = harness.call(["run", "--agent", "claude", "--dry-run", "--env", "ANTHROPIC_API_KEY"],
                     extra_env=env)
    assert "ANTHROPIC_API_KEY IS passed (--env)" in r.out, r


def test_codex_config_base_url_is_allowed(harness, home, model):
    (home / ".codex").mkdir()
    (home / ".codex" / "config.toml").write_text(
        'model_provider = "local"\n[model_providers.local]\nname = "local"\n'
        f'base_url = "http://127.0.0.1:{model.port}/v1"\nwire_api = "responses"\n')
    r = harness.run(f"cat \"$CODEX_HOME/config.toml\" > /dev/null && {POST} "
                    f"http://127.0.0.1:{model.port}/v1/responses",
                    "--agent", "codex", timeout=60)
    assert "200" in r.out, r
    assert [p for p, _ in model.seen] == ["/v1/responses"]


def test_other_projects_state_is_hidden_even_when_granted(harness, project, tmp_path, state_dir,
                                                          token):
    """Every agent state dir but this run's own is hidden, even under a
    grant of the whole state tree and with a store elsewhere (so the
    default store's directory is not what hides them)."""
    other = tmp_path / "other-project"
    other.mkdir()
    r = harness.run(f"echo {token} > \"$XDG_DATA_HOME/secret\"", "--agent", "generic", cwd=other)
    assert r.rc == 0, r
    audit = tmp_path / "audit.jsonl"
    r = harness.run(f"grep -r {token} {state_dir} > found.txt 2>&1; "
                    "echo mine > \"$XDG_DATA_HOME/own\"; true",
                    "--agent", "generic", "-r", str(state_dir), "--audit", f"jsonl:{audit}")
    assert r.rc == 0, r
    assert token not in (project / "found.txt").read_text()
    assert (agent_state_for(state_dir, "generic", project) / "data" / "own").read_text() == "mine\n"


def agent_state_for(state_dir, name, proj):
    return next(d for d in (state_dir / "harness" / "agents" / name).iterdir()
                if d.name.startswith(proj.name + "-"))
