"""Real tools work inside the sandbox; results are checked on the host."""

import json
import os
import shutil
import subprocess

import pytest

from conftest import CLEAN_PATH, git

GIT_ID = ["-c", "user.name=Sandbox", "-c", "user.email=sandbox@example.com"]


def test_shell_pipeline(harness, project):
    (project / "words.txt").write_text("pear\napple\npear\nfig\napple\npear\n")
    r = harness.sh("sort words.txt | uniq -c | sort -rn | head -1 | awk '{print $2}' > top.txt; "
                   "cat words.txt | tr a-z A-Z | grep -c PEAR > count.txt; "
                   "find . -name '*.txt' | sort | tr '\\n' ' ' > found.txt; "
                   "tar czf words.tgz words.txt && tar tzf words.tgz > listed.txt; "
                   "sed -n 2p words.txt > second.txt")
    assert r.rc == 0, r
    assert (project / "top.txt").read_text() == "pear\n"
    assert (project / "count.txt").read_text() == "3\n"
    assert "./words.txt" in (project / "found.txt").read_text()
    assert (project / "listed.txt").read_text() == "words.txt\n"
    assert (project / "second.txt").read_text() == "apple\n"


def test_bash(harness, project):
    r = harness.run(["bash", "-c", "declare -A m=([k]=v); echo ${m[k]} > bash.txt; "
                     "mapfile -t a < <(printf '1\\n2\\n'); echo ${#a[@]} >> bash.txt"])
    assert r.rc == 0, r
    assert (project / "bash.txt").read_text() == "v\n2\n"


def test_git_in_a_host_repo(harness, project, tmp_path):
    git("init", "-q", cwd=project, home=tmp_path)
    (project / "a.txt").write_text("one\n")
    r = harness.run(["sh", "-c", f"git {' '.join(GIT_ID)} add a.txt && "
                     f"git {' '.join(GIT_ID)} commit -q -m 'from the sandbox' && "
                     "git log --oneline > log.txt && git status --porcelain > status.txt"])
    assert r.rc == 0, r
    log = git("log", "--format=%s %an", cwd=project, home=tmp_path).stdout
    assert log.strip() == "from the sandbox Sandbox", log
    assert git("status", "--porcelain", "--untracked-files=no", cwd=project,
               home=tmp_path).stdout == ""


def test_git_init_add_commit_inside(harness, project, tmp_path):
    # A new repository in a subdirectory (the project root's .git is protected).
    r = harness.sh(f"mkdir repo && cd repo && git init -q && echo hi > f && git add f && "
                   f"git {' '.join(GIT_ID)} commit -q -m first && git branch -M main && "
                   f"git {' '.join(GIT_ID)} tag v1")
    assert r.rc == 0, r
    log = git("log", "--format=%s", cwd=project / "repo", home=tmp_path).stdout
    assert log.strip() == "first"
    assert (project / "repo" / ".git" / "HEAD").exists()


def test_git_identity_via_env(harness, project, tmp_path):
    env = {"GIT_AUTHOR_NAME": "Env Author", "GIT_AUTHOR_EMAIL": "a@example.com",
           "GIT_COMMITTER_NAME": "Env Author", "GIT_COMMITTER_EMAIL": "a@example.com"}
    opts = []
    for k in env:
        opts += ["--env", k]
    r = harness.sh("mkdir r && cd r && git init -q && git commit -q --allow-empty -m e",
                   *opts, extra_env=env)
    assert r.rc == 0, r
    assert git("log", "--format=%an", cwd=project / "r", home=tmp_path).stdout.strip() == "Env Author"


def test_python_script(harness, project):
    (project / "script.py").write_text(
        "import json, pathlib, sys, sqlite3, tempfile, hashlib\n"
        "db = sqlite3.connect(':memory:'); db.execute('create table t(x)'); db.execute('insert into t values (41)')\n"
        "x = db.execute('select x + 1 from t').fetchone()[0]\n"
        "with tempfile.TemporaryDirectory() as d: pathlib.Path(d, 'f').write_text('tmp')\n"
        "pathlib.Path('out.json').write_text(json.dumps({'x': x, 'argv': sys.argv[1:],"
        " 'h': hashlib.sha256(b'a').hexdigest()[:8]}))\n")
    r = harness.run(["python3", "script.py", "arg1"])
    assert r.rc == 0, r
    assert json.loads((project / "out.json").read_text()) == {"x": 42, "argv": ["arg1"], "h": "ca978112"}


def test_gcc_and_make(harness, project):
    (project / "util.c").write_text("int twice(int x) { return 2 * x; }\n")
    (project / "util.h").write_text("int twice(int x);\n")
    (project / "main.c").write_text('#include <stdio.h>\n#include "util.h"\n'
                                    'int main(void) { printf("%d\\n", twice(21)); return 0; }\n')
    (project / "Makefile").write_text("prog: main.o util.o\n\t$(CC) -o $@ main.o util.o\n"
                                      "%.o: %.c util.h\n\t$(CC) -O1 -c $<\n")
    r = harness.sh("make -s && ./prog > prog.txt", timeout=120)
    assert r.rc == 0, r
    assert (project / "prog.txt").read_text() == "42\n"
    assert os.access(project / "prog", os.X_OK)
    # The binary runs on the host too: it was really built.
    assert subprocess.run([str(project / "prog")], capture_output=True, text=True,
                          timeout=10).stdout == "42\n"


def test_node(harness, project):
    if not shutil.which("node", path=CLEAN_PATH):
        pytest.skip("node is not installed on the host (scripts/install-deps.sh test installs it)")
    r = harness.run(["node", "-e", "require('fs').writeFileSync('node.txt', String(6 * 7) + "
                     "require('os').tmpdir())"])
    assert r.rc == 0, r
    assert (project / "node.txt").read_text() == "42/tmp"


def test_tools_write_to_tmp(harness, project):
    r = harness.sh("mktemp > t.txt && d=$(mktemp -d) && echo x > $d/f && cat $d/f > t2.txt")
    assert r.rc == 0, r
    assert (project / "t.txt").read_text().startswith("/tmp/")
    assert (project / "t2.txt").read_text() == "x\n"
