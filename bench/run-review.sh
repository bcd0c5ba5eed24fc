#!/usr/bin/env bash
# bench/run-review.sh PATH/TO/harness
#
# What the workspace overlay and the review gate cost (issue 5): a build on
# the overlay against the same build bare and in the same sandbox without the
# overlay (goal: within 10%), and what staging, the guard and `harness diff`
# take for 10,000 changed files. Overwrites bench/RESULTS-review.md with
# machine facts, the exact commands, medians, ratios and differences.
#
# Groups:
#   build  a generated C project (BENCH_BUILD_FILES .c files and a Makefile),
#          `make -s -j2`, bare, under bubblewrap, `harness run --direct`
#          (the sandbox without the overlay), `--ephemeral` and `--review`
#          (the overlay; --review also stages the build's outputs and runs
#          the guard on them at exit). A prepare step outside the timing
#          (`make -s clean`) starts every run from a clean tree; the runs
#          staged are discarded after the group.
#   files  BENCH_REVIEW_FILES small text files (100 per directory); one
#          process (`mut append`, compiled from C by this script) appends a
#          line to every one of them: bare, --direct, --ephemeral, --review
#          (state dir on the disk), and --review with a second state dir on
#          the tmpfs (as root): as it is, with every guard rule disabled, and
#          with a line that every file turns into a guard finding (sql.drop),
#          and --review into a third state dir on the disk right after
#          discarding the run staged there before. The differences of the
#          medians say where the time goes (see the report). The prepare step
#          rewrites the tree to its pristine contents and discards the run
#          staged in the second (or third) state dir; the runs staged in the
#          default one are discarded after the group, so that no deletion
#          lands just before a run (see "right after a discard").
#   diff   `harness diff ID`, `harness diff ID --stat` of one staged run of
#          the files group, and `harness apply ID` of the run with a finding
#          in every file (refused, exit 2: no terminal, no approver), which
#          is the guard's second pass over the staged blobs by itself.
#
# Every harness command runs with its defaults but for the workspace flag: the
# audit store is the default SQLite one, and, like the staged runs, it lives
# in a private XDG_STATE_HOME in the scratch tree on the disk (/tmp), where
# ~/.local/state would be. The commands' binaries (the harness copy and
# `mut`) sit in $SCRATCH/bin, granted read-only with -r.
#
# If the binary offers a snapshot-copy workspace backend (the environment
# variable HARNESS_WORKSPACE_BACKEND=snapshot; detected when `harness check`
# mentions "snapshot" or the binary holds that variable's name), the build
# and files groups get --ephemeral and --review rows with it as well;
# otherwise the report says it is not present.
#
# Installs nothing: `make bench-review` runs scripts/install-deps.sh bench
# first. Run as root to measure as root and as an unprivileged user
# (harness-bench, created with useradd if missing), as bench/run.sh does; as
# root the projects sit on a tmpfs mounted for the run. bubblewrap is
# optional here (its row is left out when bwrap is not on PATH).
#
# Knobs (environment): BENCH_BUILD_FILES (300), BENCH_BUILD_RUNS (6),
# BENCH_REVIEW_FILES (10000), BENCH_REVIEW_RUNS (5, for the files and diff
# groups), BENCH_ROUNDS (3), BENCH_USER (harness-bench), BENCH_KEEP=1 keeps
# the scratch tree.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_args "$@"
OUT="$BENCH_DIR/RESULTS-review.md"

BUILD_FILES=${BENCH_BUILD_FILES:-300}
BUILD_RUNS=${BENCH_BUILD_RUNS:-6}
REVIEW_FILES=${BENCH_REVIEW_FILES:-10000}
REVIEW_RUNS=${BENCH_REVIEW_RUNS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
# Every group: RUNS spread over ROUNDS hyperfine calls as evenly as they go,
# and a line on the load in the report's observations (see group in lib.sh).
GROUP_SPREAD=1
GROUP_LOAD_NOTE=1

need hyperfine gcc make python3
HAVE_BWRAP=0
command -v bwrap >/dev/null && HAVE_BWRAP=1

bench_start harness-bench-review 4g
bench_users

# wdir USER: the user's scratch dir on disk (state dir, policy, JSON);
# fdir USER: the projects' dir, on tmpfs when there is one (as in lib.sh).
# The user's private state dir (staged runs, audit store) is XDG_STATE_HOME
# in as().
state_home() { echo "$(wdir "$1")/state"; }

snapshot_harness

# mut: writes the pristine tree (gen N: N files, 100 per directory, O_TRUNC,
# so it also resets a tree) and changes it (append clean|drop: one line at
# the end of every regular file under the cwd, names starting with '.'
# skipped). One process, one open+write+close per file.
cat >"$BASE/bin/mut.c" <<'EOF'
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int walk(int dfd, const char *line, size_t len)
{
	DIR *d = fdopendir(dfd);
	if (!d)
		return -1;
	struct dirent *e;
	int r = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (e->d_type == DT_DIR) {
			int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (sub < 0 || walk(sub, line, len) < 0)
				r = -1;
		} else if (e->d_type == DT_REG) {
			int fd = openat(dirfd(d), e->d_name, O_WRONLY | O_APPEND | O_CLOEXEC);
			if (fd < 0 || write(fd, line, len) != (ssize_t)len)
				r = -1;
			if (fd >= 0)
				close(fd);
		}
	}
	closedir(d);
	return r;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "gen")) {
		long n = atol(argv[2]);
		char p[64], buf[1024];
		for (long i = 0; i < n; i++) {
			snprintf(p, sizeof(p), "d%03ld", i / 100);
			if (i % 100 == 0 && mkdir(p, 0755) < 0 && access(p, F_OK) < 0)
				return perror(p), 1;
			snprintf(p, sizeof(p), "d%03ld/f%05ld.txt", i / 100, i);
			int len = 0;
			for (int k = 0; k < 8; k++)
				len += snprintf(buf + len, sizeof(buf) - len,
						"file %ld line %d: the quick brown fox jumps over the lazy dog\n", i, k);
			int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (fd < 0 || write(fd, buf, len) != len)
				return perror(p), 1;
			close(fd);
		}
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "append")) {
		/* drop: a line the guard's sql.drop rule blocks; clean: nothing. */
		const char *line = !strcmp(argv[2], "drop") ? "DROP TABLE users;\n"
							   : "appended by the benchmark\n";
		int dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || walk(dfd, line, strlen(line)) < 0)
			return perror("append"), 1;
		return 0;
	}
	fprintf(stderr, "usage: mut gen N | mut append clean|drop\n");
	return 2;
}
EOF
gcc -O2 -Wall -o "$BASE/bin/mut" "$BASE/bin/mut.c" || die "cannot compile mut"
MUT="$BASE/bin/mut"
chmod 755 "$BASE/bin" "$BASE/bin/harness" "$MUT"

# A snapshot-copy backend, when this binary has one.
SNAPSHOT=0
SNAPSHOT_WHY="not present: \`harness check\` does not mention a snapshot backend and the binary does not hold HARNESS_WORKSPACE_BACKEND"
if "$HARNESS" check 2>&1 | grep -qi snapshot; then
	SNAPSHOT=1 SNAPSHOT_WHY="present (\`harness check\` mentions it): measured with HARNESS_WORKSPACE_BACKEND=snapshot"
elif grep -qa HARNESS_WORKSPACE_BACKEND "$HARNESS"; then
	SNAPSHOT=1 SNAPSHOT_WHY="present (the binary holds HARNESS_WORKSPACE_BACKEND): measured with HARNESS_WORKSPACE_BACKEND=snapshot"
fi

# ---------------------------------------------------------------- workloads
cfile_qsort() { # I: f<I>() of two small functions with some real code (a qsort each)
	local i=$1 j
	echo "#include <stdint.h>"
	echo "#include <stdlib.h>"
	echo "#include <string.h>"
	echo "struct rec${i} { uint64_t key; uint32_t count; char name[24]; };"
	for j in 1 2; do
		cat <<EOF
static uint64_t mix${j}(uint64_t x) { x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; return x + ${j}; }
static int cmp${j}(const void *a, const void *b)
{
	const struct rec${i} *x = a, *y = b;
	return x->key < y->key ? -1 : x->key > y->key;
}
uint64_t f${i}_${j}(const char *s, uint64_t seed)
{
	struct rec${i} t[16];
	uint64_t h = seed;
	size_t n = strlen(s);
	for (size_t k = 0; k < n; k++) {
		h = mix${j}(h ^ (uint64_t)(unsigned char)s[k]);
		if (h % 7 == ${j}) h += k * ${j}; else h -= k;
	}
	for (int k = 0; k < 16; k++) {
		t[k].key = mix${j}(h + (uint64_t)k);
		t[k].count = (uint32_t)(t[k].key >> 40);
		memcpy(t[k].name, s, n < sizeof(t[k].name) ? n : sizeof(t[k].name) - 1);
		t[k].name[sizeof(t[k].name) - 1] = 0;
	}
	qsort(t, 16, sizeof(t[0]), cmp${j});
	for (int k = 0; k < 16; k++)
		h ^= t[k].key + t[k].count + (uint64_t)t[k].name[0];
	return h;
}
EOF
	done
	echo "uint64_t f${i}(const char *s) { return f${i}_1(s, 1) ^ f${i}_2(s, 2); }"
}

# All 32 built-in guard rules, for the row that turns the guard's rules off.
NOGUARD_IDS='"path.env", "path.git-hooks", "path.git-config", "path.shell-rc", "path.ssh", "path.credentials", "path.agent-config", "path.ci", "mode.setuid", "mode.setgid", "mode.executable", "content.large", "content.binary", "guard.match-limit", "sql.drop", "sql.truncate", "sql.delete-all", "shell.rm-root", "shell.chmod-777", "shell.sudo-rm", "shell.kubectl-delete", "shell.docker-rm-all", "shell.curl-pipe-sh", "secret.private-key", "secret.aws-access-key", "secret.github-token", "secret.gitlab-token", "secret.slack-token", "secret.openai-key", "secret.anthropic-key", "secret.google-api-key", "secret.stripe-live-key"'

for u in "${USERS[@]}"; do
	W=$(wdir "$u") F=$(fdir "$u")
	mkdir -p "$W/json" "$W/state" "$W/state3" "$F/build" "$F/files" "$F/state2"
	# Layered on the default policy (no "extends"): only the guard's rules go.
	echo "{\"guard\": {\"disable\": [$NOGUARD_IDS]}}" >"$W/noguard.json"
	"$HARNESS" policy check "$W/noguard.json" >/dev/null || die "$W/noguard.json does not load"
	# discard-all.sh STATE_DIR...: drop every staged run kept there.
	cat >"$W/discard-all.sh" <<EOF
for s in "\$@"; do
	for id in \$(XDG_STATE_HOME="\$s" "$HARNESS" runs --json | sed -n 's/^ *"id": "\\([0-9a-f]*\\)".*/\\1/p'); do
		XDG_STATE_HOME="\$s" "$HARNESS" discard "\$id" >/dev/null 2>&1 || exit 1
	done
done
EOF
	# The prepare steps leave the runs staged in the default state dir
	# alone (they are discarded after the group): a discard just before a
	# run makes that run's blob files slow to create on some disks (ext4
	# without a journal: freed inodes are skipped for 30 s), which the
	# "right after a discard" row measures on its own state dir.
	printf 'cd "%s" && make -s clean\n' "$F/build" >"$W/prep-build.sh"
	printf 'cd "%s" && "%s" gen %s && sh "%s" "%s"\n' "$F/files" "$MUT" "$REVIEW_FILES" "$W/discard-all.sh" "$F/state2" >"$W/prep-files.sh"
	printf 'cd "%s" && "%s" gen %s && sh "%s" "%s"\n' "$F/files" "$MUT" "$REVIEW_FILES" "$W/discard-all.sh" "$W/state3" >"$W/prep-files-discard.sh"
	gen_cproject "$F/build" "$BUILD_FILES" cfile_qsort
	(cd "$F/files" && "$MUT" gen "$REVIEW_FILES")
	# The user's own group as well: a file whose group the user namespace
	# does not map cannot be copied up (EOVERFLOW).
	[ "$u" = "$ME" ] || chown -R "$u:$(id -gn "$u")" "$W" "$F"
done
chmod 755 "$BASE/disk"

# ---------------------------------------------------------------- commands
# Row names; the report reads them back (keep in sync with the Python below).
N_BARE="bare"
N_BWRAP="bwrap (comparable)"
N_DIRECT="harness --direct"
N_EPH="harness --ephemeral"
N_REV="harness --review"
N_SEPH="harness --ephemeral, snapshot backend"
N_SREV="harness --review, snapshot backend"
# The rows that take the guard apart keep their state dir on the tmpfs (as
# root): on the disk, its own costs drown the guard's.
if [ -n "$TMPFS" ]; then ST2="state dir on tmpfs"; else ST2="second state dir on disk"; fi
N_AFTER="harness --review, right after a discard"
N_TMPST="harness --review, $ST2"
N_NOGUARD="harness --review, $ST2, guard rules off"
N_FIND="harness --review, $ST2, a finding in every file"
N_DIFF="harness diff ID"
N_STAT="harness diff ID --stat"
N_APPLY="harness apply ID (refused: block findings)"

H_RUN="$HARNESS run -r $BASE/bin"
SNAP_ENV="env HARNESS_WORKSPACE_BACKEND=snapshot"

# supervisor_cpu USER GROUP DIR PREPARE NAME=CMD...: one more run of each
# harness row under perf stat --no-inherit: the CPU time of the harness
# process itself (the supervisor: it collects, stages and guards the changes
# at exit), not of the sandbox it starts.
: >"$BASE/supcpu.tsv"
supervisor_cpu() {
	local u=$1 g=$2 d=$3 prep=$4 nc out; shift 4
	[ $HAVE_PERF = 1 ] || return 0
	for nc in "$@"; do
		local n=${nc%%=*} c=${nc#*=}
		case "$n" in harness*) ;; *) continue ;; esac
		# shellcheck disable=SC2086
		(cd "$d" && as "$u" $prep) >/dev/null 2>&1 || true
		# The env of the snapshot and tmpfs-state rows would be the
		# process perf counts: give perf the harness command itself.
		local pre=() cmd=$c
		while [ "${cmd%% *}" = env ] || [[ "${cmd%% *}" == *=* ]]; do
			[ "${cmd%% *}" = env ] || pre+=("${cmd%% *}")
			cmd=${cmd#* }
		done
		# shellcheck disable=SC2086
		out=$(cd "$d" && as "$u" env "${pre[@]}" perf stat --no-inherit -x, -e task-clock -- $cmd 2>&1 >/dev/null) || true
		printf '%s\t%s\t%s\t%s\n' "$u" "$g" "$n" "$(echo "$out" | awk -F, '$3 ~ /^task-clock/ {print $1}')" >>"$BASE/supcpu.tsv"
	done
	# shellcheck disable=SC2086
	(cd "$d" && as "$u" $prep) >/dev/null 2>&1 || true
}

# staged_id USER MODE: the id of the user's one staged run whose command ends
# in "append MODE".
staged_id() {
	as "$1" "$HARNESS" runs --json | "$PY" -c '
import json, sys
rs = [r for r in json.load(sys.stdin) if r["command"].endswith("append " + sys.argv[1])]
print(rs[-1]["id"] if rs else "")' "$2"
}

# ---------------------------------------------------------------- run
: >"$BASE/staged.tsv"
for u in "${USERS[@]}"; do
	W=$(wdir "$u") F=$(fdir "$u")

	# -- build
	rows=("$N_BARE=make -s -j2")
	[ $HAVE_BWRAP = 1 ] && rows+=("$N_BWRAP=$(bwrap_cmp "$F/build") make -s -j2")
	rows+=("$N_DIRECT=$H_RUN --direct -- make -s -j2"
		"$N_EPH=$H_RUN --ephemeral -- make -s -j2"
		"$N_REV=$H_RUN --review -- make -s -j2")
	[ $SNAPSHOT = 1 ] && rows+=("$N_SEPH=$SNAP_ENV $H_RUN --ephemeral -- make -s -j2"
		"$N_SREV=$SNAP_ENV $H_RUN --review -- make -s -j2")
	group "$u" build "$F/build" "$BUILD_RUNS" 0 "sh $W/prep-build.sh" "$ROUNDS" "${rows[@]}"
	# What one --review build stages (untimed).
	# shellcheck disable=SC2086 # H_RUN is a word list
	(cd "$F/build" && as "$u" sh "$W/prep-build.sh" && as "$u" $H_RUN --review -- make -s -j2) >/dev/null 2>"$LOG/$u.build-stage.err" || true
	printf '%s\tbuild\t%s\n' "$u" "$(grep -m1 'staged:' "$LOG/$u.build-stage.err" | sed 's/^harness: review: //')" >>"$BASE/staged.tsv"
	(cd "$F/build" && as "$u" sh "$W/prep-build.sh" && as "$u" sh "$W/discard-all.sh" "$W/state") >/dev/null 2>&1 || true

	# -- files
	rows=("$N_BARE=$MUT append clean"
		"$N_DIRECT=$H_RUN --direct -- $MUT append clean"
		"$N_EPH=$H_RUN --ephemeral -- $MUT append clean"
		"$N_REV=$H_RUN --review -- $MUT append clean"
		"$N_TMPST=env XDG_STATE_HOME=$F/state2 $H_RUN --review -- $MUT append clean"
		"$N_NOGUARD=env XDG_STATE_HOME=$F/state2 $H_RUN --review --policy $W/noguard.json -- $MUT append clean"
		"$N_FIND=env XDG_STATE_HOME=$F/state2 $H_RUN --review -- $MUT append drop")
	[ $SNAPSHOT = 1 ] && rows+=("$N_SEPH=$SNAP_ENV $H_RUN --ephemeral -- $MUT append clean"
		"$N_SREV=$SNAP_ENV $H_RUN --review -- $MUT append clean")
	group "$u" files "$F/files" "$REVIEW_RUNS" 0 "sh $W/prep-files.sh" "$ROUNDS" "${rows[@]}"
	supervisor_cpu "$u" files "$F/files" "sh $W/prep-files.sh" "${rows[@]}"
	t0=$(date +%s%N)
	nruns=$(as "$u" "$HARNESS" runs --json | grep -c '"id"' || true)
	(cd "$F/files" && as "$u" sh "$W/discard-all.sh" "$W/state" "$F/state2" "$W/state3") >/dev/null 2>&1 || true
	t1=$(date +%s%N)
	echo "- [$u] files: the $nruns runs the \`--review\` row (and any snapshot row) staged in the default state dir were discarded after the group, in $(((t1 - t0) / 1000000)) ms." >>"$NOTES"
	# A group of its own: its deletions must not land before the other rows'
	# runs on the same disk.
	rows=("$N_AFTER=env XDG_STATE_HOME=$W/state3 $H_RUN --review -- $MUT append clean")
	group "$u" files-after "$F/files" "$REVIEW_RUNS" 0 "sh $W/prep-files-discard.sh" "$ROUNDS" "${rows[@]}"
	supervisor_cpu "$u" files "$F/files" "sh $W/prep-files-discard.sh" "${rows[@]}"
	(cd "$F/files" && as "$u" sh "$W/discard-all.sh" "$W/state3") >/dev/null 2>&1 || true

	# -- diff: two staged runs of the files group (untimed), then the reads.
	(cd "$F/files" && as "$u" sh "$W/prep-files.sh") >/dev/null 2>&1 || true
	# shellcheck disable=SC2086 # H_RUN is a word list
	(cd "$F/files" && as "$u" $H_RUN --review -- "$MUT" append clean) >/dev/null 2>"$LOG/$u.files-stage.err" || true
	# shellcheck disable=SC2086 # H_RUN is a word list
	(cd "$F/files" && as "$u" $H_RUN --review -- "$MUT" append drop) >/dev/null 2>"$LOG/$u.files-find.err" || true
	ID=$(staged_id "$u" clean || true) IDF=$(staged_id "$u" drop || true)
	printf '%s\tfiles\t%s\n' "$u" "$(grep -m1 'staged:' "$LOG/$u.files-stage.err" | sed 's/^harness: review: //')" >>"$BASE/staged.tsv"
	if [ -n "$ID" ]; then
		RD="$W/state/harness/runs/$ID"
		echo "- [$u] one staged run of ${REVIEW_FILES} changed files (\`$RD\`): $(find "$RD/blobs" -type f | wc -l) blobs, $(du -sk "$RD" | cut -f1) KiB on $(findmnt -no FSTYPE -T "$RD" | head -1) ($(du -sk --apparent-size "$RD" | cut -f1) KiB apparent)." >>"$NOTES"
		rows=("$N_DIFF=$HARNESS diff $ID" "$N_STAT=$HARNESS diff $ID --stat")
		group "$u" diff "$F/files" "$REVIEW_RUNS" 0 "" "$ROUNDS" "${rows[@]}"
		# The refused apply exits 2: timed with hyperfine -i.
		[ -n "$IDF" ] && GROUP_OK_STATUS=2 group "$u" apply "$F/files" "$REVIEW_RUNS" 0 "" "$ROUNDS" "$N_APPLY=$HARNESS apply $IDF"
		t0=$(date +%s%N)
		as "$u" "$HARNESS" discard "$ID" >/dev/null 2>&1 || true
		t1=$(date +%s%N)
		echo "- [$u] \`harness discard\` of that run: $(((t1 - t0) / 1000000)) ms (one run)." >>"$NOTES"
	else
		echo "- [$u] diff: no staged run to read (the --review run failed: $(tail -c 300 "$LOG/$u.files-stage.err" | tr '\n' ' '))." >>"$NOTES"
	fi
	(cd "$F/files" && as "$u" sh "$W/discard-all.sh" "$W/state" "$F/state2" "$W/state3") >/dev/null 2>&1 || true
done

bench_end

# ---------------------------------------------------------------- facts
{
	facts_machine
	printf 'Projects (sandbox cwd)\t%s\n' "$([ -n "$TMPFS" ] && echo 'tmpfs mounted for the run' || echo "$(findmnt -no FSTYPE -T "$BASE" | head -1) (tmpfs needs root)")"
	printf 'State dir (staged runs, audit store)\t%s (%s)%s, %s\n' "$(findmnt -no FSTYPE -T "$BASE" | head -1)" "$(findmnt -no OPTIONS -T "$BASE" | head -1)" \
		"$(no_journal "$BASE")" "$BASE/disk/USER/state"
	printf 'Second state dir (rows that take the guard apart)\t%s\n' "$([ -n "$TMPFS" ] && echo "on the tmpfs: $TMPFS/USER/state2" || echo "on the disk: $BASE/disk/USER/state2")"
	printf 'Overlay upper layer\ta private tmpfs per run (--max-disk, default 1 GiB)\n'
	printf 'Snapshot backend\t%s\n' "$SNAPSHOT_WHY"
	facts_harness
	facts_build
	facts_commit
	printf 'bubblewrap\t%s\n' "$([ $HAVE_BWRAP = 1 ] && bwrap --version || echo 'not on PATH: no bubblewrap row')"
	printf 'hyperfine\t%s\n' "$(hyperfine --version)"
	facts_perf
	printf 'gcc / make\t%s / %s\n' "$(gcc -dumpfullversion)" "$(make --version | head -1)"
	facts_end
} >"$FACTS"

# ---------------------------------------------------------------- report
"$PY" -B - "$BENCH_DIR" "$MANIFEST" "$FACTS" "$NOTES" "$BASE/supcpu.tsv" "$BASE/staged.tsv" "$BASE" \
	"$BUILD_FILES" "$BUILD_RUNS" "$REVIEW_FILES" "$REVIEW_RUNS" "$ROUNDS" "$([ -n "$TMPFS" ] && echo 1 || echo 0)" \
	>"$OUT.tmp" <<'PYEOF'
import sys

bench_dir, manifest, facts, notes, supcpu_tsv, staged_tsv, scratch = sys.argv[1:8]
build_files, build_runs, review_files, review_runs, rounds, on_tmpfs = map(int, sys.argv[8:14])
sys.path.insert(0, bench_dir)
from benchlib import by, command_table, diff_ci, emit, goal_verdict, header, load, ms, observations, ok, ratio, unique

BARE, BWRAP = "bare", "bwrap (comparable)"
DIRECT, EPH, REV = "harness --direct", "harness --ephemeral", "harness --review"
SEPH, SREV = "harness --ephemeral, snapshot backend", "harness --review, snapshot backend"
ST2 = "state dir on tmpfs" if on_tmpfs else "second state dir on disk"
AFTER = "harness --review, right after a discard"
TMPST = f"harness --review, {ST2}"
NOGUARD = f"harness --review, {ST2}, guard rules off"
FIND = f"harness --review, {ST2}, a finding in every file"
DIFF, STAT = "harness diff ID", "harness diff ID --stat"
APPLY = "harness apply ID (refused: block findings)"
GOAL = 1.10
TITLES = {
    "build": f"build: make -j2 of {build_files} C files (clean tree before every run)",
    "files": f"{review_files:,} changed files: one process appends a line to each",
    "diff": f"reading a staged run of {review_files:,} changed files",
    "files-after": f"{review_files:,} changed files, --review right after `harness discard` of the previous run "
                   "(a group of its own)",
    "apply": f"the guard's second pass: apply of a run with a block finding in each of {review_files:,} files",
}
ORDER = ["build", "files", "files-after", "diff", "apply"]

rows = load(manifest)
users = unique(r["user"] for r in rows)
staged = {}
with open(staged_tsv) as f:
    for line in f:
        u, g, s = line.rstrip("\n").split("\t", 2)
        staged[(u, g)] = s
sup = {}
with open(supcpu_tsv) as f:
    for line in f:
        u, g, n, tc = line.rstrip("\n").split("\t")
        sup[(u, g, n)] = tc


def minus(r, ref):
    """'X ms (lo–hi)': median difference with its interval."""
    if not ok(r) or not ok(ref):
        return None
    lo, hi = diff_ci(r["times"], ref["times"])
    return f"{ms(r['median'] - ref['median'])} ms ({ms(lo)} to {ms(hi)})"


def verdict(r, ref, what):
    return goal_verdict(r, ref, what, GOAL)


out = header(
    "Workspace overlay and review gate: benchmark results",
    "Written by `bench/run-review.sh` (`make bench-review`); every figure comes from one run on the machine "
    "described here. Do not edit by hand: rerun. See bench/README.md for what is measured. Goal (issue 5): a "
    "build on the overlay within 10% of bare and of the same sandbox without the overlay (`--direct`); it "
    "counts as met only when the whole 95% interval of the ratio of medians is at or below 1.10.",
    facts,
)
out.append(
    f"Runs per command: build {build_runs}, files {review_runs}, diff and apply {review_runs}, spread over "
    f"{rounds} hyperfine calls (rounds) per group, every other round in reverse order, no warmup (an untimed "
    "smoke run of every command comes first; a command that failed it is listed as not measured). Before every "
    "build and files run, outside the timing, a prepare step restores the pristine tree (`make -s clean`; "
    "`mut gen N` rewrites every file) and, for the rows with a second state dir, discards the run staged there "
    "(`harness discard`); the runs staged in the default state dir are discarded after their group, so that "
    "no deletion lands just before a run but for the row that measures it. Every command runs under `env -i PATH=... HOME=... LANG=C.UTF-8 "
    f"XDG_STATE_HOME=...` with `hyperfine -N` (no shell). Scratch tree: `{scratch}` (deleted afterwards)."
)
out.append("")

out.append("## Headline\n")
for u in users:
    # build
    grp = by(rows, u, "build")
    bare, d = grp.get(BARE), grp.get(DIRECT)
    if ok(bare) and ok(d):
        s = (f"- **{TITLES['build']}** ({u}): bare {ms(bare['median'])} ms, same sandbox without the "
             f"overlay (`--direct`) {ms(d['median'])} ms (×{d['median'] / bare['median']:.3f} bare)")
        bw = grp.get(BWRAP)
        if ok(bw):
            s += f", bubblewrap {ms(bw['median'])} ms (×{bw['median'] / bare['median']:.3f})"
        out.append(s + ".")
        for name in (EPH, REV, SEPH, SREV):
            r = grp.get(name)
            if r is None:
                continue
            if not ok(r):
                out.append(f"  - {name}: not measured — {r.get('failed', '?')}")
                continue
            out.append(
                f"  - {name}: {ms(r['median'])} ms: ×{r['median'] / bare['median']:.3f} bare, "
                f"{verdict(r, bare, 'bare')}; ×{r['median'] / d['median']:.3f} `--direct`, "
                f"{verdict(r, d, '--direct')}."
            )
        if (u, "build") in staged:
            out.append(f"  - what one `--review` build staged: {staged[(u, 'build')] or '?'}")
    else:
        out.append(f"- {TITLES['build']} ({u}): bare or `--direct` not measured, no verdict.")
    # files
    grp = by(rows, u, "files")
    g = {k: grp.get(k) for k in (BARE, DIRECT, EPH, REV, NOGUARD, FIND, TMPST, SEPH, SREV)}
    g[AFTER] = by(rows, u, "files-after").get(AFTER)
    if ok(g[REV]) and ok(g[DIRECT]):
        out.append(
            f"- **{TITLES['files']}** ({u}): `--review` {ms(g[REV]['median'])} ms, `--direct` "
            f"{ms(g[DIRECT]['median'])} ms"
            + (f", bare {ms(g[BARE]['median'])} ms" if ok(g[BARE]) else "")
            + ". Differences of medians (95% bootstrap interval):"
        )
        t = "tmpfs" if on_tmpfs else "disk"
        parts = [
            ("overlay, staging and guard (`--review` − `--direct`)", REV, DIRECT),
            ("overlay copy-up and collecting the changes (`--ephemeral` − `--direct`)", EPH, DIRECT),
            ("**staging + guard**, state dir on the disk (`--review` − `--ephemeral`)", REV, EPH),
            (f"**staging + guard**, state dir on {t} (`--review` − `--ephemeral`)", TMPST, EPH),
            ("the disk's share: state dir on the disk rather than tmpfs (blob files, syncfs)", REV, TMPST)
            if on_tmpfs else None,
            ("a `harness discard` of the previous run just before (state dir on the disk)", AFTER, REV),
            (f"the guard's rules (state dir on {t}: every rule on − every rule disabled)", TMPST, NOGUARD),
            (f"{review_files:,} block findings over none (state dir on {t}: matching, recording and printing them)",
             FIND, TMPST),
            ("snapshot backend, --review, over the overlay's", SREV, REV),
        ]
        parts = [x for x in parts if x]
        for label, a, b in parts:
            m = minus(g[a], g[b]) if g.get(a) is not None and g.get(b) is not None else None
            if m:
                per = (g[a]["median"] - g[b]["median"]) / review_files * 1e6
                out.append(f"  - {label}: {m}; {per:.0f} µs per file.")
        if (u, "files") in staged:
            out.append(f"  - what one run staged: {staged[(u, 'files')] or '?'}")
    else:
        out.append(f"- {TITLES['files']} ({u}): `--review` or `--direct` not measured.")
    for gname, names in (("diff", (DIFF, STAT)), ("apply", (APPLY,))):
        grp = by(rows, u, gname)
        for n in names:
            r = grp.get(n)
            if ok(r):
                out.append(f"- `{n}` ({u}, {review_files:,} files): {ms(r['median'])} ms "
                           f"(min {ms(r['min'])}, max {ms(r['max'])}).")
            elif r is not None:
                out.append(f"- `{n}` ({u}): not measured — {r.get('failed', '?')}")
out.append("")
out.append(
    "`--ephemeral` runs the command on the same overlay as `--review` and, at exit, walks the upper layer and "
    "compares it with the real tree as `--review` does, then drops it; `--review` also writes every old and "
    "new content as a blob into the state dir, writes the manifests, reads the blobs back for the guard and "
    "runs it. So `--review` − `--ephemeral` is staging plus the guard, and the guard's rules alone are what "
    "turning them all off saves (the guard still loads every change's contents then). The rows that take the "
    "guard apart keep their state dir on the tmpfs (as root), where the disk's costs do not drown the guard's. "
    "The row “right after a discard” (a group of its own, after the others, so that its deletions do not "
    "reach their runs) stages into a third state dir on the disk whose previous run its prepare step discards "
    "just before: on a disk where freeing inodes makes the next allocations slow (ext4 without a "
    "journal, `discard`: see bench/README.md) that is what an agent's next `--review` meets after a `harness "
    "discard` or `apply`. `apply` of a run with "
    "block findings and no terminal or `--approver` checks the staged blobs and runs the guard again, then "
    "refuses (exit 2) without writing anything: the guard's second pass."
)
out.append("")
if not on_tmpfs:
    out.append("Not run as root: the projects and both state dirs are on the disk.\n")

if sup:
    out.append("## Supervisor CPU (files group)\n")
    out.append(
        "One extra run of each harness row of the files group under `perf stat --no-inherit -e task-clock`: "
        "the CPU time of the harness process alone (it collects, stages and guards at exit), not of the "
        "sandbox, whose overlay copy-ups the kernel charges to the command.\n"
    )
    out.append("| user | row | supervisor task-clock ms |")
    out.append("|---|---|---|")
    for (u, g, n), tc in sup.items():
        try:
            tcs = f"{float(tc):.0f}"
        except ValueError:
            tcs = tc or "n/a"
        out.append(f"| {u} | {n} | {tcs} |")
    out.append("")

out += observations(notes)

out.append("## Details\n")
for u in users:
    for g in ORDER:
        grp = by(rows, u, g)
        bare, d = grp.get(BARE), grp.get(DIRECT)
        command_table(
            out, f"{TITLES[g]} — as {u}", grp,
            ["max ms", "mean ± sd ms", "× bare (95% CI)", "× --direct (95% CI)", "− --direct ms"],
            lambda r: [ms(r["max"]), f"{ms(r['mean'])} ± {ms(r['sd'])}", ratio(r, bare), ratio(r, d),
                       ms(r["median"] - d["median"]) if ok(d) and r is not d else ""],
            # the refused apply exits 2 by design
            nonzero=g != "apply")
out.append(
    "Prepare steps (hyperfine `--prepare`, outside the timing): build: `sh prep-build.sh` = `cd BUILD && make -s "
    "clean`; files: `sh prep-files.sh` = `cd FILES && mut gen N && sh discard-all.sh STATE2` (the row right "
    "after a discard: `prep-files-discard.sh`, the same with its own `STATE3` on the disk), where `discard-all.sh "
    "DIR...` runs `harness discard` on every id `harness runs --json` lists with `XDG_STATE_HOME=DIR`. `mut` "
    "(C, compiled by the script, in the scratch tree's `bin/`): `mut gen N` writes N files of 8 lines (472 "
    "bytes), 100 per directory; `mut append clean` appends `appended by the benchmark`, `mut append drop` "
    "appends `DROP TABLE users;` (a sql.drop block finding) to every file. `noguard.json` is "
    "`{\"guard\": {\"disable\": [...]}}` naming all 32 built-in rules (layered on the default policy)."
)
emit(out)
PYEOF
bench_finish
