#!/usr/bin/env bash
# Audit write throughput (records/s) for the JSONL and SQLite stores, with
# and without fsync, SHA-256 and HMAC: writes bench/RESULTS-audit.md.
# usage: bench/run-audit.sh [BUILD_DIR] [SCRATCH_DIR]; BENCH_AUDIT_RUNS (5):
# how many times each configuration is written, taking turns (the table
# gives the median).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
scratch=${2:-/var/tmp}
out="$here/RESULTS-audit.md"
runs=${BENCH_AUDIT_RUNS:-5}
{
	echo "# Audit write throughput"
	echo
	echo "Written by \`bench/run-audit.sh\`; do not edit by hand."
	echo "Machine: $(uname -sr), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo '?')."
	echo "Command: \`$build/audit_bench $scratch 1 $runs\` (scratch filesystem: $(df -T "$scratch" | awk 'NR==2 {print $2}'))."
	echo "Goal (issue 3): at least 100,000 records/s to JSONL without fsync."
	echo
	"$build/audit_bench" "$scratch" 1 "$runs"
} >"$out"
echo "bench: wrote $out"
