# bench/lib.sh: what bench/run.sh, run-exec.sh, run-net.sh and run-review.sh
# share. Sourced by each (after `set -euo pipefail`): it defines constants and
# functions and does nothing else until a script calls them.
#
# A script may set BENCH_TAG (the prefix of its messages, "bench") before
# sourcing, define `state_home USER` (as() then gives the user that
# XDG_STATE_HOME) and redefine wdir/fdir after it.

BENCH_TAG=${BENCH_TAG:-bench}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
BUSER=${BENCH_USER:-harness-bench}
CLEAN_PATH=/usr/local/bin:/usr/bin:/bin
ME=$(id -un)
HAVE_PERF=0
if command -v perf >/dev/null; then HAVE_PERF=1; fi

die() { echo "$BENCH_TAG: $*" >&2; exit 1; }

# bench_args "$@": the script's one argument, PATH/TO/harness, as HARNESS.
bench_args() {
	[ $# -eq 1 ] || die "usage: $0 PATH/TO/harness"
	[ -x "$1" ] || die "$1: not an executable"
	HARNESS=$(realpath "$1")
}

# need TOOL...: die unless every TOOL is on PATH; PY is python3.
need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || die "$t not found (run: bash scripts/install-deps.sh bench)"
	done
	PY=$(command -v python3)
}

# ---------------------------------------------------------------- scratch
# bench_start NAME [TMPFS_SIZE]: the start-of-run facts (T_START, LOAD_START,
# BUSY_START), then the scratch tree BASE=/tmp/NAME.XXXXXX with LOG, NOTES
# (Markdown lines for the report's observations), MANIFEST (see group) and
# FACTS, removed at exit unless BENCH_KEEP=1. As root and with TMPFS_SIZE, a
# tmpfs of that size mounted on BASE/tmpfs for the run is TMPFS (else TMPFS
# is empty). At exit, the processes in CLEANUP_PIDS are killed first.
bench_start() {
	local name=$1 size=${2:-}
	T_START=$(date +%s)
	LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
	BUSY_START=$(ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 >= 5 {printf "%s%s (%s%%)", sep, $2, $1; sep=", "}')
	BASE=$(mktemp -d "/tmp/$name.XXXXXX")
	chmod 755 "$BASE"
	TMPFS=""
	CLEANUP_PIDS=""
	trap bench_cleanup EXIT
	if [ -n "$size" ] && [ "$(id -u)" -eq 0 ] && mkdir -p "$BASE/tmpfs" &&
		mount -t tmpfs -o "size=$size,mode=755" "$name" "$BASE/tmpfs"; then
		TMPFS="$BASE/tmpfs"
	fi
	LOG="$BASE/log"
	mkdir -p "$LOG"
	NOTES="$BASE/notes.md"
	: >"$NOTES"
	MANIFEST="$BASE/manifest.tsv"
	: >"$MANIFEST"
	# shellcheck disable=SC2034 # for the scripts
	FACTS="$BASE/facts.tsv"
	echo "$BENCH_TAG: scratch tree $BASE" >&2
}

bench_cleanup() {
	local p
	for p in $CLEANUP_PIDS; do kill "$p" 2>/dev/null || true; done
	[ -z "$TMPFS" ] || umount "$TMPFS" 2>/dev/null || true
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$BASE"
}

# bench_end: the end-of-run facts (T_END, LOAD_END).
bench_end() {
	T_END=$(date +%s)
	LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
}

# bench_finish: the report the script wrote to OUT.tmp replaces OUT.
bench_finish() {
	mv "$OUT.tmp" "$OUT"
	echo "$BENCH_TAG: wrote $OUT ($((T_END - T_START)) s)" >&2
}

# snapshot_harness: measure a snapshot of the binary: a rebuild in the middle
# of the run (other people work in this tree) must not mix two builds into one
# set of figures, and the copy (BASE/bin/harness) is reachable by every
# measured user. HARNESS_ORIG keeps the path given.
snapshot_harness() {
	HARNESS_ORIG=$HARNESS
	mkdir -p "$BASE/bin"
	cp "$HARNESS" "$BASE/bin/harness"
	chmod 755 "$BASE/bin" "$BASE/bin/harness"
	HARNESS="$BASE/bin/harness"
}

# ---------------------------------------------------------------- users
# bench_users: USERS, the users measured: as root, root and an unprivileged
# user (BUSER, created with useradd if missing); otherwise the invoking user.
bench_users() {
	USERS=()
	if [ "$(id -u)" -eq 0 ]; then
		USERS+=(root)
		if ! id "$BUSER" >/dev/null 2>&1; then
			useradd -m -s /bin/bash "$BUSER" || die "useradd $BUSER failed"
		fi
		USERS+=("$BUSER")
	else
		USERS+=("$ME")
	fi
}

# as USER CMD...: run CMD as USER with a clean, identical environment; with
# XDG_STATE_HOME=$(state_home USER) when the script defines state_home.
as() {
	local u=$1; shift
	local home xdg=()
	home=$(getent passwd "$u" | cut -d: -f6)
	if declare -F state_home >/dev/null; then xdg=(XDG_STATE_HOME="$(state_home "$u")"); fi
	if [ "$u" = "$ME" ]; then
		env -i PATH="$CLEAN_PATH" HOME="$home" LANG=C.UTF-8 USER="$u" LOGNAME="$u" "${xdg[@]}" "$@"
	else
		runuser -u "$u" -- env -i PATH="$CLEAN_PATH" HOME="$home" LANG=C.UTF-8 USER="$u" LOGNAME="$u" "${xdg[@]}" "$@"
	fi
}

# wdir USER: the user's scratch dir on the disk; fdir USER: the user's dir on
# the tmpfs when there is one (the workloads), else wdir.
wdir() { echo "$BASE/disk/$1"; }
fdir() { if [ -n "$TMPFS" ]; then echo "$TMPFS/$1"; else wdir "$1"; fi; }

# ---------------------------------------------------------------- workloads
# gen_cproject DIR N [CFILE]: N small C files (CFILE I prints file I; the
# default, cfile_mix, three hash functions), a main.c that calls them all, and
# a Makefile.
gen_cproject() {
	local d=$1 n=$2 cfile=${3:-cfile_mix} i
	mkdir -p "$d/src"
	for i in $(seq -w 1 "$n"); do
		"$cfile" "$i" >"$d/src/f$i.c"
	done
	{
		echo "#include <stdio.h>"
		echo "#include <stdint.h>"
		for i in $(seq -w 1 "$n"); do echo "uint64_t f$i(const char *s);"; done
		echo "int main(int argc, char **argv) { const char *s = argc > 1 ? argv[1] : \"bench\"; uint64_t h = 0;"
		for i in $(seq -w 1 "$n"); do echo "	h ^= f$i(s);"; done
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

cfile_mix() { # I: f<I>() of three small hash functions
	local i=$1 j
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
}

# ---------------------------------------------------------------- commands
bwrap_cmp() { # DIR: bubblewrap with comparable isolation (the issue's line)
	# --tmpfs /tmp comes before --bind DIR (the issue's line has it last):
	# DIR is under /tmp here, and a later tmpfs would hide it.
	echo "bwrap --unshare-all --die-with-parent --new-session --ro-bind /usr /usr --ro-bind /etc /etc --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/sbin /sbin --tmpfs /tmp --bind $1 $1 --dev /dev --proc /proc --chdir $1"
}

# smoke USER DIR CMD [OK_STATUS]: run CMD once; 0 if it exits OK_STATUS (0).
smoke() {
	local u=$1 d=$2 cmd=$3 want=${4:-0} errf="$LOG/smoke.$$.err" st=0
	# shellcheck disable=SC2086 # CMD is a word list by design (as hyperfine -N splits it)
	(cd "$d" && as "$u" $cmd) >/dev/null 2>"$errf" || st=$?
	[ "$st" -eq "$want" ]
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
# Splits RUNS over ROUNDS hyperfine calls (WARMUP runs per command in each),
# reversing the command order in every other round, so that drift and bursts
# of other load on the machine spread over all commands instead of landing on
# whichever ran last. Every command first runs once untimed (a smoke run,
# after PREPARE); one that fails it is reported, not timed. PREPARE (a word
# list) also runs before every timed run, outside the timing.
#
# MANIFEST, for the report: one line per measured command, tab separated:
# user, group, JSON prefix, name, cwd, command. Failures: user, group, -,
# name, cwd, FAILED: reason.
#
# Set for the whole script or for one call (GROUP_X=... group ...):
#   GROUP_OK_STATUS  the exit status every command must give (0); with any
#                    other, hyperfine runs with -i
#   GROUP_SPREAD=1   RUNS in all, spread over the rounds as evenly as they go
#                    (no more rounds than RUNS); otherwise RUNS/ROUNDS,
#                    rounded up, in every round
#   GROUP_LOAD_NOTE=1  a line in NOTES: the load before and after the group
#                    and the busy processes outside the scratch tree
group() {
	local u=$1 g=$2 d=$3 runs=$4 warm=$5 prep=$6 rounds=$7
	shift 7
	local okst=${GROUP_OK_STATUS:-0} spread=${GROUP_SPREAD:-0} names=() cmds=() nc
	for nc in "$@"; do
		local n=${nc%%=*} c=${nc#*=}
		if [ -n "$prep" ]; then
			# shellcheck disable=SC2086
			(cd "$d" && as "$u" $prep) >/dev/null 2>&1 || true
		fi
		if smoke "$u" "$d" "$c" "$okst"; then
			names+=("$n")
			cmds+=("$c")
		else
			local why want=non-zero
			[ "$okst" = 0 ] || want="not $okst"
			why=$(tail -c 300 "$LOG/smoke.$$.err" | tr '\n\t' '  ')
			printf '%s\t%s\t-\t%s\t%s\tFAILED: exit status %s: %s\n' "$u" "$g" "$n" "$d" "$want" "$why" >>"$MANIFEST"
			echo "$BENCH_TAG: [$u] $g/$n failed its smoke run: $why" >&2
		fi
	done
	[ ${#names[@]} -gt 0 ] || return 0
	local load0 r i per
	load0=$(cut -d' ' -f1 /proc/loadavg)
	[ "$spread" = 0 ] || [ "$rounds" -le "$runs" ] || rounds=$runs
	for r in $(seq 1 "$rounds"); do
		local args=() json order
		if [ "$spread" = 0 ]; then
			per=$(((runs + rounds - 1) / rounds))
		else
			per=$((runs / rounds + (r <= runs % rounds ? 1 : 0)))
		fi
		json="$(wdir "$u")/json/$g.$r.json"
		if [ $((r % 2)) -eq 1 ]; then order=$(seq 0 $((${#names[@]} - 1))); else order=$(seq $((${#names[@]} - 1)) -1 0); fi
		for i in $order; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
		[ -n "$prep" ] && args=(--prepare "$prep" "${args[@]}")
		[ "$okst" = 0 ] || args=(-i "${args[@]}")
		echo "$BENCH_TAG: [$u] $g round $r/$rounds: ${#names[@]} commands, $per runs each" >&2
		if ! (cd "$d" && as "$u" hyperfine -N --style basic --warmup "$warm" --runs "$per" \
			--export-json "$json" "${args[@]}") >"$LOG/$u.$g.$r.log" 2>&1; then
			echo "$BENCH_TAG: [$u] hyperfine failed for $g round $r; see below" >&2
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
	if [ "${GROUP_LOAD_NOTE:-0}" = 1 ]; then
		# The measured commands alone keep up to 2 CPUs busy (make -j2), so a
		# 1-minute load well above that means other work shared the machine.
		echo "- [$u] $g: 1-minute load average $load0 before, $(cut -d' ' -f1 /proc/loadavg) after ($(nproc) CPUs); busy processes outside the scratch tree at the end: $(others_busy)." >>"$NOTES"
	fi
}

# ---------------------------------------------------------------- facts
# The facts_* functions print rows of the report's machine table: key TAB
# value, one a line.
virt() {
	local vm ct
	vm=$(systemd-detect-virt --vm 2>/dev/null) || vm=none
	[ "$vm" = none ] && grep -qw hypervisor /proc/cpuinfo && vm='yes (hypervisor CPU flag)'
	ct=$(systemd-detect-virt --container 2>/dev/null) || ct=none
	echo "VM: $vm; container: $ct"
}

# no_journal PATH: " (no journal)" when PATH is on ext4 without a journal.
no_journal() {
	if [ -d /proc/fs/jbd2 ] && [ -z "$(ls /proc/fs/jbd2 2>/dev/null)" ] && [ "$(findmnt -no FSTYPE -T "$1" | head -1)" = ext4 ]; then
		echo ' (no journal)'
	fi
}

facts_machine() {
	printf 'Date (UTC)\t%s\n' "$(date -u '+%Y-%m-%d %H:%M:%S')"
	printf 'Kernel\t%s\n' "$(uname -srm)"
	printf 'CPU\t%s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	printf 'Cores (online)\t%s\n' "$(nproc)"
	printf 'Memory\t%s\n' "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	printf 'Virtualization\t%s\n' "$(virt)"
	# shellcheck disable=SC1091
	printf 'OS\t%s\n' "$(. /etc/os-release && echo "$PRETTY_NAME")"
}

facts_cgroups() {
	printf 'cgroups\t%s\n' "$(if [ -e /sys/fs/cgroup/cgroup.controllers ]; then echo 'v2 (unified)'; elif [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then echo 'hybrid v1 + v2 (pids controller on v1)'; else echo v1; fi)"
}

# facts_harness: the binary measured; facts_build: its meson build options,
# when its build dir has them; facts_commit: the repository's commit.
facts_harness() {
	printf 'harness\t%s (%s, copied to the scratch dir for the run; sha256 %s)\n' "$("$HARNESS" --version 2>&1 | head -1)" "$HARNESS_ORIG" "$(sha256sum "$HARNESS" | cut -c1-16)"
}

facts_build() {
	local opts
	opts="$(dirname "$HARNESS_ORIG")/meson-info/intro-buildoptions.json"
	if [ -f "$opts" ]; then
		printf 'harness build\t%s\n' "$("$PY" -c 'import json,sys; o={x["name"]: x["value"] for x in json.load(open(sys.argv[1]))}; print("meson buildtype=%s, optimization=%s, b_sanitize=%s" % (o.get("buildtype"), o.get("optimization"), o.get("b_sanitize")))' \
			"$opts" 2>/dev/null || echo '?')"
	fi
}

facts_commit() {
	if git -C "$REPO" rev-parse HEAD >/dev/null 2>&1; then
		printf 'Repository commit\t%s%s\n' "$(git -C "$REPO" rev-parse --short HEAD)" \
			"$([ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ] && echo ' (working tree has uncommitted changes)')"
	fi
}

facts_perf() {
	printf 'perf\t%s\n' "$([ $HAVE_PERF = 1 ] && perf --version 2>&1 | head -1 || echo 'not on PATH: no supervisor CPU figures')"
}

# facts_end: the rows every table ends with (after bench_end).
facts_end() {
	printf 'Users measured\t%s\n' "${USERS[*]}"
	printf 'Load average (1/5/15 min) at start / end\t%s / %s\n' "$LOAD_START" "$LOAD_END"
	printf 'Processes above 5%% CPU at start (lifetime average)\t%s\n' "${BUSY_START:-none}"
	printf 'Total bench time\t%s s\n' "$((T_END - T_START))"
}
