"""What the bench reports share: report.py (RESULTS.md), report-net.py
(RESULTS-net.md) and the reports inline in run-exec.sh and run-review.sh.

Statistics over the hyperfine JSON of one run (load() merges the rounds of
each group from the manifest that bench/lib.sh's group writes), number
formats, and the parts every report has: the header with the machine facts,
the observations made during the run, and the per-group tables with their
exact commands. Ratios carry a 95% bootstrap interval so that noise is
visible rather than rounded away.

Two commands measured interleaved (one run of each in every round, the
order reversed every other round: lib.sh's group with ROUNDS = RUNS) are
compared pair by pair: the ratio is the median of the per-round ratios,
and its interval comes from resampling rounds. A pair of runs made seconds
apart shares the machine's state of the moment (other load, the host's
steal, thermal and cache state), which a ratio of two separately sampled
medians has to carry as noise. Otherwise the ratio is that of the medians.
"""
import glob
import json
import random
import statistics


def quantile(xs, q):
    xs = sorted(xs)
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def ratio_ci(a, b, n=2000, seed=1):
    """95% bootstrap interval of median(a) / median(b)."""
    rng = random.Random(seed)
    rs = []
    for _ in range(n):
        ma = statistics.median(rng.choices(a, k=len(a)))
        mb = statistics.median(rng.choices(b, k=len(b)))
        rs.append(ma / mb)
    rs.sort()
    return rs[int(0.025 * n)], rs[int(0.975 * n) - 1]


def diff_ci(a, b, n=2000, seed=1):
    """95% bootstrap interval of median(a) - median(b), in seconds."""
    rng = random.Random(seed)
    ds = sorted(statistics.median(rng.choices(a, k=len(a))) - statistics.median(rng.choices(b, k=len(b)))
                for _ in range(n))
    return ds[int(0.025 * n)], ds[int(0.975 * n) - 1]


def paired_ratios(a, b):
    """The per-round ratios of a over b when both ran interleaved (one run
    each in every round, the same rounds), else None."""
    ra, rb = a.get("rounds"), b.get("rounds")
    if not ra or not rb or ra.keys() != rb.keys():
        return None
    if any(len(ra[k]) != 1 or len(rb[k]) != 1 for k in ra):
        return None
    return [ra[k][0] / rb[k][0] for k in sorted(ra)]


def median_ci(xs, n=2000, seed=1):
    """95% bootstrap interval of median(xs)."""
    rng = random.Random(seed)
    ms_ = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(n))
    return ms_[int(0.025 * n)], ms_[int(0.975 * n) - 1]


def compare(a, b):
    """(ratio, lo, hi, paired) of row a over row b: the median of the
    per-round ratios when they ran interleaved, else the ratio of the
    medians; with a 95% bootstrap interval either way."""
    pr = paired_ratios(a, b)
    if pr and len(pr) >= 3:
        lo, hi = median_ci(pr)
        return statistics.median(pr), lo, hi, True
    lo, hi = ratio_ci(a["times"], b["times"])
    return a["median"] / b["median"], lo, hi, False


def ms(x):
    x *= 1000.0
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def load(manifest):
    """The manifest's rows (user, group, prefix, name, cwd, cmd), each with
    its statistics over all rounds, or "failed" with the reason."""
    rows = []
    with open(manifest) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 6:
                continue
            user, group, prefix, name, cwd, cmd = parts
            rows.append(dict(user=user, group=group, prefix=prefix, name=name, cwd=cwd, cmd=cmd))
    cache = {}
    for r in rows:
        if r["prefix"] == "-":
            r["failed"] = r["cmd"]
            continue
        if r["prefix"] not in cache:
            merged = {}
            for path in sorted(glob.glob(r["prefix"] + ".*.json")):
                with open(path) as f:
                    for res in json.load(f)["results"]:
                        m = merged.setdefault(res["command"], {"times": [], "user": [], "system": [], "exit": [],
                                                               "rounds": {}})
                        m["times"] += res["times"]
                        m["rounds"][path] = list(res["times"])
                        m["user"].append((res["user"], len(res["times"])))
                        m["system"].append((res["system"], len(res["times"])))
                        m["exit"] += res.get("exit_codes") or []
            cache[r["prefix"]] = merged
        m = cache[r["prefix"]].get(r["name"])
        if not m or not m["times"]:
            r["failed"] = "no timing data"
            continue
        t = m["times"]
        r["times"] = t
        r["rounds"] = m["rounds"]
        r["n"] = len(t)
        r["median"] = statistics.median(t)
        r["min"] = min(t)
        r["p90"] = quantile(t, 0.9)
        r["max"] = max(t)
        r["mean"] = statistics.fmean(t)
        r["sd"] = statistics.stdev(t) if len(t) > 1 else 0.0
        w = sum(k for _, k in m["user"])
        r["cpu_user"] = sum(v * k for v, k in m["user"]) / w
        r["cpu_sys"] = sum(v * k for v, k in m["system"]) / w
        r["nonzero_exit"] = sum(1 for e in m["exit"] if e)
    return rows


def by(rows, user, group):
    return {r["name"]: r for r in rows if r["user"] == user and r["group"] == group}


def unique(xs):
    """xs without repeats, in order of first appearance (the users of a run)."""
    return list(dict.fromkeys(xs))


def ok(r):
    return r is not None and "median" in r


def ratio(r, ref, digits=3):
    """'median ratio (95% interval)' of r over ref."""
    if not ok(r) or not ok(ref):
        return "n/a"
    if r is ref:
        return "1"
    x, lo, hi, paired = compare(r, ref)
    return f"{x:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f}){' †' if paired else ''}"


def goal_verdict(r, ref, what, goal=1.10, straddle_of=True):
    """Whether r's median is within GOAL× ref's: met only when the whole 95%
    interval of the ratio is at or below it."""
    pct = f"{(goal - 1) * 100:.0f}%"
    _, lo, hi, _ = compare(r, ref)
    if hi <= goal:
        return f"within {pct} of {what}: goal met"
    if lo > goal:
        return f"more than {pct} over {what}: goal not met"
    return f"possibly over {pct}{' of ' + what if straddle_of else ''}: the interval straddles the goal"


def header(title, intro, facts):
    """The report's title, its introduction and the machine table (FACTS:
    key TAB value lines)."""
    out = [f"# {title}", "", intro, "", "## Machine\n", "| | |", "|---|---|"]
    with open(facts) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            out.append(f"| {k} | {v} |")
    out.append("")
    return out


def observations(notes):
    """The notes the script took during the run, as a section (if any)."""
    with open(notes) as f:
        nt = f.read().strip()
    return ["## Observations made during the run\n", nt, ""] if nt else []


def command_table(out, title, grp, heads, cells, nonzero=True):
    """One group's table: #, command, runs, median, min and p90 ms, then the
    columns HEADS with CELLS(row) in them; then the exact commands, and the
    rows not measured. NONZERO: say how many runs exited non-zero. Nothing
    for an empty group."""
    if not grp:
        return
    out.append(f"### {title}\n")
    good = [r for r in grp.values() if ok(r)]
    if good:
        cols = ["#", "command", "runs", "median ms", "min ms", "p90 ms"] + heads
        out.append("| " + " | ".join(cols) + " |")
        out.append("|" + "---|" * len(cols))
        paired = False
        for i, r in enumerate(good, 1):
            row = [str(i), r["name"], str(r["n"]), f"**{ms(r['median'])}**", ms(r["min"]), ms(r["p90"])] + cells(r)
            paired = paired or any("†" in c for c in row)
            out.append("| " + " | ".join(row) + " |")
        out.append("")
        if paired:
            out.append("† The commands ran interleaved, one run of each per round (the order reversed every "
                       "other round): the ratio is the median of the per-round ratios, its interval a bootstrap "
                       "over rounds.\n")
        out.append("Exact commands (run with `hyperfine -N`, no shell; cwd in brackets):\n")
        for i, r in enumerate(good, 1):
            out.append(f"{i}. [`{r['cwd']}`] `{r['cmd']}`")
            if nonzero and r.get("nonzero_exit"):
                out.append(f"   - {r['nonzero_exit']} runs exited non-zero")
        out.append("")
    for r in grp.values():
        if "failed" in r:
            out.append(f"- **{r['name']}: not measured** — {r['failed']}")
    out.append("")


def emit(out):
    print("\n".join(out).rstrip() + "\n")
