#!/usr/bin/env bash
# bench/run-exec.sh PATH/TO/harness
#
# What exec interception and the audit log cost (issue 3): two exec-heavy
# workloads, each run bare, under bubblewrap, under harness with exec
# interception off, and under harness with it on (command rules only, rules
# plus a JSONL audit store, rules plus an SQLite store, a JSONL store without
# rules). Overwrites bench/RESULTS-exec.md with machine facts, the exact
# commands, medians, ratios and whether the goal is met: interception within
# 10% of the same sandbox without it.
#
# How interception is switched (src/cli/cmd_run.c): the supervisor stops
# every execve for a look (seccomp user notification) when there is any
# command rule, any audit store, or -v. So "off" is `--no-audit` plus a
# policy `{"commands": {"defaults": false}}` (layered on the default
# `restrict`, so nothing else changes); `--no-audit` alone leaves it on for
# the built-in command rules.
#
# The audit stores are written on the disk (the scratch tree under /tmp),
# where a real store would live, not on the tmpfs; they are explicit paths in
# the scratch tree rather than the default ~/.local/state/harness/audit.db so
# the run leaves the users' real audit logs alone. They persist across the
# runs of one user, as a real store does.
#
# Audit sink throughput (records/s without the sandbox) is measured by
# bench/run-audit.sh (build/audit_bench) and not repeated here; the report
# quotes bench/RESULTS-audit.md.
#
# Installs nothing: `make bench-exec` runs scripts/install-deps.sh bench first.
# Run as root to measure as root and as an unprivileged user (harness-bench,
# created with useradd if missing), as bench/run.sh does; as root the
# workloads run on a tmpfs mounted for the run.
#
# When perf is on PATH (Debian: linux-perf), one extra run of the loop per
# harness configuration under `perf stat --no-inherit -e task-clock` gives the
# supervisor's own CPU time per exec (the harness process alone, not the
# sandbox), reported beside the wall-clock figures.
#
# Knobs (environment): BENCH_EXECS (2000, execs in the loop), BENCH_LOOP_RUNS
# (8), BENCH_MAKE_FILES (40), BENCH_MAKE_RUNS (16), BENCH_USER
# (harness-bench), BENCH_KEEP=1 keeps the scratch tree.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_args "$@"
OUT="$BENCH_DIR/RESULTS-exec.md"

EXECS=${BENCH_EXECS:-2000}
LOOP_RUNS=${BENCH_LOOP_RUNS:-8}
MAKE_FILES=${BENCH_MAKE_FILES:-40}
MAKE_RUNS=${BENCH_MAKE_RUNS:-16}
# Every group leaves a line on the load in the report's observations.
GROUP_LOAD_NOTE=1

need hyperfine bwrap gcc make python3

bench_start harness-bench-exec 1g
bench_users
snapshot_harness

# ---------------------------------------------------------------- workloads
gen_loop() { # DIR: DIR/exec-loop.sh, EXECS runs of /bin/true from one sh
	cat >"$1/exec-loop.sh" <<EOF
i=0
while [ \$i -lt $EXECS ]; do /bin/true; i=\$((i+1)); done
EOF
}

# wdir USER (policy file, audit stores, JSON) and fdir USER (the workloads)
# as in bench/lib.sh.
for u in "${USERS[@]}"; do
	W=$(wdir "$u") F=$(fdir "$u")
	mkdir -p "$W/json" "$W/audit" "$F/loop" "$F/make"
	# Layered on the default policy (no "extends"): only the built-in
	# command rules go.
	echo '{"commands": {"defaults": false}}' >"$W/no-command-rules.json"
	gen_loop "$F/loop"
	gen_cproject "$F/make" "$MAKE_FILES"
	[ "$u" = "$ME" ] || chown -R "$u" "$W" "$F"
done
chmod 755 "$BASE/disk"

# ---------------------------------------------------------------- commands
# Row names; report-exec reads them back (keep in sync with the Python below).
N_BARE="bare"
N_BWRAP="bwrap (comparable)"
N_OFF="harness, interception off"
N_RULES="harness, on: rules, no audit"
N_JSONL="harness, on: rules + JSONL audit"
N_SQLITE="harness, on: rules + SQLite audit (default)"
N_JNORULES="harness, on: JSONL audit, no rules"

# harness_rows USER WORKLOAD: the NAME=CMD arguments of one group's harness rows.
harness_rows() {
	local u=$1 wl=$2 W A
	W=$(wdir "$u") A="$(wdir "$u")/audit"
	printf '%s\n' \
		"$N_OFF=$HARNESS run --no-audit --policy $W/no-command-rules.json -- $wl" \
		"$N_RULES=$HARNESS run --no-audit -- $wl" \
		"$N_JSONL=$HARNESS run --audit jsonl:$A/rules.jsonl -- $wl" \
		"$N_SQLITE=$HARNESS run --audit sqlite:$A/rules.db -- $wl" \
		"$N_JNORULES=$HARNESS run --policy $W/no-command-rules.json --audit jsonl:$A/norules.jsonl -- $wl"
}

# ---------------------------------------------------------------- probes
# How many execs each workload makes, as harness's audit summary counts them
# (one run with a JSONL store outside the timed ones).
probe_execs() {
	local u=$1 g=$2 d=$3 prep=$4 wl=$5 out
	if [ -n "$prep" ]; then
		# shellcheck disable=SC2086
		(cd "$d" && as "$u" $prep) >/dev/null 2>&1 || true
	fi
	# shellcheck disable=SC2086
	out=$(cd "$d" && as "$u" "$HARNESS" run --audit "jsonl:$(wdir "$u")/audit/probe-$g.jsonl" -- $wl 2>&1 >/dev/null) || true
	out=$(echo "$out" | grep -o 'execs [0-9]*' | head -1 | cut -d' ' -f2)
	printf '%s\t%s\t%s\n' "$u" "$g" "${out:-?}" >>"$BASE/execs.tsv"
}
: >"$BASE/execs.tsv"

# supervisor_cpu USER NAME=CMD...: one run of each harness configuration of the
# loop under perf stat --no-inherit: the CPU time of the harness process itself
# (the supervisor), without the sandbox it starts.
: >"$BASE/supcpu.tsv"
supervisor_cpu() {
	local u=$1 nc out; shift
	[ $HAVE_PERF = 1 ] || return 0
	for nc in "$@"; do
		local n=${nc%%=*} c=${nc#*=}
		# shellcheck disable=SC2086
		out=$(cd "$(fdir "$u")/loop" && as "$u" perf stat --no-inherit -x, -e task-clock,context-switches -- $c 2>&1 >/dev/null) || true
		# As a user with kernel.perf_event_paranoid=2 perf counts user
		# space only (events named task-clock:u): the task clock still
		# counts all the time the process ran, a context switch count
		# does not (it reads 0), so that one is not reported.
		printf '%s\t%s\t%s\t%s\n' "$u" "$n" "$(echo "$out" | awk -F, '$3 ~ /^task-clock/ {print $1}')" \
			"$(echo "$out" | awk -F, '$3 == "context-switches" {print $1}')" >>"$BASE/supcpu.tsv"
	done
}

# ---------------------------------------------------------------- run
for u in "${USERS[@]}"; do
	W=$(wdir "$u") F=$(fdir "$u")
	mapfile -t HL < <(harness_rows "$u" "sh exec-loop.sh")
	probe_execs "$u" loop "$F/loop" "" "sh exec-loop.sh"
	# Interleaved: one run of each command per round (see bench/benchlib.py).
	group "$u" loop "$F/loop" "$LOOP_RUNS" 0 "" "$LOOP_RUNS" \
		"$N_BARE=sh exec-loop.sh" \
		"$N_BWRAP=$(bwrap_cmp "$F/loop") sh exec-loop.sh" \
		"${HL[@]}"
	supervisor_cpu "$u" "${HL[@]}"

	mapfile -t HM < <(harness_rows "$u" "make -s -j2")
	probe_execs "$u" make "$F/make" "make -s clean" "make -s -j2"
	group "$u" make "$F/make" "$MAKE_RUNS" 0 "make -s clean" "$MAKE_RUNS" \
		"$N_BARE=make -s -j2" \
		"$N_BWRAP=$(bwrap_cmp "$F/make") make -s -j2" \
		"${HM[@]}"

	for s in "$W"/audit/rules.jsonl "$W"/audit/norules.jsonl; do
		[ -f "$s" ] && echo "- [$u] \`${s#"$W"/}\` at the end: $(wc -l <"$s") records, $(du -h "$s" | cut -f1)." >>"$NOTES"
	done
	if [ -f "$W/audit/rules.db" ] && command -v sqlite3 >/dev/null; then
		echo "- [$u] \`audit/rules.db\` at the end: $(du -ch "$W"/audit/rules.db* | tail -1 | cut -f1) with its -wal and -shm." >>"$NOTES"
	fi
done

bench_end

# ---------------------------------------------------------------- facts
{
	facts_machine
	facts_cgroups
	printf 'Workloads (sandbox cwd)\t%s\n' "$([ -n "$TMPFS" ] && echo 'tmpfs mounted for the run' || echo "$(findmnt -no FSTYPE -T "$BASE" | head -1) (tmpfs needs root)")"
	printf 'Audit stores\t%s (%s), in %s\n' "$(findmnt -no FSTYPE -T "$BASE" | head -1)" "$(findmnt -no OPTIONS -T "$BASE" | head -1)" "$BASE/disk/USER/audit"
	facts_harness
	facts_build
	facts_commit
	printf 'bubblewrap\t%s\n' "$(bwrap --version)"
	printf 'hyperfine\t%s\n' "$(hyperfine --version)"
	facts_perf
	printf 'sh / gcc / make\t%s / %s / %s\n' "$(readlink -f /bin/sh)" "$(gcc -dumpfullversion)" "$(make --version | head -1)"
	facts_end
} >"$FACTS"

# ---------------------------------------------------------------- report
"$PY" -B - "$BENCH_DIR" "$MANIFEST" "$FACTS" "$NOTES" "$BASE/execs.tsv" "$BASE" "$BASE/supcpu.tsv" \
	"$EXECS" "$LOOP_RUNS" "$MAKE_FILES" "$MAKE_RUNS" >"$OUT.tmp" <<'PYEOF'
import re
import sys

bench_dir, manifest, facts, notes, execs_tsv, scratch, supcpu_tsv = sys.argv[1:8]
n_execs, loop_runs, make_files, make_runs = map(int, sys.argv[8:12])
sys.path.insert(0, bench_dir)
from benchlib import by, command_table, compare, emit, goal_verdict, header, load, ms, observations, ok, ratio, unique

BARE = "bare"
BWRAP = "bwrap (comparable)"
OFF = "harness, interception off"
ON = ["harness, on: rules, no audit", "harness, on: rules + JSONL audit",
      "harness, on: rules + SQLite audit (default)", "harness, on: JSONL audit, no rules"]
GOAL = 1.10
TITLES = {
    "loop": f"sh loop of {n_execs} `/bin/true` execs",
    "make": f"make -j2 of {make_files} C files (clean between runs)",
}

rows = load(manifest)
users = unique(r["user"] for r in rows)
execs = {}
with open(execs_tsv) as f:
    for line in f:
        u, g, n = line.rstrip("\n").split("\t")
        execs[(u, g)] = int(n) if n.isdigit() else None


def per_exec(r, off, n):
    if not ok(r) or not ok(off) or not n:
        return "n/a"
    return f"{(r['median'] - off['median']) / n * 1e6:.0f}"


def verdict(r, off):
    return goal_verdict(r, off, "interception off", GOAL, straddle_of=False)


out = header(
    "Exec interception and audit: benchmark results",
    "Written by `bench/run-exec.sh` (`make bench-exec`); every figure comes from one run on the machine "
    "described here. Do not edit by hand: rerun. See bench/README.md for what is measured and how "
    "interception is switched off. Goal (issue 3): on the make workload, within 10% of bare; reported "
    "as well, for every configuration, against the same sandbox without interception. A goal counts as "
    "met only when the whole 95% interval of the ratio is at or below 1.10.",
    facts,
)
out.append(
    f"Runs per command: loop {loop_runs}, make {make_runs}, interleaved: one hyperfine call (round) per run, "
    "over all commands of the group, every other round in reverse order; ratios are medians of the per-round "
    "ratios, their intervals a bootstrap over rounds (bench/benchlib.py). No warmup (an untimed smoke "
    "run of every command comes first; a command that failed it is listed as not measured). `make -s clean` "
    "runs before every make run, outside the timing. Every command runs under `env -i PATH=... HOME=... "
    f"LANG=C.UTF-8` with `hyperfine -N` (no shell). Scratch tree: `{scratch}` (deleted afterwards)."
)
out.append("")

out.append("## Headline\n")
for u in users:
    for g in ("loop", "make"):
        grp = by(rows, u, g)
        off, bare, bw = grp.get(OFF), grp.get(BARE), grp.get(BWRAP)
        n = execs.get((u, g))
        if not ok(off):
            out.append(f"- {TITLES[g]} ({u}): interception off not measured, no verdict.")
            continue
        base = f"- {TITLES[g]} ({u}): interception off {ms(off['median'])} ms"
        if ok(bare):
            base += f" (bare {ms(bare['median'])} ms, ×{compare(off, bare)[0]:.3f})"
        if ok(bw):
            base += f", bubblewrap {ms(bw['median'])} ms"
        out.append(base + f"; {n if n else '?'} execs per run.")
        for name in ON:
            r = grp.get(name)
            if not ok(r):
                if r and "failed" in r:
                    out.append(f"  - {name}: not measured — {r['failed']}")
                continue
            x, lo, hi, _ = compare(r, off)
            pe = per_exec(r, off, n)
            line = (f"  - {name}: {ms(r['median'])} ms, {(x - 1) * 100:+.1f}% vs interception off "
                    f"(ratio {lo:.3f}–{hi:.3f}), {pe} µs per exec: {verdict(r, off)}")
            if ok(bare):
                # The issue's goal against bare is for the make workload.
                xb, lob, hib, _ = compare(r, bare)
                line += f"; {(xb - 1) * 100:+.1f}% vs bare (ratio {lob:.3f}–{hib:.3f})"
                if g == "make":
                    line += f": {goal_verdict(r, bare, 'bare', GOAL, straddle_of=False)}"
            out.append(line + ".")
out.append("")
out.append(
    "“µs per exec” is (median − interception-off median) / execs counted by harness's audit summary "
    "in a probe run: the cost of one intercepted exec, spread over the workload."
)
out.append("")

# Supervisor CPU per exec (perf stat --no-inherit), when perf was there.
sup = []
with open(supcpu_tsv) as f:
    for line in f:
        u, name, tc, cs = line.rstrip("\n").split("\t")
        sup.append((u, name, tc, cs))
if sup:
    out.append("## Supervisor CPU per exec\n")
    out.append(
        f"One extra run of the {n_execs}-exec loop per configuration, under `perf stat --no-inherit -e "
        "task-clock,context-switches`: the CPU time of the harness process alone (the supervisor that answers "
        "every intercepted exec), not of the sandbox. On a machine with few CPUs this time competes with the "
        "workload; the rest of an intercepted exec's cost is the two context switches and the wait for the "
        "supervisor to be scheduled.\n"
    )
    out.append("| user | configuration | supervisor task-clock ms | µs per exec | context switches |")
    out.append("|---|---|---|---|---|")
    for u, name, tc, cs in sup:
        n = execs.get((u, "loop"))
        try:
            per = f"{float(tc) * 1000 / n:.0f}" if n else "n/a"
            tcs = f"{float(tc):.0f}"
        except ValueError:
            per, tcs = "n/a", tc or "n/a"
        out.append(f"| {u} | {name} | {tcs} | {per} | {cs or 'n/a (perf counts user space only for this user)'} |")
    out.append("")

# Audit sink throughput: measured by bench/run-audit.sh, quoted here.
try:
    with open(f"{bench_dir}/RESULTS-audit.md") as f:
        txt = f.read()
    m = re.search(r"^\| jsonl \| SHA-256 \| no \| (\d+) \| [\d.]+ \| (\d+) \|", txt, re.M)
    s = re.search(r"^\| sqlite \| SHA-256 \| no \| (\d+) \| [\d.]+ \| (\d+) \|", txt, re.M)
    when = re.search(r"^Machine: (.*)$", txt, re.M)
    if m:
        out.append("## Audit sink throughput (from bench/RESULTS-audit.md)\n")
        out.append(
            f"`build/audit_bench` ({when.group(1).rstrip('.') if when else 'see that file'}): JSONL, SHA-256, no fsync: "
            f"**{int(m.group(2)):,} records/s** (goal ≥ 100,000: {'met' if int(m.group(2)) >= 100000 else 'not met'})"
            + (f"; SQLite, SHA-256, no fsync: {int(s.group(2)):,} records/s" if s else "")
            + ". Measured outside the sandbox, through the same API; rerun with `bash bench/run-audit.sh`. "
            "Not rerun by this script."
        )
        out.append("")
except OSError:
    pass

out += observations(notes)

out.append("## Details\n")
for u in users:
    for g in ("loop", "make"):
        grp = by(rows, u, g)
        off, bare, bw = grp.get(OFF), grp.get(BARE), grp.get(BWRAP)
        n = execs.get((u, g))
        command_table(
            out, f"{TITLES[g]} — as {u}", grp,
            ["mean ± sd ms", "× bare (95% CI)", "× interception off (95% CI)", "× bwrap (95% CI)",
             "µs per exec over off"],
            lambda r: [f"{ms(r['mean'])} ± {ms(r['sd'])}", ratio(r, bare), ratio(r, off), ratio(r, bw),
                       per_exec(r, off, n) if r["name"] in ON else ""])
out.append(
    f"`exec-loop.sh` is `i=0; while [ $i -lt {n_execs} ]; do /bin/true; i=$((i+1)); done`; "
    "`no-command-rules.json` is `{\"commands\": {\"defaults\": false}}` (layered on the default policy)."
)
emit(out)
PYEOF
bench_finish
