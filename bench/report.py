#!/usr/bin/env python3
"""Turns the hyperfine JSON files of one bench/run.sh run into RESULTS.md.

Reads the manifest written by run.sh (one line per measured command: user,
group, JSON prefix, name, cwd, command), merges the rounds of each group
(round 2 ran the commands in reverse order), and prints Markdown: machine
facts, a headline per user, then one table per benchmark with medians,
min, p90, mean and standard deviation, and ratios against bare and against
bubblewrap, with a 95% bootstrap interval so that noise is visible rather
than rounded away: ratios of medians, or for the interleaved workloads the
median of the per-round ratios (the statistics and the parts every report
has are in bench/benchlib.py).
"""
import argparse
import sys

from benchlib import by, command_table, compare, emit, header, load, ms, observations, ratio, ratio_ci, unique

GROUP_TITLES = {
    "startup": "Startup: sandboxed /bin/true",
    "startup-spaced": "Startup, spaced: the machine idle for a moment before each start",
    "startup-srt": "Startup with srt (fewer runs; srt takes ~0.3 s per start)",
    "startup-tmpfs": "Startup with the cwd on tmpfs instead of the disk",
    "make": "Process-heavy: make -j2 of 50 C files (clean between runs)",
    "git": "Process-heavy: git init + add + commit of 500 small files",
}
BARE = "bare"
BWRAP = "bwrap (comparable)"
HARNESS = "harness"
# The same run with every default read-only entry that makes a placeholder in
# a fresh directory unprotected: the startup cost of the sandbox itself.
UNPROT = "harness --unprotect (no placeholders)"
# And without the audit record as well: what bubblewrap does, no more (it
# keeps Landlock, seccomp, the cgroup and exec interception's absence).
BWRAP_LIKE = "harness --no-audit --unprotect (bubblewrap feature set)"


def table(out, rows, user, group):
    g = by(rows, user, group)
    bare, bw = g.get(BARE), g.get(BWRAP)
    command_table(
        out, f"{GROUP_TITLES.get(group, group)} — as {user}", g,
        ["mean ± sd ms", "user+sys CPU ms", "− bare ms", "× bare (95% CI)", "× bwrap (95% CI)"],
        lambda r: [f"{ms(r['mean'])} ± {ms(r['sd'])}", ms(r["cpu_user"] + r["cpu_sys"]),
                   ms(r["median"] - bare["median"]) if bare and "median" in bare else "n/a",
                   ratio(r, bare, 2), ratio(r, bw, 2)])


def verdict_startup(rows, user, group="startup", where=""):
    g = by(rows, user, group)
    h, hp, bw, bare = g.get(HARNESS), g.get("harness --max-procs 0"), g.get(BWRAP), g.get(BARE)
    hu, hb = g.get(UNPROT), g.get(BWRAP_LIKE)
    lines = []
    if not (h and bw and "median" in h and "median" in bw):
        return [f"- Startup{where} ({user}): incomplete, see the table."] if g else []
    for r, label in ((h, "default"), (hp, "--max-procs 0"),
                     (hu, "without protected-path placeholders (what bubblewrap does not do)"),
                     (hb, "without placeholders and without the audit record (bubblewrap keeps none)")):
        if not r or "median" not in r:
            continue
        lo, hi = ratio_ci(r["times"], bw["times"])
        rat = r["median"] / bw["median"]
        if hi < 1.0:
            v = "faster than bubblewrap"
        elif lo > 1.0:
            v = "slower than bubblewrap (goal: at or below bubblewrap — not met)"
        else:
            v = "not distinguishable from bubblewrap at this noise level"
        lines.append(
            f"- Startup{where} ({user}, harness {label}): median {ms(r['median'])} ms vs bubblewrap {ms(bw['median'])} ms "
            f"= {rat:.2f}× (95% CI {lo:.2f}–{hi:.2f}): {v}. Bare /bin/true: {ms(bare['median'])} ms; "
            f"p90 {ms(r['p90'])} ms vs {ms(bw['p90'])} ms."
        )
    if h and hp and "median" in h and "median" in hp:
        lines.append(
            f"- Cost of the default process limit{where} ({user}): {ms(h['median'] - hp['median'])} ms at the median, "
            f"{ms(h['p90'] - hp['p90'])} ms at p90, {ms(h['mean'] - hp['mean'])} ms in the mean (default vs --max-procs 0)."
        )
    return lines


def verdict_work(rows, user, group, label):
    g = by(rows, user, group)
    bare = g.get(BARE)
    out = []
    for name in (HARNESS, "harness --max-procs 0", UNPROT, BWRAP_LIKE, BWRAP):
        r = g.get(name)
        if not r or "median" not in r or not bare or "median" not in bare:
            if r and "failed" in r:
                out.append(f"- {label} ({user}, {name}): not measured — {r['failed']}")
            continue
        x, lo, hi, paired = compare(r, bare)
        pct = (x - 1) * 100
        if hi < 0.95:
            v = "faster than bare, which can only be noise: treat this pair as unreliable"
        elif hi <= 1.05:
            v = "within 5% of bare"
        elif lo > 1.05:
            v = "more than 5% over bare (goal not met)"
        else:
            v = "possibly over 5%: the interval straddles the goal"
        what = "median of the per-round ratios" if paired else "ratio of the medians"
        ref = " (the reference, not harness)" if name == BWRAP else ""
        out.append(
            f"- {label} ({user}, {name}{ref}): {ms(r['median'])} ms vs bare {ms(bare['median'])} ms; "
            f"{what} {x:.3f} = {pct:+.1f}% (95% CI {lo:.3f}–{hi:.3f}): {v}."
        )
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--facts", required=True)
    ap.add_argument("--notes", required=True)
    ap.add_argument("--startup-runs", type=int, required=True)
    ap.add_argument("--spaced-runs", type=int, required=True)
    ap.add_argument("--spacing", required=True)
    ap.add_argument("--make-runs", type=int, required=True)
    ap.add_argument("--git-runs", type=int, required=True)
    ap.add_argument("--srt-runs", type=int, required=True)
    ap.add_argument("--scratch", required=True)
    a = ap.parse_args()

    rows = load(a.manifest)
    users = unique(r["user"] for r in rows)

    out = header(
        "harness benchmark results",
        "Written by `bench/run.sh` (`make bench`); every figure below comes from one run on the machine "
        "described here, all tools measured side by side. Do not edit by hand: rerun. "
        "See bench/README.md for what each benchmark measures.",
        a.facts,
    )
    out.append(
        f"Runs per command: startup {a.startup_runs} (4 rounds, 5 warmups each), spaced startup {a.spaced_runs} "
        f"(2 rounds, 2 warmups each, `sleep {a.spacing}` before every run, outside the timing), srt startup {a.srt_runs} "
        f"(1 round, 3 warmups); make {a.make_runs} and git {a.git_runs} interleaved: one run of each command per "
        "round, no warmup (a smoke run has warmed the caches). Each round is one hyperfine call over all commands of the "
        "group; every other round runs them in reverse order. The clean step (make clean, rm -rf repo/.git) "
        "runs before every run, outside the timing. "
        f"Scratch tree: `{a.scratch}` (deleted afterwards). Every command first ran once as a smoke test; a command "
        "that failed it is listed as not measured."
    )
    out.append("")

    out.append("## Headline\n")
    for u in users:
        out += verdict_startup(rows, u)
        out += verdict_startup(rows, u, "startup-spaced", ", spaced")
        out += verdict_startup(rows, u, "startup-tmpfs", ", cwd on tmpfs")
        out += verdict_work(rows, u, "make", "make -j2")
        out += verdict_work(rows, u, "git", "git init+add+commit")
        srt = by(rows, u, "startup-srt")
        s, bw = srt.get("srt"), srt.get(BWRAP)
        h = srt.get(HARNESS)
        if s and "median" in s and h and "median" in h:
            out.append(
                f"- srt ({u}): median {ms(s['median'])} ms, {s['median'] / h['median']:.0f}× harness "
                f"({ms(h['median'])} ms in the same group)."
            )
    out.append("")
    out.append(
        "Startup ratios are ratios of medians; the workloads ran interleaved, and their ratios are medians "
        "of the per-round ratios (each harness run against the bare run made beside it). The interval in "
        "brackets is a 95% bootstrap interval of the ratio. “− bare” is the median minus bare's median (the "
        "sandbox's own cost, for startup)."
    )
    out.append("")

    out += observations(a.notes)

    out.append("## Details\n")
    for u in users:
        for g in ("startup", "startup-spaced", "startup-tmpfs", "startup-srt", "make", "git"):
            table(out, rows, u, g)
    emit(out)


if __name__ == "__main__":
    sys.exit(main())
