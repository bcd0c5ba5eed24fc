"""test_docs.py: the documentation says what the binary does.

Keeps `harness --help` (and the run, policy and check help texts), the
manual page man/harness.1, README.md and docs/ in agreement: the same
options, the same exit codes, the same limit messages. A few checks run
the binary to see that the documented exit codes and messages are the
ones it really produces.

Environment:
  HARNESS_BIN   the harness binary under test (required)
  HARNESS_REPO  a directory holding README.md, docs/ and man/ (the checkout,
                or a copy); tests/run-integration.sh copies this file to a
                temporary directory, so the docs cannot be found relative
                to it. Without HARNESS_REPO every test here is skipped.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

BIN = os.environ.get("HARNESS_BIN", "")
REPO = Path(os.environ["HARNESS_REPO"]) if os.environ.get("HARNESS_REPO") else None

# The documents this test owns; docs/policy.md and docs/layers.md are
# checked for options only when present.
OWN_DOCS = [
    "README.md",
    "docs/architecture.md",
    "docs/exit-codes.md",
    "docs/threat-model.md",
    "docs/getting-started.md",
]
OTHER_DOCS = ["docs/policy.md", "docs/layers.md"]


def _skip_reason():
    if not BIN or not os.access(BIN, os.X_OK):
        return "HARNESS_BIN is not set to an executable harness binary"
    if REPO is None:
        return ("HARNESS_REPO is not set: tests/run-integration.sh must export it "
                "(the checkout, or a copy of README.md, docs/ and man/)")
    missing = [p for p in ["README.md", "man/harness.1", *OWN_DOCS[1:]]
               if not (REPO / p).is_file()]
    if missing:
        return f"HARNESS_REPO={REPO} lacks {', '.join(missing)}"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")

LONG_OPT = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
SHORT_OPT = re.compile(r"(?<![\w-])-[a-zA-Z](?![\w-])")


# ---- helpers ----

def run(args, cwd=None, timeout=60):
    return subprocess.run([BIN, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def help_of(*words):
    r = run([*words, "--help"])
    assert r.returncode == 0, f"harness {' '.join(words)} --help exited {r.returncode}: {r.stderr}"
    assert r.stdout.strip(), f"harness {' '.join(words)} --help printed nothing"
    return r.stdout


def all_help():
    return {w: help_of(*w.split()) for w in ["", "run", "policy", "check", "audit"]}


def help_long_options(text):
    return set(LONG_OPT.findall(text))


def run_help_short_options(text):
    """Short options the run help declares: lines like '  -w, --allow-dir PATH'."""
    return set(re.findall(r"^\s+(-[a-zA-Z]), --", text, re.M))


def read(rel):
    return (REPO / rel).read_text(encoding="utf-8")


def man_plain():
    """The man page source with roff escapes reduced to plain text."""
    t = read("man/harness.1")
    t = re.sub(r"\\f[BIRP]", "", t)
    t = t.replace("\\-", "-").replace("\\(dq", '"').replace("\\&", "")
    # .BR -p ", " --policy  ->  -p, --policy
    t = re.sub(r'(-[a-zA-Z]) ", " (--)', r"\1, \2", t)
    return t


def docs_text(names):
    return "\n".join(read(n) for n in names if (REPO / n).is_file())


def harness_commands(text):
    """Option words of every harness command line written in the docs
    (`harness run ...`, `harness policy show ...`, `harness check ...`),
    up to the ' -- ' that starts the sandboxed command."""
    out = []
    for m in re.finditer(r"\bharness (run|check|policy show|policy check)\b([^`\n|]*)", text):
        args = m.group(2)
        args = args.split(" -- ")[0]
        if args.rstrip().endswith(" --"):
            args = args.rstrip()[:-3]
        out.append((m.group(0), args))
    return out


def doc_table_rows(md, heading):
    """Rows (lists of cells) of the first table after a '## heading' line."""
    lines = md.splitlines()
    start = next(i for i, l in enumerate(lines) if l.strip() == f"## {heading}")
    rows, seen = [], False
    for l in lines[start + 1:]:
        if l.startswith("## "):
            break
        if l.startswith("|"):
            seen = True
            cells = [c.strip() for c in l.strip().strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):
                rows.append(cells)
        elif seen:
            break
    return rows[1:]  # without the header


def main_help_exit_codes(text):
    """{code: description} from the 'Exit codes:' paragraph of harness --help."""
    para = " ".join(text[text.index("Exit codes:"):].split())
    codes = {int(c): d.strip() for c, d in re.findall(r"\b(12\d) ([a-z][a-z -]*?)[,.(]", para)}
    assert codes, "no exit codes found in harness --help"
    return codes, "128+N" in para


def sandbox_ok():
    r = subprocess.run([BIN, "check"], capture_output=True, text=True, timeout=60)
    return r.returncode == 0


needs_sandbox = pytest.mark.skipif(
    _skip_reason() is None and not sandbox_ok(),
    reason="'harness check' says this system cannot run the sandbox")


# ---- README ----

def test_readme_starts_with_title_sentence_and_the_two_commands():
    lines = [l for l in read("README.md").splitlines()[:12] if l.strip()]
    assert lines[0] == "# harness"
    assert not lines[1].startswith(("#", "`", "|", "-")), "line 2 must be the one sentence"
    assert lines[1].rstrip().endswith("."), "the sentence ends with a full stop"
    assert lines[2].startswith("```")
    assert lines[3] == "apt-get update && apt-get install -y make && make demo"
    assert lines[4] == "apt-get update && apt-get install -y make && make check"
    assert lines[5] == "```"


# ---- options: --help, man page and docs agree ----

def test_every_run_option_is_in_the_man_page():
    man = man_plain()
    missing = sorted(help_long_options(help_of("run")) - help_long_options(man))
    assert not missing, f"in 'harness run --help' but not in man/harness.1: {missing}"


def test_every_run_short_option_is_in_the_man_page():
    man = man_plain()
    for short in run_help_short_options(help_of("run")):
        assert re.search(rf"(?<![\w-]){short}, --", man), \
            f"short option {short} of 'harness run --help' is not in man/harness.1"


def test_every_option_in_the_man_page_exists():
    helps = all_help()
    known = set().union(*(help_long_options(t) for t in helps.values()))
    extra = sorted(help_long_options(man_plain()) - known)
    assert not extra, f"man/harness.1 names options no --help text has: {extra}"


def test_every_command_is_in_the_man_page():
    main = help_of()
    block = main[main.index("Commands:"):main.index("\n\n", main.index("Commands:"))]
    man = man_plain()
    commands = man[man.index(".SH COMMANDS"):man.index(".SH", man.index(".SH COMMANDS") + 1)]
    for line in block.splitlines()[1:]:
        usage = re.split(r"\s{2,}", line.strip())[0].split()
        name = " ".join(w for w in usage[:2] if re.fullmatch(r"[a-z]+", w))
        assert name and name in commands, f"command '{name}' of --help is not in man COMMANDS"


def test_every_run_option_is_in_the_docs():
    docs = docs_text(OWN_DOCS + OTHER_DOCS)
    missing = sorted(help_long_options(help_of("run")) - help_long_options(docs))
    assert not missing, f"in 'harness run --help' but in none of README.md, docs/: {missing}"


def test_options_used_in_docs_exist():
    helps = all_help()
    known_long = set().union(*(help_long_options(t) for t in helps.values()))
    known_short = run_help_short_options(helps["run"]) | {"-h", "-V"}
    bad = []
    for name in OWN_DOCS + ["man/harness.1"]:
        text = man_plain() if name.endswith(".1") else read(name)
        for cmd, args in harness_commands(text):
            for opt in LONG_OPT.findall(args):
                if opt not in known_long:
                    bad.append(f"{name}: {opt} in '{cmd}'")
            for opt in SHORT_OPT.findall(args):
                if opt not in known_short:
                    bad.append(f"{name}: {opt} in '{cmd}'")
    assert not bad, "options that harness does not have:\n" + "\n".join(bad)


# ---- exit codes ----

def test_exit_codes_doc_matches_help():
    codes, has_signal = main_help_exit_codes(help_of())
    rows = doc_table_rows(read("docs/exit-codes.md"), "harness run")
    doc = {}
    for cells in rows:
        if re.fullmatch(r"\d+", cells[0]):
            doc[int(cells[0])] = cells[1].lower()
    assert set(doc) == set(codes), \
        f"docs/exit-codes.md lists {sorted(doc)}, harness --help {sorted(codes)}"
    for code, what in codes.items():
        for word in re.findall(r"[a-z-]{4,}", what):
            assert word in doc[code], \
                f"exit code {code}: --help says '{what}', docs/exit-codes.md says '{doc[code]}'"
    assert has_signal == any(c[0] == "128+N" for c in rows), "128+N: --help and docs disagree"


def test_exit_codes_readme_and_man_match_help():
    codes, _ = main_help_exit_codes(help_of())
    readme = {int(c[0]) for c in doc_table_rows(read("README.md"), "Exit codes")
              if re.fullmatch(r"\d+", c[0])}
    assert readme == set(codes), f"README.md lists {sorted(readme)}, --help {sorted(codes)}"
    man = man_plain()
    section = man[man.index(".SH EXIT STATUS"):man.index(".SH ENVIRONMENT")]
    man_codes = {int(c) for c in re.findall(r"^\.B (\d+)$", section, re.M)}
    assert man_codes == set(codes), f"man EXIT STATUS lists {sorted(man_codes)}, --help {sorted(codes)}"
    assert "128+N" in section


def test_other_commands_exit_codes_match_their_help():
    rows = doc_table_rows(read("docs/exit-codes.md"), "Other commands")
    by_cmd = {}
    for cells in rows:
        by_cmd.setdefault(cells[0].strip("`"), set()).add(cells[1])
    check_help = " ".join(help_of("check").split())
    assert by_cmd["harness check"] == {"0", "1"}
    assert "Exits 0" in check_help and "else 1" in check_help
    policy_help = " ".join(help_of("policy").split())
    assert by_cmd["harness policy check"] == {"0", "125"}
    assert "exits 125" in policy_help and "0 if all are valid" in policy_help


# ---- the documented messages are the ones harness prints ----

def doc_message(code_or_limit):
    """The message template of a row of docs/exit-codes.md, as a regex:
    N and CMD stand for numbers and the command, REASON for any text."""
    md = read("docs/exit-codes.md")
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        msg = next((m.group(1) for c in cells[1:] for m in [re.match(r"`(harness: [^`]*)`", c)]
                    if m), None)
        if msg and cells[0].strip("`") == code_or_limit:
            rx = re.escape(msg)
            for word, sub in (("N", r"\d+"), ("CMD", r"\S+"), ("REASON", ".+")):
                rx = re.sub(rf"\b{word}\b", lambda _m, s=sub: s, rx)
            return re.compile("^" + rx + "$", re.M)
    raise AssertionError(f"no message row for {code_or_limit} in docs/exit-codes.md")


@needs_sandbox
def test_timeout_exit_code_and_message(tmp_path):
    r = run(["run", "--max-procs", "0", "-t", "1s", "--", "sleep", "10"], cwd=tmp_path)
    assert r.returncode == 124, r.stderr
    assert doc_message("--timeout").search(r.stderr), r.stderr


@needs_sandbox
def test_not_found_exit_code_and_message(tmp_path):
    r = run(["run", "--max-procs", "0", "--", "no-such-command-for-harness"], cwd=tmp_path)
    assert r.returncode == 127, r.stderr
    assert doc_message("127").search(r.stderr), r.stderr


@needs_sandbox
def test_not_executable_exit_code_and_message(tmp_path):
    f = tmp_path / "not-executable"
    f.write_text("#!/bin/sh\n")
    f.chmod(0o644)
    r = run(["run", "--max-procs", "0", "--", "./not-executable"], cwd=tmp_path)
    assert r.returncode == 126, r.stderr
    assert doc_message("126").search(r.stderr), r.stderr


@needs_sandbox
def test_file_size_limit_exit_code_and_message(tmp_path):
    r = run(["run", "--max-procs", "0", "--max-file-size", "1M", "--", "dd", "if=/dev/zero",
             "of=big", "bs=1M", "count=4", "status=none"], cwd=tmp_path)
    assert r.returncode == 128 + 25, r.stderr  # SIGXFSZ
    assert doc_message("--max-file-size").search(r.stderr), r.stderr


@needs_sandbox
@pytest.mark.slow
def test_cpu_limit_exit_code_and_message(tmp_path):
    r = run(["run", "--max-procs", "0", "--max-cpu", "1", "--", "sh", "-c",
             "while :; do :; done"], cwd=tmp_path)
    assert r.returncode in (128 + 24, 128 + 9), r.stderr  # SIGXCPU, or SIGKILL a second later
    assert doc_message("--max-cpu").search(r.stderr), r.stderr


@needs_sandbox
def test_command_status_and_signals_pass_through(tmp_path):
    assert run(["run", "--max-procs", "0", "--", "sh", "-c", "exit 3"], cwd=tmp_path).returncode == 3
    r = run(["run", "--max-procs", "0", "--", "sh", "-c", "kill -TERM $$"], cwd=tmp_path)
    assert r.returncode == 128 + 15, r.stderr


def test_usage_errors_exit_125(tmp_path):
    assert run(["run", "--no-such-option", "--", "true"], cwd=tmp_path).returncode == 125
    assert run(["run"], cwd=tmp_path).returncode == 125
    assert run(["no-such-command"]).returncode == 125
    assert run(["policy", "check"]).returncode == 125


# ---- the man page renders ----

def test_man_page_renders_without_warnings():
    page = str(REPO / "man/harness.1")
    if shutil.which("man"):
        r = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                           env={**os.environ, "MANPAGER": "cat", "PAGER": "cat",
                                "MANWIDTH": "80"}, timeout=60)
    elif shutil.which("groff"):
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page],
                           capture_output=True, text=True, timeout=60)
    else:
        pytest.skip("neither man nor groff is installed")
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "", r.stderr


# ---- links between the documents ----

def test_relative_links_resolve():
    bad = []
    for name in OWN_DOCS:
        base = (REPO / name).parent
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", read(name)):
            # Only links between README.md, docs/ and man/: HARNESS_REPO may
            # be a copy of those alone.
            if re.match(r"[a-z]+:", target):
                continue
            path = (base / target).resolve()
            root = REPO.resolve()
            if not (path == root / "README.md" or (root / "docs") in path.parents
                    or (root / "man") in path.parents):
                continue
            # docs/policy.md and docs/layers.md are written separately.
            if not path.exists() and path.name not in ("policy.md", "layers.md"):
                bad.append(f"{name}: {target}")
    assert not bad, "broken links:\n" + "\n".join(bad)
