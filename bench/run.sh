#!/usr/bin/env bash
# bench/run.sh PATH/TO/harness
#
# Runs every benchmark side by side in one run and overwrites
# bench/RESULTS.md with the figures. Installs nothing: `make bench` runs
# scripts/install-deps.sh bench first (bubblewrap, hyperfine, gcc, make, git).
# srt (npm @anthropic-ai/sandbox-runtime) is measured only when `srt` is
# already on PATH.
#
# Run as root to measure both as root (the pids-cgroup path) and as an
# unprivileged user (created if missing: harness-bench). Run as a normal user
# to measure only that user.
#
# Knobs (environment): BENCH_STARTUP_RUNS (default 200), BENCH_SPACED_RUNS
# (default 40), BENCH_SPACING (seconds idle before each spaced start, 0.2),
# BENCH_MAKE_RUNS
# (default 10), BENCH_GIT_RUNS (default 30), BENCH_SRT_RUNS (default 20),
# BENCH_USER (harness-bench), BENCH_KEEP=1 keeps the scratch tree.
#
# Scratch: startup runs with its cwd on the disk under /tmp (where a project
# would live); as root the workloads (and a second startup group) run on a
# tmpfs mounted for the run, because the disk of the VM this was written on
# (ext4 without a journal, discard) slows every inode allocation for 30 s
# after each deletion, which made the rm-and-recreate workloads drift by
# several times from run to run.
set -euo pipefail

die() { echo "bench: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: $0 PATH/TO/harness"
[ -x "$1" ] || die "$1: not an executable"

HARNESS=$(realpath "$1")
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
OUT="$BENCH_DIR/RESULTS.md"

STARTUP_RUNS=${BENCH_STARTUP_RUNS:-200}
SPACED_RUNS=${BENCH_SPACED_RUNS:-40}
SPACING=${BENCH_SPACING:-0.2}
MAKE_RUNS=${BENCH_MAKE_RUNS:-10}
GIT_RUNS=${BENCH_GIT_RUNS:-30}
SRT_RUNS=${BENCH_SRT_RUNS:-20}
BUSER=${BENCH_USER:-harness-bench}
CLEAN_PATH=/usr/local/bin:/usr/bin:/bin

for t in hyperfine bwrap gcc make git python3 unshare; do
	command -v "$t" >/dev/null || die "$t not found (run: bash scripts/install-deps.sh bench)"
done
PY=$(command -v python3)
HAVE_SRT=0
command -v srt >/dev/null && command -v rg >/dev/null && command -v socat >/dev/null && HAVE_SRT=1

T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
BUSY_START=$(ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 >= 5 {printf "%s%s (%s%%)", sep, $2, $1; sep=", "}')
BASE=$(mktemp -d /tmp/harness-bench.XXXXXX)
chmod 755 "$BASE"
TMPFS=""
cleanup() {
	[ -z "$TMPFS" ] || umount "$TMPFS" 2>/dev/null || true
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$BASE"
}
trap cleanup EXIT
if [ "$(id -u)" -eq 0 ] && mkdir -p "$BASE/tmpfs" && mount -t tmpfs -o size=1g,mode=755 harness-bench "$BASE/tmpfs"; then
	TMPFS="$BASE/tmpfs"
fi
LOG="$BASE/log"
mkdir -p "$LOG"
echo "bench: scratch tree $BASE" >&2

# ---------------------------------------------------------------- users
# Each entry: label, runner prefix (as a string for the report), home.
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

# Measure a snapshot of the binary: a rebuild in the middle of the run (other
# people work in this tree) must not mix two builds into one set of figures,
# and the copy is reachable by every measured user.
HARNESS_ORIG=$HARNESS
mkdir -p "$BASE/bin"
cp "$HARNESS" "$BASE/bin/harness"
chmod 755 "$BASE/bin" "$BASE/bin/harness"
HARNESS="$BASE/bin/harness"

# ---------------------------------------------------------------- workloads
gen_cproject() { # DIR: 50 small C files + Makefile
	local d=$1 i j
	mkdir -p "$d/src"
	for i in $(seq -w 1 50); do
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
		for i in $(seq -w 1 50); do echo "uint64_t f$i(const char *s);"; done
		echo "int main(int argc, char **argv) { const char *s = argc > 1 ? argv[1] : \"bench\"; uint64_t h = 0;"
		for i in $(seq -w 1 50); do echo "	h ^= f$i(s);"; done
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

gen_gitrepo() { # DIR: DIR/repo with 500 small files, DIR/git-work.sh
	local d=$1 i
	mkdir -p "$d/repo/a" "$d/repo/b" "$d/repo/c" "$d/repo/d" "$d/repo/e"
	for i in $(seq 0 499); do
		local sub
		sub=$(printf 'abcde' | cut -c$((i % 5 + 1)))
		printf 'file %d\nline two of %d\n%s\n' "$i" "$i" "$(printf '%0*d' $((i % 40 + 1)) 0)" >"$d/repo/$sub/file$i.txt"
	done
	# The repo lives one level below the sandbox's cwd: at the top of a
	# granted dir harness keeps .git read-only (see the git-init note in
	# RESULTS.md), so `git init` there fails by design.
	cat >"$d/git-work.sh" <<'EOF'
set -e
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
cd repo
git -c init.defaultBranch=main init -q
git add -A
git -c user.name=bench -c user.email=bench@example.invalid commit -q -m bench
EOF
}

# wdir USER: the user's scratch dir on disk; fdir USER: on tmpfs if any.
wdir() { echo "$BASE/disk/$1"; }
fdir() { if [ -n "$TMPFS" ]; then echo "$TMPFS/$1"; else wdir "$1"; fi; }
for u in "${USERS[@]}"; do
	W=$(wdir "$u") F=$(fdir "$u")
	mkdir -p "$W/startup" "$W/json" "$F/startup" "$F/make" "$F/git"
	gen_cproject "$F/make"
	gen_gitrepo "$F/git"
	printf '{"network":{"allowedDomains":[],"deniedDomains":[]},"filesystem":{"denyRead":[],"allowWrite":["%s"],"denyWrite":[]}}\n' \
		"$W/startup" >"$W/srt-settings.json"
	[ "$u" = "$(id -un)" ] || chown -R "$u" "$W" "$F"
done
chmod 755 "$BASE/disk"

# ---------------------------------------------------------------- commands
bwrap_cmp() { # DIR: bubblewrap with comparable isolation (the issue's line)
	# --tmpfs /tmp comes before --bind DIR (the issue's line has it last):
	# DIR is under /tmp here, and a later tmpfs would hide it.
	echo "bwrap --unshare-all --die-with-parent --new-session --ro-bind /usr /usr --ro-bind /etc /etc --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/sbin /sbin --tmpfs /tmp --bind $1 $1 --dev /dev --proc /proc --chdir $1"
}
BWRAP_ROOT="bwrap --unshare-all --die-with-parent --new-session --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp"
UNSHARE="unshare --user --map-root-user --mount --pid --fork --net --ipc --uts --cgroup"

# Manifest for the report: one line per measured command, tab separated:
# user, group, json, name, cwd, command. Failures: user, group, -, name, FAILED, reason.
MANIFEST="$BASE/manifest.tsv"
: >"$MANIFEST"

# smoke USER DIR CMD: run CMD once; 0 if it exits 0.
smoke() {
	local u=$1 d=$2 cmd=$3 errf="$LOG/smoke.$$.err"
	# shellcheck disable=SC2086 # CMD is a word list by design (as hyperfine -N splits it)
	(cd "$d" && as "$u" $cmd) >/dev/null 2>"$errf"
}

# group USER GROUP DIR RUNS WARMUP PREPARE ROUNDS NAME=CMD...
# Splits RUNS over ROUNDS hyperfine calls (WARMUP runs per command in each),
# reversing the command order in every other round, so that drift and bursts
# of other load on the machine spread over all commands instead of landing on
# whichever ran last.
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
	local per=$(((runs + rounds - 1) / rounds)) r i
	for r in $(seq 1 "$rounds"); do
		local args=() json order
		json="$(wdir "$u")/json/$g.$r.json"
		if [ $((r % 2)) -eq 1 ]; then order=$(seq 0 $((${#names[@]} - 1))); else order=$(seq $((${#names[@]} - 1)) -1 0); fi
		for i in $order; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
		[ -n "$prep" ] && args=(--prepare "$prep" "${args[@]}")
		echo "bench: [$u] $g round $r/$rounds: ${names[*]} ($per runs each)" >&2
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
}

# ---------------------------------------------------------------- probes
# Facts about harness that shape the workloads, recorded in the report.
NOTES="$BASE/notes.md"
: >"$NOTES"
probe_git_top() {
	local u=$1 d
	d="$(fdir "$u")/probe-git"
	mkdir -p "$d"
	[ "$u" = "$(id -un)" ] || chown "$u" "$d"
	local out rc=0
	out=$(cd "$d" && as "$u" "$HARNESS" run -- git init -q 2>&1) || rc=$?
	if [ $rc -eq 0 ]; then
		echo "- [$u] \`harness run -- git init\` at the top of the granted cwd: works." >>"$NOTES"
	else
		echo "- [$u] \`harness run -- git init\` at the top of the granted cwd fails (exit $rc): \`$(echo "$out" | head -2 | tr '\n' ' ')\`. The default policy keeps \`.git\` read-only there (a placeholder is created when it is missing), so the git benchmark keeps its repository one directory below the sandbox's cwd." >>"$NOTES"
	fi
}

# As root on a host whose pids controller is on cgroup v1, the default run
# moves the sandbox into a fresh pids cgroup. Such a move takes the cgroup
# threadgroup rwsem for writing, which normally waits for an RCU grace period
# unless the kernel's favordynmods mode is on (a mount option; once any
# hierarchy was mounted with it, it stays on until reboot). Time a few moves
# of an idle process, spaced out, so the report says which case this is.
probe_cgroup_attach() {
	[ "$(id -u)" -eq 0 ] || return 0
	local pids=/sys/fs/cgroup/pids
	[ -w "$pids/cgroup.procs" ] || return 0
	local d="$pids/harness-bench-probe-$$" out
	mkdir "$d" 2>/dev/null || return 0
	out=$("$PY" - "$d/cgroup.procs" <<'PYEOF'
import subprocess, sys, time, statistics
ts = []
for _ in range(7):
    p = subprocess.Popen(["sleep", "5"])
    time.sleep(0.25)
    t = time.perf_counter()
    with open(sys.argv[1], "w") as f:
        f.write(str(p.pid))
    ts.append((time.perf_counter() - t) * 1000)
    p.kill()
    p.wait()
print(f"median {statistics.median(ts):.2f} ms, max {max(ts):.2f} ms over {len(ts)} moves")
PYEOF
	) || out="probe failed"
	rmdir "$d" 2>/dev/null || true
	local fdm="not seen"
	if grep -q favordynmods /proc/mounts 2>/dev/null || dmesg 2>/dev/null | grep -q favordynmods; then
		fdm="seen (in /proc/mounts or the kernel log): the RCU wait is gone until reboot"
	fi
	echo "- Moving an idle process into a fresh cgroup v1 pids cgroup, 0.25 s apart: $out. favordynmods: $fdm. A move that waits for an RCU grace period takes several ms (this is what the default --max-procs costs a root run on a hybrid host); one that does not takes well under 1 ms." >>"$NOTES"
}
probe_cgroup_attach

# The default read-only entries that make placeholders in a fresh directory
# (policies/restrict.json), unprotected for the "no placeholders" rows.
UNPROT_ARGS=""
for e in .git/hooks .git/config .git/commondir .git/modules .git/worktrees .gitmodules \
	.claude .codex .mcp.json .vscode .idea .cursor .aider.conf.yml; do
	UNPROT_ARGS="$UNPROT_ARGS --unprotect $e"
done

# ---------------------------------------------------------------- run
for u in "${USERS[@]}"; do
	W=$(wdir "$u") F=$(fdir "$u")
	probe_git_top "$u"

	S="$W/startup"
	group "$u" startup "$S" "$STARTUP_RUNS" 5 "" 4 \
		"bare=/bin/true" \
		"harness=$HARNESS run -- /bin/true" \
		"harness --max-procs 0=$HARNESS run --max-procs 0 -- /bin/true" \
		"harness --unprotect (no placeholders)=$HARNESS run$UNPROT_ARGS -- /bin/true" \
		"bwrap (comparable)=$(bwrap_cmp "$S") /bin/true" \
		"bwrap --ro-bind / /=$BWRAP_ROOT /bin/true" \
		"unshare (namespaces only)=$UNSHARE /bin/true"

	# The same starts with the machine idle for a moment before each, as when
	# an agent runs one command at a time: back-to-back loops keep some
	# kernel state warm (RCU sync of the cgroup attach, the disk's discard
	# batching) that a lone start does not find.
	group "$u" startup-spaced "$S" "$SPACED_RUNS" 2 "sleep $SPACING" 2 \
		"bare=/bin/true" \
		"harness=$HARNESS run -- /bin/true" \
		"harness --max-procs 0=$HARNESS run --max-procs 0 -- /bin/true" \
		"bwrap (comparable)=$(bwrap_cmp "$S") /bin/true"

	if [ $HAVE_SRT = 1 ]; then
		group "$u" startup-srt "$S" "$SRT_RUNS" 3 "" 1 \
			"bare=/bin/true" \
			"harness=$HARNESS run -- /bin/true" \
			"bwrap (comparable)=$(bwrap_cmp "$S") /bin/true" \
			"srt=srt --settings $W/srt-settings.json -- /bin/true"
	fi

	if [ -n "$TMPFS" ]; then
		S="$F/startup"
		group "$u" startup-tmpfs "$S" "$STARTUP_RUNS" 5 "" 4 \
			"bare=/bin/true" \
			"harness=$HARNESS run -- /bin/true" \
			"harness --max-procs 0=$HARNESS run --max-procs 0 -- /bin/true" \
			"bwrap (comparable)=$(bwrap_cmp "$S") /bin/true"
	fi

	M="$F/make"
	group "$u" make "$M" "$MAKE_RUNS" 0 "make -s clean" 5 \
		"bare=make -s -j2" \
		"harness=$HARNESS run -- make -s -j2" \
		"harness --max-procs 0=$HARNESS run --max-procs 0 -- make -s -j2" \
		"bwrap (comparable)=$(bwrap_cmp "$M") make -s -j2"

	G="$F/git"
	group "$u" git "$G" "$GIT_RUNS" 1 "rm -rf repo/.git" 3 \
		"bare=sh git-work.sh" \
		"harness=$HARNESS run -- sh git-work.sh" \
		"harness --max-procs 0=$HARNESS run --max-procs 0 -- sh git-work.sh" \
		"harness --unprotect (no placeholders)=$HARNESS run$UNPROT_ARGS -- sh git-work.sh" \
		"bwrap (comparable)=$(bwrap_cmp "$G") sh git-work.sh"
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
	printf 'Scratch filesystem (startup)\t%s%s\n' "$(findmnt -no FSTYPE,OPTIONS -T "$BASE" | head -1)" \
		"$([ -d /proc/fs/jbd2 ] && [ -z "$(ls /proc/fs/jbd2 2>/dev/null)" ] && [ "$(findmnt -no FSTYPE -T "$BASE")" = ext4 ] && echo ' (no journal)')"
	printf 'Scratch filesystem (workloads)\t%s\n' "$([ -n "$TMPFS" ] && echo 'tmpfs mounted for the run' || echo 'same as startup (tmpfs needs root)')"
	printf 'harness\t%s (%s, copied to the scratch dir for the run; sha256 %s)\n' "$("$HARNESS" --version 2>&1 | head -1)" "$HARNESS_ORIG" "$(sha256sum "$HARNESS" | cut -c1-16)"
	if git -C "$REPO" rev-parse HEAD >/dev/null 2>&1; then
		printf 'Repository commit\t%s%s\n' "$(git -C "$REPO" rev-parse --short HEAD)" \
			"$([ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ] && echo ' (working tree has uncommitted changes)')"
	fi
	printf 'bubblewrap\t%s\n' "$(bwrap --version)"
	printf 'hyperfine\t%s\n' "$(hyperfine --version)"
	printf 'unshare\t%s\n' "$(unshare --version | head -1)"
	printf 'gcc / make / git\t%s / %s / %s\n' "$(gcc -dumpfullversion)" "$(make --version | head -1)" "$(git --version)"
	if [ $HAVE_SRT = 1 ]; then
		printf 'srt\t%s (%s)\n' "$(srt --version 2>&1 | head -1)" "$(command -v srt)"
	else
		printf 'srt\tnot measured: srt, rg or socat not on PATH (npm install -g @anthropic-ai/sandbox-runtime; apt-get install ripgrep socat)\n'
	fi
	printf 'Users measured\t%s\n' "${USERS[*]}"
	printf 'Load average (1/5/15 min) at start / end\t%s / %s\n' "$LOAD_START" "$LOAD_END"
	printf 'Processes above 5%% CPU at start (lifetime average)\t%s\n' "${BUSY_START:-none}"
	printf 'Total bench time\t%s s\n' "$((T_END - T_START))"
} >"$FACTS"

"$PY" "$BENCH_DIR/report.py" --manifest "$MANIFEST" --facts "$FACTS" --notes "$NOTES" \
	--startup-runs "$STARTUP_RUNS" --spaced-runs "$SPACED_RUNS" --spacing "$SPACING" --make-runs "$MAKE_RUNS" --git-runs "$GIT_RUNS" --srt-runs "$SRT_RUNS" \
	--scratch "$BASE" >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "bench: wrote $OUT ($((T_END - T_START)) s)" >&2
