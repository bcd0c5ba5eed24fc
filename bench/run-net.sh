#!/usr/bin/env bash
# bench/run-net.sh PATH/TO/harness
#
# The egress proxy measured side by side in one run, and bench/RESULTS-net.md
# overwritten with the figures:
#
#   throughput  a 1 GiB HTTP download from a server on the host's loopback:
#               direct (no sandbox), from inside `harness run` through the
#               CONNECT tunnel, plain-HTTP forwarding and SOCKS5, and through
#               srt's proxy; MB/s (10^6 bytes/s), medians over rounds.
#   rps         small requests (100-byte bodies) one after another, each on a
#               new connection (harness's plain-HTTP path opens one upstream
#               connection per request, so every row pays a connection to
#               the server), and on one kept-alive connection / tunnel.
#   memory      the supervisor (`harness` outside the sandbox) while 1,000
#               connections are open through the proxy: VmRSS, VmHWM, PSS;
#               and small requests made while they are open.
#
# The same client (bench/net_bench.c, built here with gcc) and the same server
# (net_bench serve, on 127.0.0.1, started as the invoking user) serve every
# row; curl rows repeat the download with the tool an agent would use.
#
# srt (npm @anthropic-ai/sandbox-runtime) is measured when srt, rg, socat and
# bwrap are on PATH, as root only. Run as root to also measure as an
# unprivileged user (harness-bench, created if missing), with fewer rows.
#
# Knobs (environment): NETBENCH_BYTES (1073741824), NETBENCH_ROUNDS (5),
# NETBENCH_SRT_ROUNDS (3), NETBENCH_CURL_ROUNDS (3), NETBENCH_USER_ROUNDS (3),
# NETBENCH_REQUESTS (1000 a run), NETBENCH_KA_REQUESTS (5000),
# NETBENCH_CONNS (1000), NETBENCH_HELD_REQUESTS (200), NETBENCH_MEM_ROUNDS (3),
# BENCH_USER (harness-bench), BENCH_KEEP=1 keeps the scratch tree.
set -euo pipefail

BENCH_TAG=bench-net
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_args "$@"
OUT="$BENCH_DIR/RESULTS-net.md"

BYTES=${NETBENCH_BYTES:-1073741824}
ROUNDS=${NETBENCH_ROUNDS:-5}
SRT_ROUNDS=${NETBENCH_SRT_ROUNDS:-3}
CURL_ROUNDS=${NETBENCH_CURL_ROUNDS:-3}
USER_ROUNDS=${NETBENCH_USER_ROUNDS:-3}
REQS=${NETBENCH_REQUESTS:-1000}
KA_REQS=${NETBENCH_KA_REQUESTS:-5000}
CONNS=${NETBENCH_CONNS:-1000}
HELD_REQS=${NETBENCH_HELD_REQUESTS:-200}
MEM_ROUNDS=${NETBENCH_MEM_ROUNDS:-3}
BODY=100

need gcc python3 curl
HAVE_SRT=0
if [ "$(id -u)" -eq 0 ] && command -v srt >/dev/null && command -v rg >/dev/null &&
	command -v socat >/dev/null && command -v bwrap >/dev/null; then
	HAVE_SRT=1
fi

# No tmpfs: everything (the audit stores too) on the disk under /tmp.
bench_start harness-bench-net
snapshot_harness
gcc -O2 -Wall -Wextra -o "$BASE/bin/net_bench" "$BENCH_DIR/net_bench.c" || die "cannot build net_bench"
chmod 755 "$BASE/bin/net_bench"
bench_users

# The audit store is the default kind (SQLite) in a scratch state dir (as()
# sets XDG_STATE_HOME to it), so the run does not add ~50,000 records to the
# user's real audit log.
state_home() { echo "$BASE/state/$1"; }

# The sandbox's cwd (granted read-write by the default policy) holds a copy
# of the client, so harness and srt run the same file.
wdir() { echo "$BASE/w/$1"; }
for u in "${USERS[@]}"; do
	W=$(wdir "$u")
	mkdir -p "$W" "$(state_home "$u")"
	cp "$BASE/bin/net_bench" "$W/net_bench"
	[ "$u" = "$ME" ] || chown -R "$u" "$W" "$(state_home "$u")"
done
chmod 755 "$BASE/w" "$BASE/state"

# ---------------------------------------------------------------- server
"$BASE/bin/net_bench" serve "$BASE/port" >"$LOG/server.log" 2>&1 &
SERVER_PID=$!
CLEANUP_PIDS=$SERVER_PID
for _ in $(seq 100); do [ -s "$BASE/port" ] && break; sleep 0.05; done
[ -s "$BASE/port" ] || die "the server did not start: $(cat "$LOG/server.log")"
PORT=$(cat "$BASE/port")
T="127.0.0.1:$PORT"
URL="http://$T/bytes"
echo "bench-net: server on $T (pid $SERVER_PID)" >&2

# srt: the same client; its proxy must be told to let loopback through.
SRT_SETTINGS="$BASE/srt-settings.json"
printf '{"network":{"allowedDomains":["127.0.0.1"],"deniedDomains":[]},"filesystem":{"denyRead":[],"allowWrite":["%s"],"denyWrite":[]}}\n' \
	"$(wdir root)" >"$SRT_SETTINGS"
chmod 644 "$SRT_SETTINGS"

HRUN="$HARNESS run --allow-host $T --"
SRUN="srt --settings $SRT_SETTINGS --"
NB=./net_bench
# curl in the sandboxes: NO_PROXY emptied (srt always puts loopback in it;
# harness sets it empty already), -p for a CONNECT tunnel.
CURL="curl -sS -o /dev/null -w %{speed_download}\n"
SCURL="env NO_PROXY= no_proxy= $CURL"

# ---------------------------------------------------------------- running
# One line per run: user, group, name, round, key, value, command.
DATA="$BASE/data.tsv"
: >"$DATA"

# one USER GROUP NAME ROUND CMD: run CMD (a word list, no shell) in the
# user's work dir; record every key=value it prints (curl's lone number is
# speed_download in bytes/s, recorded as MBps).
one() {
	local u=$1 g=$2 n=$3 r=$4 cmd=$5 out rc=0
	local errf="$LOG/$u.$g.err"
	# shellcheck disable=SC2086 # CMD is a word list by design
	out=$(cd "$(wdir "$u")" && as "$u" $cmd 2>"$errf") || rc=$?
	if [ $rc -ne 0 ] || [ -z "$out" ]; then
		local why
		why=$(grep -v 'harness: audit: run' "$errf" | tail -c 300 | tr '\n\t' '  ')
		printf '%s\t%s\t%s\t%s\tFAILED\texit %s: %s\t%s\n' "$u" "$g" "$n" "$r" "$rc" "$why" "$cmd" >>"$DATA"
		echo "bench-net: [$u] $g/$n round $r failed (exit $rc): $why" >&2
		return 0
	fi
	if [[ "$out" =~ ^[0-9.]+$ ]]; then
		out="MBps=$("$PY" -c "print(f'{$out/1e6:.1f}')")"
	fi
	local kv
	for kv in $out; do
		[[ "$kv" == *=* ]] || continue
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$u" "$g" "$n" "$r" "${kv%%=*}" "${kv#*=}" "$cmd" >>"$DATA"
	done
}

# group USER GROUP ROUNDS NAME=CMD...: ROUNDS rounds over every command,
# the order reversed in every other round. A NAME that starts with "srt"
# runs in the first SRT_ROUNDS rounds only (srt is slow).
group() {
	local u=$1 g=$2 rounds=$3
	shift 3
	local specs=("$@") r i order
	for r in $(seq 1 "$rounds"); do
		if [ $((r % 2)) -eq 1 ]; then order=$(seq 0 $((${#specs[@]} - 1))); else order=$(seq $((${#specs[@]} - 1)) -1 0); fi
		echo "bench-net: [$u] $g round $r/$rounds" >&2
		for i in $order; do
			local n=${specs[$i]%%=*} c=${specs[$i]#*=}
			if [[ "$n" == srt* ]] && [ "$r" -gt "$SRT_ROUNDS" ]; then continue; fi
			one "$u" "$g" "$n" "$r" "$c"
		done
	done
}

# mem_sample PID KIND: memory of the process tree at PID outside the
# sandbox. harness: the supervisor (the `harness` process). srt: its node
# process plus the socat relays it forks outside the sandbox, and,
# separately, the socat relays inside it (bwrap's subtree).
mem_sample() {
	"$PY" - "$1" "$2" <<'PYEOF'
import os, sys
root, kind = int(sys.argv[1]), sys.argv[2]
def kids(p):
    try:
        with open(f"/proc/{p}/task/{p}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []
def comm(p):
    try:
        with open(f"/proc/{p}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""
def status(p):
    d = {}
    try:
        with open(f"/proc/{p}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    d[k] = int(v.split()[0])
    except OSError:
        pass
    try:
        with open(f"/proc/{p}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    d["Pss"] = int(line.split()[1])
    except OSError:
        pass
    return d
def find(p, name):
    if comm(p) == name:
        return p
    for k in kids(p):
        r = find(k, name)
        if r:
            return r
    return None
def tree(p, skip=lambda q: False):
    out = [p]
    for k in kids(p):
        if not skip(k):
            out += tree(k, skip)
    return out
if kind == "harness":
    p = find(root, "harness")
    s = status(p) if p else {}
    if "VmRSS" in s:
        print(f"rss_kb={s['VmRSS']} hwm_kb={s.get('VmHWM', 0)} pss_kb={s.get('Pss', 0)}")
else:
    p = find(root, "node")
    s = status(p) if p else {}
    if "VmRSS" not in s:
        sys.exit()
    sandbox = [k for k in kids(p) if comm(k) in ("sh", "bwrap")]
    outside = [q for q in tree(p, lambda q: q in sandbox) if q != p]
    inside = [q for k in sandbox for q in tree(k) if comm(q) == "socat"]
    ho = [status(q) for q in outside]
    hi = [status(q) for q in inside]
    print(f"rss_kb={s.get('VmRSS', 0)} hwm_kb={s.get('VmHWM', 0)} pss_kb={s.get('Pss', 0)} "
          f"helpers_out={len(ho)} helpers_out_pss_kb={sum(x.get('Pss', 0) for x in ho)} "
          f"helpers_out_rss_kb={sum(x.get('VmRSS', 0) for x in ho)} "
          f"helpers_in={len(hi)} helpers_in_pss_kb={sum(x.get('Pss', 0) for x in hi)}")
PYEOF
}

# hold USER NAME ROUND KIND N CMD: start CMD (net_bench hold ...) in the
# background, wait for READY (all N connections open), sample memory (KIND:
# harness, srt or none), wait for the requests made while they are open,
# sample again, and record both.
hold() {
	local u=$1 n=$2 r=$3 kind=$4 conns=$5 cmd=$6 pid i
	local outf="$LOG/hold.$u.$r.$RANDOM.out"
	# shellcheck disable=SC2086
	(cd "$(wdir "$u")" && as "$u" $cmd) >"$outf" 2>"$outf.err" &
	pid=$!
	for i in $(seq 1200); do
		grep -q '^READY' "$outf" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if ! grep -q '^READY' "$outf"; then
		wait "$pid" 2>/dev/null || true
		printf '%s\tmem\t%s\t%s\tFAILED\tno READY: %s\t%s\n' "$u" "$n" "$r" \
			"$(grep -v 'harness: audit: run' "$outf.err" | tail -c 300 | tr '\n\t' '  ')" "$cmd" >>"$DATA"
		echo "bench-net: [$u] mem/$n round $r failed" >&2
		return 0
	fi
	local s1="" s2="" kv
	[ "$kind" = none ] || s1=$(mem_sample "$pid" "$kind")
	for i in $(seq 1200); do
		grep -q '^requests=' "$outf" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	[ "$kind" = none ] || s2=$(mem_sample "$pid" "$kind")
	wait "$pid" 2>/dev/null || true
	{
		for kv in $s1; do printf '%s\tmem\t%s\t%s\tready_%s\t%s\t%s\n' "$u" "$n" "$r" "${kv%%=*}" "${kv#*=}" "$cmd"; done
		for kv in $s2; do printf '%s\tmem\t%s\t%s\tafter_%s\t%s\t%s\n' "$u" "$n" "$r" "${kv%%=*}" "${kv#*=}" "$cmd"; done
		printf '%s\tmem\t%s\t%s\tconns\t%s\t%s\n' "$u" "$n" "$r" "$conns" "$cmd"
		printf '%s\tmem\t%s\t%s\topen_s\t%s\t%s\n' "$u" "$n" "$r" "$(awk '/^READY/ {print $3}' "$outf")" "$cmd"
		printf '%s\tmem\t%s\t%s\trps\t%s\t%s\n' "$u" "$n" "$r" "$(tr ' ' '\n' <"$outf" | sed -n 's/^rps=//p')" "$cmd"
	} >>"$DATA"
}

# ---------------------------------------------------------------- probes
# What the supervisor's system calls look like (strace on the supervisor
# alone, no -f): read sizes and the polling call during a transfer, and
# fsyncs during small requests with the default audit store.
probe() {
	command -v strace >/dev/null || { echo "- strace not installed: no system-call probe." >>"$NOTES"; return 0; }
	local u=root W
	[ "$ME" = root ] || u=$ME
	W=$(wdir "$u")
	local f="$LOG/strace.tput" mb=$((64 * 1048576))
	# No -f: the supervisor only, not the sandbox.
	(cd "$W" && as "$u" strace -qq -c -o "$f" -e trace=read,readv,recvfrom,write,writev,sendto,poll,epoll_wait,ioctl \
		"$HARNESS" run --no-audit --allow-host "$T" -- $NB get connect "$T" "$mb" >/dev/null 2>&1) || true
	if [ -s "$f" ]; then
		local summary
		summary=$(awk '$NF ~ /^(readv|read|recvfrom|writev|write|sendto|poll|epoll_wait|ioctl)$/ {c[$NF] = ($(NF-1) ~ /^[0-9]+$/ ? $(NF-1) : $(NF-2))} END {for (k in c) printf "%s %s, ", k, c[k]}' "$f" | sed 's/, $//')
		echo "- Supervisor system calls for one 64 MiB download through the CONNECT tunnel (\`strace -c\` on the \`harness\` process alone, \`--no-audit\`): ${summary:-none seen}. 64 MiB in 4 KiB reads is 16,384 reads; one poll per read means the event loop turns once per 4 KiB." >>"$NOTES"
	fi
	f="$LOG/strace.rps"
	(cd "$W" && as "$u" strace -qq -w -c -o "$f" -e trace=fdatasync,fsync,pwrite64 \
		"$HARNESS" run --allow-host "$T" -- $NB rps connect "$T" 500 $BODY >/dev/null 2>&1) || true
	if [ -s "$f" ]; then
		local fs pw
		fs=$(awk '$NF == "fdatasync" || $NF == "fsync" {n += $(NF-1)} END {print n + 0}' "$f")
		pw=$(awk '$NF == "pwrite64" {print $(NF-1)}' "$f")
		local us
		us=$(awk '$NF == "fdatasync" {print $3}' "$f")
		echo "- Supervisor writes for 500 small requests through the CONNECT tunnel with the default audit store (SQLite; 2 records a request: net.connect, net.close; \`strace -w -c\`): ${fs} fdatasync/fsync$([ "$fs" -gt 0 ] && echo " (${us:-?} µs each, wall clock)"), ${pw:-0} pwrite64. The supervisor is single-threaded: while a record is written, nothing is relayed." >>"$NOTES"
	fi
}
echo "bench-net: probes" >&2
probe

# ---------------------------------------------------------------- run
for u in "${USERS[@]}"; do
	if [ "$u" = "${USERS[0]}" ]; then
		R=$ROUNDS CR=$CURL_ROUNDS MR=$MEM_ROUNDS
		SRT=$HAVE_SRT
	else
		R=$USER_ROUNDS CR=0 MR=1
		SRT=0
	fi
	tput=("direct=$NB get direct $T $BYTES"
		"harness CONNECT=$HRUN $NB get connect $T $BYTES"
		"harness HTTP=$HRUN $NB get http $T $BYTES"
		"harness SOCKS5=$HRUN $NB get socks $T $BYTES")
	[ "$SRT" = 1 ] && tput+=("srt CONNECT=$SRUN $NB get connect $T $BYTES"
		"srt HTTP=$SRUN $NB get http $T $BYTES"
		"srt SOCKS5=$SRUN $NB get socks $T $BYTES")
	group "$u" tput "$R" "${tput[@]}"

	if [ "$CR" -gt 0 ]; then
		curlg=("direct=$CURL $URL/$BYTES"
			"harness CONNECT=$HRUN $SCURL -p $URL/$BYTES"
			"harness HTTP=$HRUN $SCURL $URL/$BYTES")
		[ "$SRT" = 1 ] && curlg+=("srt CONNECT=$SRUN $SCURL -p $URL/$BYTES")
		SRT_ROUNDS_SAVED=$SRT_ROUNDS
		SRT_ROUNDS=$CR
		group "$u" curl "$CR" "${curlg[@]}"
		SRT_ROUNDS=$SRT_ROUNDS_SAVED
	fi

	rps=("direct=$NB rps direct $T $REQS $BODY"
		"harness HTTP=$HRUN $NB rps http $T $REQS $BODY"
		"harness CONNECT=$HRUN $NB rps connect $T $REQS $BODY"
		"harness SOCKS5=$HRUN $NB rps socks $T $REQS $BODY")
	if [ "$u" = "${USERS[0]}" ]; then
		rps+=("harness CONNECT, --audit jsonl=$HARNESS run --audit jsonl:$BASE/state/$u/audit.jsonl --allow-host $T -- $NB rps connect $T $REQS $BODY"
			"harness CONNECT, --no-audit=$HARNESS run --no-audit --allow-host $T -- $NB rps connect $T $REQS $BODY")
	fi
	[ "$SRT" = 1 ] && rps+=("srt HTTP=$SRUN $NB rps http $T $REQS $BODY"
		"srt CONNECT=$SRUN $NB rps connect $T $REQS $BODY"
		"srt SOCKS5=$SRUN $NB rps socks $T $REQS $BODY")
	group "$u" rps "$R" "${rps[@]}"

	ka=("direct=$NB rps direct-ka $T $KA_REQS $BODY"
		"harness CONNECT=$HRUN $NB rps connect-ka $T $KA_REQS $BODY")
	[ "$SRT" = 1 ] && ka+=("srt CONNECT=$SRUN $NB rps connect-ka $T $KA_REQS $BODY")
	group "$u" rps-ka "$R" "${ka[@]}"

	for r in $(seq 1 "$MR"); do
		echo "bench-net: [$u] memory round $r/$MR" >&2
		hold "$u" "direct" "$r" none "$CONNS" "$NB hold direct $T $CONNS 1 $HELD_REQS"
		hold "$u" "harness, idle" "$r" harness 0 "$HRUN $NB hold connect $T 0 1 $HELD_REQS"
		hold "$u" "harness CONNECT" "$r" harness "$CONNS" "$HRUN $NB hold connect $T $CONNS 1 $HELD_REQS"
		# Without the audit store's fsyncs, what the open connections
		# themselves cost the event loop.
		hold "$u" "harness --no-audit, idle" "$r" harness 0 "$HARNESS run --no-audit --allow-host $T -- $NB hold connect $T 0 1 $HELD_REQS"
		hold "$u" "harness --no-audit CONNECT" "$r" harness "$CONNS" "$HARNESS run --no-audit --allow-host $T -- $NB hold connect $T $CONNS 1 $HELD_REQS"
		if [ "$SRT" = 1 ]; then
			hold "$u" "srt, idle" "$r" srt 0 "$SRUN $NB hold connect $T 0 1 $HELD_REQS"
			hold "$u" "srt CONNECT" "$r" srt "$CONNS" "$SRUN $NB hold connect $T $CONNS 1 $HELD_REQS"
		fi
	done
done

bench_end

# ---------------------------------------------------------------- facts
# shellcheck disable=SC2016 # backquotes are Markdown here
{
	facts_machine
	facts_harness
	facts_commit
	printf 'libevent\t%s\n' "$(dpkg-query -W -f='${Version}' libevent-core-2.1-7 2>/dev/null || pkg-config --modversion libevent_core 2>/dev/null || echo unknown)"
	printf 'curl\t%s\n' "$(curl --version | head -1 | cut -d' ' -f1-2)"
	if [ $HAVE_SRT = 1 ]; then
		printf 'srt\t%s (%s; settings: `%s`)\n' "$(srt --version 2>&1 | head -1)" "$(command -v srt)" "$(tr -d '\n' <"$SRT_SETTINGS")"
	else
		printf 'srt\tnot measured: needs root and srt, rg, socat, bwrap on PATH (npm install -g @anthropic-ai/sandbox-runtime; apt-get install ripgrep socat bubblewrap)\n'
	fi
	printf 'Server\t`net_bench serve` on %s (single-threaded epoll; GET /bytes/N answers N zero bytes)\n' "$T"
	printf 'Audit store of the harness rows\tthe default kind, SQLite, in a scratch state dir on the same disk (`XDG_STATE_HOME=%s/state/USER`)\n' "$BASE"
	printf 'Scratch filesystem\t%s\n' "$(findmnt -no FSTYPE,OPTIONS -T "$BASE" | head -1)"
	facts_end
} >"$FACTS"

"$PY" -B "$BENCH_DIR/report-net.py" --data "$DATA" --facts "$FACTS" --notes "$NOTES" \
	--bytes "$BYTES" --rounds "$ROUNDS" --srt-rounds "$SRT_ROUNDS" --curl-rounds "$CURL_ROUNDS" \
	--user-rounds "$USER_ROUNDS" --requests "$REQS" --ka-requests "$KA_REQS" --conns "$CONNS" \
	--held-requests "$HELD_REQS" --mem-rounds "$MEM_ROUNDS" --body "$BODY" --scratch "$BASE" \
	--harness "$HARNESS" --server "$T" >"$OUT.tmp"
bench_finish
