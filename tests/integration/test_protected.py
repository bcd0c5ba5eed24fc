"""Protected (read-only) and hidden paths inside the writable project,
including ones that do not exist yet (harness masks a host placeholder and
removes it afterwards). Verdicts: host files' bytes/mtimes, the project tree
before and after, and whether the host's own git would run a planted hook."""

import os
import subprocess

import pytest

from conftest import (assert_no_token, git, procs_with_argv, snapshot, tree, unique_seconds,
                      wait_until)

HOOK = '#!/bin/sh\ntouch "{mark}"\n'


def git_repo(project, tmp_path):
    git("init", "-q", cwd=project, home=tmp_path)
    git("commit", "-q", "--allow-empty", "-m", "init", cwd=project, home=tmp_path)


def host_git_runs_planted_code(project, tmp_path, mark):
    """Does the HOST's git, used normally in the project afterwards, run
    anything the sandbox planted (a hook, core.fsmonitor, core.hooksPath)?"""
    git("status", cwd=project, home=tmp_path, check=False)
    git("commit", "-q", "--allow-empty", "-m", "after", cwd=project, home=tmp_path, check=False)
    return mark.exists()


def test_git_hooks_in_a_real_repo_are_read_only(harness, project, tmp_path):
    git_repo(project, tmp_path)
    hooks_before = tree(project / ".git" / "hooks")
    config_before = snapshot(project / ".git" / "config")
    mark = tmp_path / "hook-ran"
    hook = HOOK.format(mark=mark)
    r = harness.sh(f"printf '{hook}' > .git/hooks/pre-commit; chmod +x .git/hooks/pre-commit; "
                   f"printf '{hook}' > .git/hooks/post-commit; "
                   "rm -rf .git/hooks/*; mkdir .git/hooks/sub; "
                   f"printf '[core]\\n\\thooksPath = {tmp_path}\\n\\tfsmonitor = touch {mark}\\n' >> .git/config; "
                   "git config core.hooksPath /tmp; true")
    assert r.rc == 0, r
    assert not (project / ".git/hooks/pre-commit").exists()
    assert tree(project / ".git" / "hooks") == hooks_before
    assert snapshot(project / ".git" / "config") == config_before
    assert not host_git_runs_planted_code(project, tmp_path, mark)


def test_git_dir_cannot_be_swapped_for_one_with_hooks(harness, project, tmp_path):
    """Renaming .git itself (not a mount point) and rebuilding it around the
    read-only .git/hooks and .git/config masks plants hooks the host runs."""
    git_repo(project, tmp_path)
    git_ino = (project / ".git").stat().st_ino
    mark = tmp_path / "hook-ran"
    hook = HOOK.format(mark=mark)
    script = f"""
    mv .git .git-orig
    mkdir -p .git/hooks
    cp -r .git-orig/HEAD .git-orig/objects .git-orig/refs .git/
    cp .git-orig/config .git/config
    printf '[core]\\n\\tfsmonitor = touch {mark}\\n' >> .git/config
    printf '{hook}' > .git/hooks/pre-commit
    chmod +x .git/hooks/pre-commit
    true
    """
    r = harness.sh(script)
    assert r.rc == 0, r
    problems = []
    if (project / ".git").stat().st_ino != git_ino:
        problems.append("the project's .git directory was replaced (renamed away, rebuilt)")
    if (project / ".git/hooks/pre-commit").exists():
        problems.append(".git/hooks/pre-commit was planted on the host")
    if host_git_runs_planted_code(project, tmp_path, mark):
        problems.append("the host's own `git status`/`git commit` ran code the sandbox planted")
    assert not problems, "; ".join(problems) + f"\n{r!r}"


def test_git_commondir_cannot_redirect_hooks_and_config(harness, project, tmp_path):
    """.git/commondir (writable: only hooks and config are masked) makes git
    take config and hooks from another directory, one the sandbox controls."""
    git_repo(project, tmp_path)
    mark = tmp_path / "hook-ran"
    hook = HOOK.format(mark=mark)
    script = f"""
    cp -r .git evil-common
    rm -rf evil-common/hooks/*
    printf '{hook}' > evil-common/hooks/pre-commit
    chmod +x evil-common/hooks/pre-commit
    printf '[core]\\n\\tfsmonitor = touch {mark}\\n' >> evil-common/config
    echo ../evil-common > .git/commondir
    true
    """
    r = harness.sh(script)
    assert r.rc == 0, r
    problems = []
    if (project / ".git" / "commondir").exists():
        problems.append(f".git/commondir was created: {(project / '.git/commondir').read_text()!r}")
    if host_git_runs_planted_code(project, tmp_path, mark):
        problems.append("the host's own `git status`/`git commit` ran code the sandbox planted")
    assert not problems, "; ".join(problems) + f"\n{r!r}"


def test_git_hooks_path_inside_the_project_is_protected(harness, project, tmp_path):
    """core.hooksPath pointing into the project (husky, lefthook, pre-commit
    setups: `.husky`) makes that directory the hooks directory the host's git
    runs: it needs the protection .git/hooks gets."""
    git_repo(project, tmp_path)
    git("config", "core.hooksPath", ".husky", cwd=project, home=tmp_path)
    (project / ".husky").mkdir()
    (project / ".husky" / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    (project / ".husky" / "pre-commit").chmod(0o755)
    snap = snapshot(project / ".husky" / "pre-commit")
    mark = tmp_path / "hook-ran"
    hook = HOOK.format(mark=mark)
    r = harness.sh(f"printf '{hook}' > .husky/pre-commit; printf '{hook}' > .husky/post-commit; "
                   "chmod +x .husky/post-commit; true")
    assert r.rc == 0, r
    problems = []
    if snapshot(project / ".husky" / "pre-commit") != snap:
        problems.append(".husky/pre-commit (the configured hooks path) was rewritten")
    if host_git_runs_planted_code(project, tmp_path, mark):
        problems.append("the host's own `git commit` ran a hook the sandbox wrote")
    assert not problems, "; ".join(problems) + f"\n{r!r}"


def test_git_linked_worktree_metadata_cannot_redirect_its_hooks(harness, project, tmp_path):
    """.git/worktrees/NAME/commondir of the project's repository decides where a
    linked worktree (elsewhere on the host) takes its config and hooks from."""
    git_repo(project, tmp_path)
    wt = tmp_path / "linked-wt"
    git("worktree", "add", "-q", str(wt), cwd=project, home=tmp_path)
    meta = project / ".git" / "worktrees" / "linked-wt"
    assert (meta / "commondir").exists()
    snap = snapshot(meta / "commondir")
    mark = tmp_path / "hook-ran"
    hook = HOOK.format(mark=mark)
    r = harness.sh(f"git init -q --bare evil && printf '{hook}' > evil/hooks/pre-commit && "
                   "chmod +x evil/hooks/pre-commit && cp -r .git/objects .git/refs evil/; "
                   f"printf '[core]\\n\\tfsmonitor = touch {mark}\\n' >> evil/config; "
                   "echo ../../../evil > .git/worktrees/linked-wt/commondir; "
                   "echo ../../../evil > .git/worktrees/linked-wt/commondir.new && "
                   "mv .git/worktrees/linked-wt/commondir.new .git/worktrees/linked-wt/commondir; true")
    problems = []
    if snapshot(meta / "commondir") != snap:
        problems.append(f"{meta}/commondir was rewritten to {(meta / 'commondir').read_bytes()!r}")
    if host_git_runs_planted_code(wt, tmp_path, mark):
        problems.append("the host's own git, used in the linked worktree, ran code the sandbox planted")
    assert not problems, "; ".join(problems) + f"\n{r!r}"


def test_git_dir_symlink_cannot_be_replaced(harness, project, tmp_path):
    """.git as a symlink to a git dir kept elsewhere (outside every grant):
    replacing the link with a new .git directory plants hooks the host runs."""
    real = tmp_path / "elsewhere"
    real.mkdir()
    git_repo(real, tmp_path)
    (real / ".git").rename(tmp_path / "repo.git")
    (project / ".git").symlink_to(tmp_path / "repo.git")
    before = snapshot(project / ".git")
    mark = tmp_path / "hook-ran"
    hook = HOOK.format(mark=mark)
    r = harness.sh(f"rm -f .git; mv .git .git-link; git init -q . && printf '{hook}' > .git/hooks/pre-commit "
                   "&& chmod +x .git/hooks/pre-commit; true")
    problems = []
    if snapshot(project / ".git") != before:
        problems.append("the .git symlink was replaced by a directory the sandbox made")
    if host_git_runs_planted_code(project, tmp_path, mark):
        problems.append("the host's own `git commit` ran a hook the sandbox wrote")
    assert not problems, "; ".join(problems) + f"\n{r!r}"


def test_git_submodule_hooks_and_config_are_protected(harness, project, tmp_path):
    """A submodule's git dir lives in .git/modules/NAME, hooks and config
    included; the host's git runs those hooks in the submodule's checkout."""
    sub_src = tmp_path / "sub-src"
    sub_src.mkdir()
    git_repo(sub_src, tmp_path)
    git_repo(project, tmp_path)
    git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub_src), "sub",
        cwd=project, home=tmp_path)
    mod = project / ".git" / "modules" / "sub"
    assert (mod / "hooks").is_dir() and (mod / "config").is_file()
    hooks = tree(mod / "hooks")
    config = snapshot(mod / "config")
    mark = tmp_path / "hook-ran"
    hook = HOOK.format(mark=mark)
    r = harness.sh(f"printf '{hook}' > .git/modules/sub/hooks/pre-commit; "
                   "chmod +x .git/modules/sub/hooks/pre-commit; "
                   f"printf '[core]\\n\\tfsmonitor = touch {mark}\\n' >> .git/modules/sub/config; "
                   "echo ../../../evil > .git/modules/sub/commondir; true")
    problems = []
    if tree(mod / "hooks") != hooks:
        problems.append("a hook was planted in .git/modules/sub/hooks")
    if snapshot(mod / "config") != config:
        problems.append(".git/modules/sub/config changed")
    if (mod / "commondir").exists():
        problems.append(".git/modules/sub/commondir was created")
    if host_git_runs_planted_code(project / "sub", tmp_path, mark):
        problems.append("the host's own git, used in the submodule, ran code the sandbox planted")
    assert not problems, "; ".join(problems) + f"\n{r!r}"


def test_git_worktree_gitfile_cannot_be_repointed(harness, project, tmp_path):
    """In a worktree .git is a file ("gitdir: ..."); rewriting it points the
    host's git at a gitdir the sandbox made, hooks and config included."""
    main = tmp_path / "main-repo"
    main.mkdir()
    git_repo(main, tmp_path)
    wt = tmp_path / "wt"
    git("worktree", "add", "-q", str(wt), cwd=main, home=tmp_path)
    before = snapshot(wt / ".git")
    mark = tmp_path / "hook-ran"
    hook = HOOK.format(mark=mark)
    script = f"""
    git init -q --bare evil
    printf '{hook}' > evil/hooks/pre-commit; chmod +x evil/hooks/pre-commit
    printf '[core]\\n\\tfsmonitor = touch {mark}\\n\\tbare = false\\n' >> evil/config
    printf 'gitdir: evil\\n' > .git
    true
    """
    r = harness.sh(script, cwd=wt)
    assert r.rc == 0, r
    problems = []
    if snapshot(wt / ".git") != before:
        problems.append(f"the worktree's .git file was rewritten to {(wt / '.git').read_bytes()!r}")
    if host_git_runs_planted_code(wt, tmp_path, mark):
        problems.append("the host's own `git status`/`git commit` ran code the sandbox planted")
    assert not problems, "; ".join(problems) + f"\n{r!r}"


def test_git_hooks_placeholder_without_repo(harness, project, tmp_path):
    """No .git yet: harness masks a placeholder and removes it afterwards."""
    before = tree(project)
    mark = tmp_path / "hook-ran"
    hook = HOOK.format(mark=mark)
    r = harness.sh(f"mkdir -p .git/hooks; printf '{hook}' > .git/hooks/pre-commit; "
                   "chmod +x .git/hooks/pre-commit; echo x > .git/config; "
                   "rmdir .git; mv .git gitx; echo 'gitdir: /tmp' > .git; git init -q .; true")
    assert r.rc == 0, r
    assert not (project / ".git").exists() and not (project / ".git").is_symlink(), \
        f"leftover .git on the host: {tree(project)}"
    assert tree(project) == before


@pytest.mark.parametrize("path", [".mcp.json", ".claude/settings.json", ".claude/commands/x.md",
                                  ".vscode/settings.json", ".vscode/tasks.json", ".codex/config.toml",
                                  ".cursor/rules", ".idea/workspace.xml", ".aider.conf.yml",
                                  ".gitmodules", ".git/config", ".git/hooks/pre-push"])
def test_missing_protected_path_cannot_be_created(harness, project, path):
    before = tree(project)
    d = os.path.dirname(path) or "."
    r = harness.sh(f"mkdir -p {d}; echo evil > {path}; echo evil >> {path}; "
                   f"python3 -c 'open(\"{path}\", \"w\").write(\"evil\")'; true")
    assert r.rc == 0, r
    assert not (project / path).exists(), f"{path} was created on the host"
    assert tree(project) == before, "placeholders left behind on the host"


@pytest.mark.parametrize("path", [".mcp.json", ".claude/settings.json", ".aider.conf.yml",
                                  ".vscode/settings.json", ".gitmodules", ".codex/config.toml",
                                  ".cursor/mcp.json"])
def test_existing_protected_path_is_read_only(harness, project, path):
    target = project / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text('{"original": true}\n')
    snap = snapshot(target)
    before = tree(project)
    d = os.path.dirname(path) or "."
    r = harness.sh(f"cat {path}; echo evil >> {path}; echo evil > {path}; : > {path}; "
                   f"chmod 777 {path}; mv {path} {path}.bak; echo evil > {path}; rm -f {path}; "
                   # (no `rm -rf .` in the text for top-level names: the command
                   # rules would refuse the whole script, which proves nothing here)
                   + (f"rm -rf {d} && mkdir {d} && echo evil > {path}; " if d != "." else "")
                   + "true")
    assert "original" in r.out, r  # still readable
    assert snapshot(target) == snap, f"{path} changed on the host"
    assert tree(project) == before


@pytest.mark.parametrize("path,target", [(".mcp.json", "home/.bashrc"), (".claude", "sibling"),
                                         (".aider.conf.yml", "nowhere.yml"), (".vscode", "sibling")])
def test_protected_path_that_is_a_symlink_cannot_be_replaced(harness, project, tmp_path, home,
                                                            sibling, path, target):
    """A protected name that exists as a symlink (dotfile managers, shared
    agent configs) must stay protected: removing the link and writing a real
    file or directory in its place must not reach the host."""
    link = project / path
    link.symlink_to(tmp_path / target)
    before = snapshot(link)
    r = harness.sh(f"rm -f {path}; rm -rf {path}; mkdir {path} && echo evil > {path}/settings.json; "
                   f"echo evil > {path}; true")
    assert r.rc == 0, r
    assert link.is_symlink() and snapshot(link) == before, \
        f"{path} (a symlink on the host) was replaced: now {'a dir' if link.is_dir() else 'a file'}" \
        f" {tree(project) if link.is_dir() else ''}"


def test_protected_and_hidden_paths_in_an_extra_writable_dir(harness, sibling, token):
    """Protection applies to every writable grant, not only the project."""
    (sibling / ".env").write_text(f"TOKEN={token}\n")
    env_snap = snapshot(sibling / ".env")
    before = tree(sibling)
    r = harness.sh(f"cd {sibling} && cat .env; mkdir -p .claude .git/hooks; "
                   "echo evil > .claude/settings.json; "
                   "echo evil > .git/hooks/pre-commit; echo evil > .mcp.json; echo ok > fine.txt",
                   "-w", str(sibling))
    assert_no_token(token, r)
    assert (sibling / "fine.txt").read_text() == "ok\n", r
    assert snapshot(sibling / ".env") == env_snap
    assert tree(sibling) == sorted(before + ["fine.txt"]), "protected paths written in the -w dir"


HOME_RC = [".bashrc", ".bash_profile", ".profile", ".zshrc", ".zshenv", ".gitconfig"]


@pytest.mark.parametrize("how", ["allow-dir", "cwd"])
def test_granted_home_keeps_rc_files_read_only_and_credentials_hidden(harness, home, token, how):
    """When the home itself is granted (-w ~, or harness started in it), shell
    start-up files and git config stay read-only and ~/.ssh, ~/.aws hidden."""
    before = {p: snapshot(home / p) for p in HOME_RC}
    listing = tree(home)
    script = ("cat .ssh/id_rsa .aws/credentials; tar cf creds.tar .ssh .aws; " +
              "; ".join(f"echo evil >> {p}; rm -f {p}" for p in HOME_RC) +
              "; mkdir -p .config/git && echo evil > .config/git/config; "
              "echo evil > .ssh/authorized_keys; echo ok > fine.txt; true")
    if how == "allow-dir":
        r = harness.sh(f"cd {home} && {script}", "-w", str(home))
    else:
        r = harness.sh(script, cwd=home)
    assert (home / "fine.txt").read_text() == "ok\n", r  # the grant is real
    copied = home / "creds.tar"
    assert_no_token(token, r, paths=[copied] if copied.exists() else [])
    for p, snap in before.items():
        assert snapshot(home / p) == snap, f"~/{p} changed on the host"
    assert not (home / ".ssh" / "authorized_keys").exists(), r
    assert not (home / ".config").exists(), f"~/.config left on the host: {tree(home)}\n{r!r}"
    after = [x for x in tree(home) if x not in ("fine.txt", "creds.tar")]
    assert after == listing, r


def test_home_protection_holds_for_every_entry_every_time(harness, tmp_path):
    """The last "~/" entries of the preset (~/.gitconfig, ~/.config/git) must
    be protected on every run, whatever the length of the home's path (the
    plan is built in memory that grows as mounts are added)."""
    failures = []
    for i in range(10):
        home = tmp_path / f"h{i}" / ("d" * (9 * i + 1)) / "home"
        home.mkdir(parents=True)
        (home / ".gitconfig").write_text("[user]\n\tname = me\n")
        snap = snapshot(home / ".gitconfig")
        r = harness.sh("rm -f .gitconfig; echo evil > .gitconfig; "
                       "mkdir -p .config/git && echo evil > .config/git/config; true",
                       cwd=home, extra_env={"HOME": str(home)})
        if snapshot(home / ".gitconfig") != snap or (home / ".config").exists():
            failures.append(f"{home}: {tree(home)} (rc {r.rc})")
    assert not failures, f"~/ protections missing in {len(failures)}/10 runs:\n" + "\n".join(failures)


def test_grant_containing_the_home_still_protects_it(harness, tmp_path, home, token):
    """Started in the parent of HOME (or any grant that contains it): the home
    is visible through that grant, so its rc files stay read-only and its
    credential directories (~/.ssh, ~/.aws) hidden, as when ~ itself is granted."""
    before = {p: snapshot(home / p) for p in HOME_RC}
    r = harness.sh("cat home/.ssh/id_rsa home/.aws/credentials; "
                   "tar cf creds.tar home/.ssh home/.aws; " +
                   "; ".join(f"echo evil >> home/{p}" for p in HOME_RC) +
                   "; mkdir -p home/.config/git && echo evil > home/.config/git/config; "
                   "echo ok > fine.txt; true", cwd=tmp_path)
    assert (tmp_path / "fine.txt").read_text() == "ok\n", r
    for p, snap in before.items():
        assert snapshot(home / p) == snap, f"~/{p} changed on the host"
    assert not (home / ".config").exists()
    assert_no_token(token, r, paths=[tmp_path / "creds.tar"])


def test_users_own_empty_protected_files_are_kept(harness, project):
    """Placeholders are removed after the run; the user's own empty files are not."""
    (project / ".aider.conf.yml").write_text("")
    (project / ".mcp.json").write_text("")
    (project / ".claude").mkdir()
    (project / ".vscode").mkdir()
    before = tree(project)
    r = harness.run(["true"])
    assert r.rc == 0, r
    assert tree(project) == before


@pytest.mark.parametrize("how", ["normal", "failing", "not-found", "dry-run", "bad-flag"])
def test_no_placeholder_left_behind(harness, project, how):
    before = tree(project)
    args = {"normal": ["run", "--", "true"],
            "failing": ["run", "--", "sh", "-c", "exit 3"],
            "not-found": ["run", "--", "no-such-command-harness-it"],
            "dry-run": ["run", "--dry-run", "--", "true"],
            "bad-flag": ["run", "--max-procs", "lots", "--", "true"]}[how]
    harness.call(args)
    assert tree(project) == before


@pytest.mark.parametrize("name", [".env", ".env.local", ".env.production", ".npmrc", ".netrc",
                                  ".git-credentials", ".pypirc", ".ssh/id_ed25519",
                                  ".aws/credentials", ".docker/config.json", ".kube/config"])
def test_hidden_secret_files(harness, project, token, name):
    secret = project / name
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(f"API_TOKEN={token}\n")
    snap = snapshot(secret)
    r = harness.sh(f"cat {name}; cp {name} copy-{name}; base64 {name}; grep -r CANARY . ; "
                   f"tar cf all.tar .; python3 -c 'print(open(\"{name}\").read())'; "
                   f"ln {name} hard-{name}; cat hard-{name}; "
                   f"echo evil > {name}; rm -f {name}; mv {name} moved-{name}; true")
    assert_no_token(token, r, paths=[project], exclude=[secret])
    assert snapshot(secret) == snap, f"{name} changed on the host"


def test_hidden_env_star_pattern(harness, project, token):
    (project / ".env.test.local").write_text(f"X={token}\n")
    r = harness.sh("cat .env.test.local; true")
    assert_no_token(token, r)


@pytest.mark.parametrize("name", [".env", ".env.local"])
def test_secret_files_deeper_in_the_project_are_hidden(harness, project, token, name):
    """Monorepos keep .env files next to each service (packages/api/.env):
    protection "inside writable dirs" cannot stop at the grant's top level."""
    secret = project / "packages" / "api" / name
    secret.parent.mkdir(parents=True)
    secret.write_text(f"DATABASE_URL=postgres://u:{token}@db/x\n")
    r = harness.sh(f"cat packages/api/{name}; grep -r {token[:10]} . ; true")
    assert_no_token(token, r, paths=[project], exclude=[secret])


def test_repository_nested_in_a_grant_keeps_its_hooks(harness, project, tmp_path):
    """harness started in a directory holding repositories (~/code, a
    monorepo with nested repos): each repository's hooks stay protected."""
    repo = project / "services" / "api"
    repo.mkdir(parents=True)
    git_repo(repo, tmp_path)
    hooks = tree(repo / ".git" / "hooks")
    mark = tmp_path / "hook-ran"
    hook = HOOK.format(mark=mark)
    r = harness.sh(f"printf '{hook}' > services/api/.git/hooks/pre-commit; "
                   "chmod +x services/api/.git/hooks/pre-commit; "
                   f"printf '[core]\\n\\tfsmonitor = touch {mark}\\n' >> services/api/.git/config; true")
    problems = []
    if tree(repo / ".git" / "hooks") != hooks:
        problems.append("a hook was planted in services/api/.git/hooks")
    if host_git_runs_planted_code(repo, tmp_path, mark):
        problems.append("the host's own git in the nested repository ran code the sandbox planted")
    assert not problems, "; ".join(problems) + f"\n{r!r}"


def test_unprotect_makes_a_protected_path_writable(harness, project):
    r = harness.sh("echo '{\"ok\": 1}' > .mcp.json", "--unprotect", ".mcp.json")
    assert r.rc == 0, r
    assert (project / ".mcp.json").read_text() == '{"ok": 1}\n'


def test_unprotect_reveals_a_hidden_file(harness, project, token):
    (project / ".env").write_text(f"API_TOKEN={token}\n")
    r = harness.sh("cat .env", "--unprotect", ".env")
    assert token in r.out, r


def test_protect_flag_makes_a_file_read_only(harness, project):
    (project / "notes.txt").write_text("keep\n")
    (project / "other.txt").write_text("free\n")
    snap = snapshot(project / "notes.txt")
    r = harness.sh("echo evil >> notes.txt; rm -f notes.txt; echo changed > other.txt; true",
                   "--protect", "notes.txt")
    assert r.rc == 0, r
    assert snapshot(project / "notes.txt") == snap
    assert (project / "other.txt").read_text() == "changed\n"


def test_hide_flag_hides_a_file(harness, project, token):
    secret = project / "secret.txt"
    secret.write_text(token)
    r = harness.sh("cat secret.txt; cp secret.txt copy.txt; true", "--hide", "secret.txt")
    assert_no_token(token, r, paths=[project], exclude=[secret])
    assert secret.read_text() == token


def test_placeholders_of_a_killed_harness_are_gone_after_the_next_run(harness_bin, harness, project,
                                                                     base_env, reap_marked):
    """SIGKILL leaves harness no chance to clean up; the next run must not
    leave the project littered with empty .git, .mcp.json, .claude..."""
    before = tree(project)
    secs = unique_seconds()
    reap_marked(f"sleep\0{secs}\0")
    p = subprocess.Popen([harness_bin, "run", "--", "sleep", secs], cwd=str(project), env=base_env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: procs_with_argv(["sleep", secs]), 10), "the sandbox never started"
        p.kill()
        p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    r = harness.run(["true"])
    assert r.rc == 0, r
    assert tree(project) == before, "stale placeholders left in the project"


def test_concurrent_runs_in_a_fresh_project_share_the_placeholders(harness, project):
    """Runs starting together in a project without .git each mask it: the
    placeholders one of them makes are complete before another can see
    them (it would otherwise walk into a half-made one and fail), and the
    last run out removes them, leaving no temporary name behind."""
    import subprocess
    before = sorted(p.name for p in project.iterdir())
    for attempt in range(3):
        procs = [subprocess.Popen([harness.bin, "run", "--no-audit", "--", "true"],
                                  cwd=project, env=harness.env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE) for _ in range(8)]
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
        left = sorted(p.name for p in project.iterdir())
        assert left == before, (attempt, left)
