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
# (default 12), BENCH_GIT_RUNS (default 40), BENCH_SRT_RUNS (default 20),
# BENCH_USER (harness-bench), BENCH_KEEP=1 keeps the scratch tree.
#
# Scratch: startup runs with its cwd on the disk under /tmp (where a project
# would live); as root the workloads (and a second startup group) run on a
# tmpfs mounted for the run, because the disk of the VM this was written on
# (ext4 without a journal, discard) slows every inode allocation for 30 s
# after each deletion, which made the rm-and-recreate workloads drift by
# several times from run to run.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_args "$@"
OUT="$BENCH_DIR/RESULTS.md"

STARTUP_RUNS=${BENCH_STARTUP_RUNS:-200}
SPACED_RUNS=${BENCH_SPACED_RUNS:-40}
SPACING=${BENCH_SPACING:-0.2}
MAKE_RUNS=${BENCH_MAKE_RUNS:-12}
GIT_RUNS=${BENCH_GIT_RUNS:-40}
SRT_RUNS=${BENCH_SRT_RUNS:-20}

need hyperfine bwrap gcc make git python3 unshare
HAVE_SRT=0
command -v srt >/dev/null && command -v rg >/dev/null && command -v socat >/dev/null && HAVE_SRT=1

bench_start harness-bench 1g
bench_users
snapshot_harness

# ---------------------------------------------------------------- workloads
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

for u in "${USERS[@]}"; do
	W=$(wdir "$u") F=$(fdir "$u")
	mkdir -p "$W/startup" "$W/json" "$F/startup" "$F/make" "$F/git"
	gen_cproject "$F/make" 50
	gen_gitrepo "$F/git"
	printf '{"network":{"allowedDomains":[],"deniedDomains":[]},"filesystem":{"denyRead":[],"allowWrite":["%s"],"denyWrite":[]}}\n' \
		"$W/startup" >"$W/srt-settings.json"
	[ "$u" = "$ME" ] || chown -R "$u" "$W" "$F"
done
chmod 755 "$BASE/disk"

# ---------------------------------------------------------------- commands
BWRAP_ROOT="bwrap --unshare-all --die-with-parent --new-session --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp"
UNSHARE="unshare --user --map-root-user --mount --pid --fork --net --ipc --uts --cgroup"

# ---------------------------------------------------------------- probes
# Facts about harness that shape the workloads, recorded in the report.
probe_git_top() {
	local u=$1 d
	d="$(fdir "$u")/probe-git"
	mkdir -p "$d"
	[ "$u" = "$ME" ] || chown "$u" "$d"
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
		"harness --no-audit --unprotect (bubblewrap feature set)=$HARNESS run --no-audit$UNPROT_ARGS -- /bin/true" \
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

	# The workloads run interleaved, one run of each command per round
	# (ROUNDS = RUNS), so that each harness run is compared with the bare
	# run made next to it (see bench/benchlib.py): on a shared VM, seconds-
	# long workloads drift by more than the overheads measured.
	M="$F/make"
	group "$u" make "$M" "$MAKE_RUNS" 0 "make -s clean" "$MAKE_RUNS" \
		"bare=make -s -j2" \
		"harness=$HARNESS run -- make -s -j2" \
		"harness --max-procs 0=$HARNESS run --max-procs 0 -- make -s -j2" \
		"bwrap (comparable)=$(bwrap_cmp "$M") make -s -j2"

	G="$F/git"
	group "$u" git "$G" "$GIT_RUNS" 0 "rm -rf repo/.git" "$GIT_RUNS" \
		"bare=sh git-work.sh" \
		"harness=$HARNESS run -- sh git-work.sh" \
		"harness --max-procs 0=$HARNESS run --max-procs 0 -- sh git-work.sh" \
		"harness --unprotect (no placeholders)=$HARNESS run$UNPROT_ARGS -- sh git-work.sh" \
		"harness --no-audit --unprotect (bubblewrap feature set)=$HARNESS run --no-audit$UNPROT_ARGS -- sh git-work.sh" \
		"bwrap (comparable)=$(bwrap_cmp "$G") sh git-work.sh"
done

bench_end

# ---------------------------------------------------------------- facts
{
	facts_machine
	facts_cgroups
	printf 'Scratch filesystem (startup)\t%s%s\n' "$(findmnt -no FSTYPE,OPTIONS -T "$BASE" | head -1)" "$(no_journal "$BASE")"
	printf 'Scratch filesystem (workloads)\t%s\n' "$([ -n "$TMPFS" ] && echo 'tmpfs mounted for the run' || echo 'same as startup (tmpfs needs root)')"
	facts_harness
	facts_commit
	printf 'bubblewrap\t%s\n' "$(bwrap --version)"
	printf 'hyperfine\t%s\n' "$(hyperfine --version)"
	printf 'unshare\t%s\n' "$(unshare --version | head -1)"
	printf 'gcc / make / git\t%s / %s / %s\n' "$(gcc -dumpfullversion)" "$(make --version | head -1)" "$(git --version)"
	if [ $HAVE_SRT = 1 ]; then
		printf 'srt\t%s (%s)\n' "$(srt --version 2>&1 | head -1)" "$(command -v srt)"
	else
		printf 'srt\tnot measured: srt, rg or socat not on PATH (npm install -g @anthropic-ai/sandbox-runtime; apt-get install ripgrep socat)\n'
	fi
	facts_end
} >"$FACTS"

"$PY" -B "$BENCH_DIR/report.py" --manifest "$MANIFEST" --facts "$FACTS" --notes "$NOTES" \
	--startup-runs "$STARTUP_RUNS" --spaced-runs "$SPACED_RUNS" --spacing "$SPACING" --make-runs "$MAKE_RUNS" --git-runs "$GIT_RUNS" --srt-runs "$SRT_RUNS" \
	--scratch "$BASE" >"$OUT.tmp"
bench_finish
