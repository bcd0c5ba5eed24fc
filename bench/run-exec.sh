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
# (8), BENCH_MAKE_FILES (40), BENCH_MAKE_RUNS (8), BENCH_ROUNDS (4),
# BENCH_USER (harness-bench), BENCH_KEEP=1 keeps the scratch tree.
set -euo pipefail

die() { echo "bench: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: $0 PATH/TO/harness"
[ -x "$1" ] || die "$1: not an executable"

HARNESS=$(realpath "$1")
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
OUT="$BENCH_DIR/RESULTS-exec.md"

EXECS=${BENCH_EXECS:-2000}
LOOP_RUNS=${BENCH_LOOP_RUNS:-8}
MAKE_FILES=${BENCH_MAKE_FILES:-40}
MAKE_RUNS=${BENCH_MAKE_RUNS:-8}
ROUNDS=${BENCH_ROUNDS:-4}
BUSER=${BENCH_USER:-harness-bench}
CLEAN_PATH=/usr/local/bin:/usr/bin:/bin

for t in hyperfine bwrap gcc make python3; do
	command -v "$t" >/dev/null || die "$t not found (run: bash scripts/install-deps.sh bench)"
done
PY=$(command -v python3)
HAVE_PERF=0
command -v perf >/dev/null && HAVE_PERF=1

T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
BUSY_START=$(ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 >= 5 {printf "%s%s (%s%%)", sep, $2, $1; sep=", "}')
BASE=$(mktemp -d /tmp/harness-bench-exec.XXXXXX)
chmod 755 "$BASE"
TMPFS=""
cleanup() {
	[ -z "$TMPFS" ] || umount "$TMPFS" 2>/dev/null || true
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$BASE"
}
trap cleanup EXIT
if [ "$(id -u)" -eq 0 ] && mkdir -p "$BASE/tmpfs" && mount -t tmpfs -o size=1g,mode=755 harness-bench-exec "$BASE/tmpfs"; then
	TMPFS="$BASE/tmpfs"
fi
LOG="$BASE/log"
mkdir -p "$LOG"
echo "bench: scratch tree $BASE" >&2

# ---------------------------------------------------------------- users
USERS=()
if [ "$(id -u)" -eq 0 ]; then
	USERS+=(root)
	if ! id "$BUSER" >/dev/null 2>&1; then
		useradd -m -s /bin/bash "$BUSER" || die "useradd $BUSER failed"
	fi
	USERS+=("$BUSER")
else
	USERS+=("$(id -un)")
fi

# as USER CMD...: run CMD as USER with a clean, identical environment.
as() {
	local u=$1; shift
	local home
	home=$(getent passwd "$u" | cut -d: -f6)
	if [ "$u" = "$(id -un)" ]; then
		env -i PATH="$CLEAN_PATH" HOME="$home" LANG=C.UTF-8 USER="$u" LOGNAME="$u" "$@"
	else
		runuser -u "$u" -- env -i PATH="$CLEAN_PATH" HOME="$home" LANG=C.UTF-8 USER="$u" LOGNAME="$u" "$@"
	fi
}

# Measure a snapshot of the binary (a rebuild during the run must not mix two
# builds), reachable by every measured user.
HARNESS_ORIG=$HARNESS
mkdir -p "$BASE/bin"
cp "$HARNESS" "$BASE/bin/harness"
chmod 755 "$BASE/bin" "$BASE/bin/harness"
HARNESS="$BASE/bin/harness"

# ---------------------------------------------------------------- workloads
gen_loop() { # DIR: DIR/exec-loop.sh, EXECS runs of /bin/true from one sh
	cat >"$1/exec-loop.sh" <<EOF
i=0
while [ \$i -lt $EXECS ]; do /bin/true; i=\$((i+1)); done
EOF
}

gen_cproject() { # DIR: MAKE_FILES small C files + main.c + Makefile
	local d=$1 i j
	mkdir -p "$d/src"
	for i in $(seq -w 1 "$MAKE_FILES"); do
		{
			echo "#include <stdint.h>"
			echo "#include <string.h>"
			for j in 1 2 3; do
				cat <<EOF
static uint64_t mix${j}(uint64_t x) { x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; return x + ${j}; }
uint64_t f${i}_${j}(const char *s, uint64_t seed)
{
	uint64_t h = seed;
	size_t n = strlen(s);
	for (size_t k = 0; k < n; k++) {
		h = mix${j}(h ^ (uint64_t)(unsigned char)s[k]);
		if (h % 7 == ${j}) h += k * ${j}; else h -= k;
	}
	return h;
}
EOF
			done
			echo "uint64_t f${i}(const char *s) { return f${i}_1(s, 1) ^ f${i}_2(s, 2) ^ f${i}_3(s, 3); }"
		} >"$d/src/f$i.c"
	done
	{
		echo "#include <stdio.h>"
		echo "#include <stdint.h>"
		for i in $(seq -w 1 "$MAKE_FILES"); do echo "uint64_t f$i(const char *s);"; done
		echo "int main(int argc, char **argv) { const char *s = argc > 1 ? argv[1] : \"bench\"; uint64_t h = 0;"
		for i in $(seq -w 1 "$MAKE_FILES"); do echo "	h ^= f$i(s);"; done
		printf '\tprintf("%%llx\\n", (unsigned long long)h); return 0; }\n'
	} >"$d/src/main.c"
	cat >"$d/Makefile" <<'EOF'
CC = gcc
CFLAGS = -O2 -Wall
SRCS := $(wildcard src/*.c)
OBJS := $(SRCS:.c=.o)
prog: $(OBJS)
	$(CC) -o $@ $(OBJS)
src/%.o: src/%.c
	$(CC) $(CFLAGS) -c -o $@ $<
clean:
	rm -f prog src/*.o
.PHONY: clean
EOF
}

# wdir USER: the user's scratch dir on disk (policy file, audit stores, JSON);
# fdir USER: the workloads' dir, on tmpfs when there is one.
wdir() { echo "$BASE/disk/$1"; }
fdir() { if [ -n "$TMPFS" ]; then echo "$TMPFS/$1"; else wdir "$1"; fi; }
for u in "${USERS[@]}"; do
	W=$(wdir "$u") F=$(fdir "$u")
	mkdir -p "$W/json" "$W/audit" "$F/loop" "$F/make"
	# Layered on the default policy (no "extends"): only the built-in
	# command rules go.
	echo '{"commands": {"defaults": false}}' >"$W/no-command-rules.json"
	gen_loop "$F/loop"
	gen_cproject "$F/make"
	[ "$u" = "$(id -un)" ] || chown -R "$u" "$W" "$F"
done
chmod 755 "$BASE/disk"

# ---------------------------------------------------------------- commands
bwrap_cmp() { # DIR: bubblewrap with comparable isolation (as in bench/run.sh)
	echo "bwrap --unshare-all --die-with-parent --new-session --ro-bind /usr /usr --ro-bind /etc /etc --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/sbin /sbin --tmpfs /tmp --bind $1 $1 --dev /dev --proc /proc --chdir $1"
}

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

MANIFEST="$BASE/manifest.tsv"
: >"$MANIFEST"

# smoke USER DIR CMD: run CMD once; 0 if it exits 0.
smoke() {
	local u=$1 d=$2 cmd=$3 errf="$LOG/smoke.$$.err"
	# shellcheck disable=SC2086 # CMD is a word list by design (as hyperfine -N splits it)
	(cd "$d" && as "$u" $cmd) >/dev/null 2>"$errf"
}

# others_busy: processes at or above 20% CPU (ps: lifetime average) whose cwd
# is not in the scratch tree: other people's work sharing the machine.
others_busy() {
	local pid pc comm cwd list=""
	while read -r pid pc comm; do
		awk -v p="$pc" 'BEGIN {exit !(p >= 20)}' || continue
		cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || continue
		case "$cwd" in "$BASE"*) continue ;; esac
		list="$list${list:+, }$comm ($pc%)"
	done < <(ps -eo pid=,pcpu=,comm= --sort=-pcpu | head -40)
	echo "${list:-none}"
}

# group USER GROUP DIR RUNS WARMUP PREPARE ROUNDS NAME=CMD...
# As in bench/run.sh: RUNS split over ROUNDS hyperfine calls, every other one
# in reverse order; a command that fails its smoke run is reported, not timed.
group() {
	local u=$1 g=$2 d=$3 runs=$4 warm=$5 prep=$6 rounds=$7
	shift 7
	local names=() cmds=() nc
	for nc in "$@"; do
		local n=${nc%%=*} c=${nc#*=}
		if [ -n "$prep" ]; then
			# shellcheck disable=SC2086
			(cd "$d" && as "$u" $prep) >/dev/null 2>&1 || true
		fi
		if smoke "$u" "$d" "$c"; then
			names+=("$n")
			cmds+=("$c")
		else
			local why
			why=$(tail -c 300 "$LOG/smoke.$$.err" | tr '\n\t' '  ')
			printf '%s\t%s\t-\t%s\t%s\tFAILED: exit status non-zero: %s\n' "$u" "$g" "$n" "$d" "$why" >>"$MANIFEST"
			echo "bench: [$u] $g/$n failed its smoke run: $why" >&2
		fi
	done
	[ ${#names[@]} -gt 0 ] || return 0
	local load0
	load0=$(cut -d' ' -f1 /proc/loadavg)
	local per=$(((runs + rounds - 1) / rounds)) r i
	for r in $(seq 1 "$rounds"); do
		local args=() json order
		json="$(wdir "$u")/json/$g.$r.json"
		if [ $((r % 2)) -eq 1 ]; then order=$(seq 0 $((${#names[@]} - 1))); else order=$(seq $((${#names[@]} - 1)) -1 0); fi
		for i in $order; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
		[ -n "$prep" ] && args=(--prepare "$prep" "${args[@]}")
		echo "bench: [$u] $g round $r/$rounds: ${#names[@]} commands, $per runs each" >&2
		if ! (cd "$d" && as "$u" hyperfine -N --style basic --warmup "$warm" --runs "$per" \
			--export-json "$json" "${args[@]}") >"$LOG/$u.$g.$r.log" 2>&1; then
			echo "bench: [$u] hyperfine failed for $g round $r; see below" >&2
			tail -20 "$LOG/$u.$g.$r.log" >&2
			for i in "${!names[@]}"; do
				printf '%s\t%s\t-\t%s\t%s\tFAILED: hyperfine aborted (round %s): %s\n' "$u" "$g" "${names[$i]}" "$d" "$r" \
					"$(tail -c 300 "$LOG/$u.$g.$r.log" | tr '\n\t' '  ')" >>"$MANIFEST"
			done
			return 0
		fi
	done
	for i in "${!names[@]}"; do
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$u" "$g" "$(wdir "$u")/json/$g" "${names[$i]}" "$d" "${cmds[$i]}" >>"$MANIFEST"
	done
	# The measured commands alone keep up to 2 CPUs busy (make -j2), so a
	# 1-minute load well above that means other work shared the machine.
	echo "- [$u] $g: 1-minute load average $load0 before, $(cut -d' ' -f1 /proc/loadavg) after ($(nproc) CPUs); busy processes outside the scratch tree at the end: $(others_busy)." >>"$NOTES"
}

# ---------------------------------------------------------------- probes
NOTES="$BASE/notes.md"
: >"$NOTES"
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
	group "$u" loop "$F/loop" "$LOOP_RUNS" 0 "" "$ROUNDS" \
		"$N_BARE=sh exec-loop.sh" \
		"$N_BWRAP=$(bwrap_cmp "$F/loop") sh exec-loop.sh" \
		"${HL[@]}"
	supervisor_cpu "$u" "${HL[@]}"

	mapfile -t HM < <(harness_rows "$u" "make -s -j2")
	probe_execs "$u" make "$F/make" "make -s clean" "make -s -j2"
	group "$u" make "$F/make" "$MAKE_RUNS" 0 "make -s clean" "$ROUNDS" \
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

T_END=$(date +%s)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- facts
FACTS="$BASE/facts.tsv"
virt() {
	local vm ct
	vm=$(systemd-detect-virt --vm 2>/dev/null) || vm=none
	[ "$vm" = none ] && grep -qw hypervisor /proc/cpuinfo && vm='yes (hypervisor CPU flag)'
	ct=$(systemd-detect-virt --container 2>/dev/null) || ct=none
	echo "VM: $vm; container: $ct"
}
{
	printf 'Date (UTC)\t%s\n' "$(date -u '+%Y-%m-%d %H:%M:%S')"
	printf 'Kernel\t%s\n' "$(uname -srm)"
	printf 'CPU\t%s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	printf 'Cores (online)\t%s\n' "$(nproc)"
	printf 'Memory\t%s\n' "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	printf 'Virtualization\t%s\n' "$(virt)"
	printf 'OS\t%s\n' "$(. /etc/os-release && echo "$PRETTY_NAME")"
	printf 'cgroups\t%s\n' "$(if [ -e /sys/fs/cgroup/cgroup.controllers ]; then echo 'v2 (unified)'; elif [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then echo 'hybrid v1 + v2 (pids controller on v1)'; else echo v1; fi)"
	printf 'Workloads (sandbox cwd)\t%s\n' "$([ -n "$TMPFS" ] && echo 'tmpfs mounted for the run' || echo "$(findmnt -no FSTYPE -T "$BASE" | head -1) (tmpfs needs root)")"
	printf 'Audit stores\t%s (%s), in %s\n' "$(findmnt -no FSTYPE -T "$BASE" | head -1)" "$(findmnt -no OPTIONS -T "$BASE" | head -1)" "$BASE/disk/USER/audit"
	printf 'harness\t%s (%s, copied to the scratch dir for the run; sha256 %s)\n' "$("$HARNESS" --version 2>&1 | head -1)" "$HARNESS_ORIG" "$(sha256sum "$HARNESS" | cut -c1-16)"
	if [ -f "$(dirname "$HARNESS_ORIG")/meson-info/intro-buildoptions.json" ]; then
		printf 'harness build\t%s\n' "$("$PY" -c 'import json,sys; o={x["name"]: x["value"] for x in json.load(open(sys.argv[1]))}; print("meson buildtype=%s, optimization=%s, b_sanitize=%s" % (o.get("buildtype"), o.get("optimization"), o.get("b_sanitize")))' \
			"$(dirname "$HARNESS_ORIG")/meson-info/intro-buildoptions.json" 2>/dev/null || echo '?')"
	fi
	if git -C "$REPO" rev-parse HEAD >/dev/null 2>&1; then
		printf 'Repository commit\t%s%s\n' "$(git -C "$REPO" rev-parse --short HEAD)" \
			"$([ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ] && echo ' (working tree has uncommitted changes)')"
	fi
	printf 'bubblewrap\t%s\n' "$(bwrap --version)"
	printf 'hyperfine\t%s\n' "$(hyperfine --version)"
	printf 'perf\t%s\n' "$([ $HAVE_PERF = 1 ] && perf --version 2>&1 | head -1 || echo 'not on PATH: no supervisor CPU figures')"
	printf 'sh / gcc / make\t%s / %s / %s\n' "$(readlink -f /bin/sh)" "$(gcc -dumpfullversion)" "$(make --version | head -1)"
	printf 'Users measured\t%s\n' "${USERS[*]}"
	printf 'Load average (1/5/15 min) at start / end\t%s / %s\n' "$LOAD_START" "$LOAD_END"
	printf 'Processes above 5%% CPU at start (lifetime average)\t%s\n' "${BUSY_START:-none}"
	printf 'Total bench time\t%s s\n' "$((T_END - T_START))"
} >"$FACTS"

# ---------------------------------------------------------------- report
"$PY" -B - "$BENCH_DIR" "$MANIFEST" "$FACTS" "$NOTES" "$BASE/execs.tsv" "$BASE" "$BASE/supcpu.tsv" \
	"$EXECS" "$LOOP_RUNS" "$MAKE_FILES" "$MAKE_RUNS" "$ROUNDS" >"$OUT.tmp" <<'PYEOF'
import re
import statistics
import sys

bench_dir, manifest, facts, notes, execs_tsv, scratch, supcpu_tsv = sys.argv[1:8]
n_execs, loop_runs, make_files, make_runs, rounds = map(int, sys.argv[8:13])
sys.path.insert(0, bench_dir)
import report  # bench/report.py: load(), ratio_ci(), ms()

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

rows = report.load(manifest)
users = []
for r in rows:
    if r["user"] not in users:
        users.append(r["user"])
execs = {}
with open(execs_tsv) as f:
    for line in f:
        u, g, n = line.rstrip("\n").split("\t")
        execs[(u, g)] = int(n) if n.isdigit() else None


def ok(r):
    return r is not None and "median" in r


def ratio(r, ref):
    if not ok(r) or not ok(ref):
        return "n/a"
    if r is ref:
        return "1"
    lo, hi = report.ratio_ci(r["times"], ref["times"])
    return f"{r['median'] / ref['median']:.3f} ({lo:.3f}–{hi:.3f})"


def per_exec(r, off, n):
    if not ok(r) or not ok(off) or not n:
        return "n/a"
    return f"{(r['median'] - off['median']) / n * 1e6:.0f}"


def verdict(r, off):
    lo, hi = report.ratio_ci(r["times"], off["times"])
    if hi <= GOAL:
        return "within 10% of interception off: goal met"
    if lo > GOAL:
        return "more than 10% over interception off: goal not met"
    return "possibly over 10%: the interval straddles the goal"


out = ["# Exec interception and audit: benchmark results", ""]
out.append(
    "Written by `bench/run-exec.sh` (`make bench-exec`); every figure comes from one run on the machine "
    "described here. Do not edit by hand: rerun. See bench/README.md for what is measured and how "
    "interception is switched off. Goal (issue 3): exec interception within 10% of the same sandbox "
    "without it; it counts as met only when the whole 95% interval of the ratio is at or below 1.10."
)
out.append("")
out.append("## Machine\n")
out.append("| | |")
out.append("|---|---|")
with open(facts) as f:
    for line in f:
        k, _, v = line.rstrip("\n").partition("\t")
        out.append(f"| {k} | {v} |")
out.append("")
out.append(
    f"Runs per command: loop {loop_runs}, make {make_runs}, each in {rounds} hyperfine calls (rounds) "
    "over all commands of the group, every other round in reverse order, no warmup (an untimed smoke "
    "run of every command comes first; a command that failed it is listed as not measured). `make -s clean` "
    "runs before every make run, outside the timing. Every command runs under `env -i PATH=... HOME=... "
    f"LANG=C.UTF-8` with `hyperfine -N` (no shell). Scratch tree: `{scratch}` (deleted afterwards)."
)
out.append("")

out.append("## Headline\n")
for u in users:
    for g in ("loop", "make"):
        grp = report.by(rows, u, g)
        off, bare, bw = grp.get(OFF), grp.get(BARE), grp.get(BWRAP)
        n = execs.get((u, g))
        if not ok(off):
            out.append(f"- {TITLES[g]} ({u}): interception off not measured, no verdict.")
            continue
        base = f"- {TITLES[g]} ({u}): interception off {report.ms(off['median'])} ms"
        if ok(bare):
            base += f" (bare {report.ms(bare['median'])} ms, ×{off['median'] / bare['median']:.3f})"
        if ok(bw):
            base += f", bubblewrap {report.ms(bw['median'])} ms"
        out.append(base + f"; {n if n else '?'} execs per run.")
        for name in ON:
            r = grp.get(name)
            if not ok(r):
                if r and "failed" in r:
                    out.append(f"  - {name}: not measured — {r['failed']}")
                continue
            lo, hi = report.ratio_ci(r["times"], off["times"])
            pe = per_exec(r, off, n)
            out.append(
                f"  - {name}: {report.ms(r['median'])} ms = {(r['median'] / off['median'] - 1) * 100:+.1f}% "
                f"(ratio {lo:.3f}–{hi:.3f}), {pe} µs per exec: {verdict(r, off)}."
            )
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

with open(notes) as f:
    nt = f.read().strip()
if nt:
    out.append("## Observations made during the run\n")
    out.append(nt)
    out.append("")

out.append("## Details\n")
for u in users:
    for g in ("loop", "make"):
        grp = report.by(rows, u, g)
        if not grp:
            continue
        off, bare, bw = grp.get(OFF), grp.get(BARE), grp.get(BWRAP)
        n = execs.get((u, g))
        out.append(f"### {TITLES[g]} — as {u}\n")
        good = [r for r in grp.values() if ok(r)]
        if good:
            out.append("| # | command | runs | median ms | min ms | p90 ms | mean ± sd ms | × bare (95% CI) "
                       "| × interception off (95% CI) | × bwrap (95% CI) | µs per exec over off |")
            out.append("|---|---|---|---|---|---|---|---|---|---|---|")
            for i, r in enumerate(good, 1):
                out.append(
                    f"| {i} | {r['name']} | {r['n']} | **{report.ms(r['median'])}** | {report.ms(r['min'])} "
                    f"| {report.ms(r['p90'])} | {report.ms(r['mean'])} ± {report.ms(r['sd'])} "
                    f"| {ratio(r, bare)} | {ratio(r, off)} | {ratio(r, bw)} "
                    f"| {per_exec(r, off, n) if r['name'] in ON else ''} |"
                )
            out.append("")
            out.append("Exact commands (run with `hyperfine -N`, no shell; cwd in brackets):\n")
            for i, r in enumerate(good, 1):
                out.append(f"{i}. [`{r['cwd']}`] `{r['cmd']}`")
                if r.get("nonzero_exit"):
                    out.append(f"   - {r['nonzero_exit']} runs exited non-zero")
            out.append("")
        for r in grp.values():
            if "failed" in r:
                out.append(f"- **{r['name']}: not measured** — {r['failed']}")
        out.append("")
out.append(
    f"`exec-loop.sh` is `i=0; while [ $i -lt {n_execs} ]; do /bin/true; i=$((i+1)); done`; "
    "`no-command-rules.json` is `{\"commands\": {\"defaults\": false}}` (layered on the default policy)."
)
print("\n".join(out).rstrip() + "\n")
PYEOF
mv "$OUT.tmp" "$OUT"
echo "bench: wrote $OUT ($((T_END - T_START)) s)" >&2
