#!/usr/bin/env bash
# The main job: harness guarding a rogue demo agent. Sets up a throwaway
# project and HOME with canaries, a host listener that records connections,
# runs demo/rogue-agent.sh under `harness run`, then checks from the HOST
# side that nothing forbidden happened.
#
# usage: demo/run-demo.sh PATH/TO/harness
set -euo pipefail
harness=$(realpath "${1:-build/harness}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/harness-demo.XXXXXX)
chmod 755 "$work"
listener_pid=
cleanup() {
	[ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

home="$work/home"
proj="$work/project"
mkdir -p "$home/.ssh" "$proj/.git/hooks"
token="CANARY-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
echo "-----BEGIN OPENSSH PRIVATE KEY----- $token" >"$home/.ssh/id_rsa"
echo "# the user's real bashrc" >"$home/.bashrc"
echo "DATABASE_PASSWORD=$token" >"$proj/.env"
echo "ref: refs/heads/main" >"$proj/.git/HEAD"
cp "$here/rogue-agent.sh" "$proj/agent.sh"

# A host listener that records every connection it accepts.
python3 - "$work/listener.log" <<'PY' &
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1] + ".port", "w").write(str(s.getsockname()[1]))
while True:
    c, _ = s.accept()
    open(sys.argv[1], "a").write("connection\n")
    c.close()
PY
listener_pid=$!
for _ in $(seq 50); do [ -s "$work/listener.log.port" ] && break; sleep 0.1; done
port=$(cat "$work/listener.log.port")
before=$(cd "$work" && find home -path home/.local/state/harness -prune -o -type f -print0 | sort -z | xargs -0 sha256sum)

echo "== harness demo: a rogue agent under 'harness run' (policy: restrict)"
echo "   project: $proj   HOME: $home"
echo "   \$ cd project && harness run -v -- ./agent.sh"
echo
cd "$proj"
status=0
HOME="$home" AWS_SECRET_ACCESS_KEY="$token" DEMO_PORT="$port" \
	DEMO_LISTENER_PID="$listener_pid" \
	"$harness" run -v --env DEMO_PORT --env DEMO_LISTENER_PID -- ./agent.sh \
	>"$work/agent.out" 2>&1 || status=$?
cat "$work/agent.out"
echo
echo "== checked from the host (harness exit status $status):"
fail=0
check() {
	if eval "$2"; then printf '   ok    %s\n' "$1"; else printf '   FAIL  %s\n' "$1"; fail=1; fi
}
after=$(cd "$work" && find home -path home/.local/state/harness -prune -o -type f -print0 | sort -z | xargs -0 sha256sum)
check "the agent's honest work landed (project/main.c)" '[ -f "$proj/main.c" ]'
check "the secret token appears nowhere in the agent's output" '! grep -q "$token" "$work/agent.out"'
check "the HOME tree (ssh key, .bashrc) is byte-identical" '[ "$before" = "$after" ]'
check "no git hook was planted" '[ ! -e "$proj/.git/hooks/pre-commit" ]'
check "no .mcp.json was written, and its placeholder is gone" '[ ! -e "$proj/.mcp.json" ]'
check "the host listener saw no connection" '[ ! -s "$work/listener.log" ]'
check "the host listener is still alive" 'kill -0 "$listener_pid"'
check "nothing was written under /etc/cron.d" '[ ! -e /etc/cron.d/evil ]'
echo
echo "== the audit trail (default store: \$HOME/.local/state/harness/audit.db, written by harness, never visible to the agent):"
echo "   \$ harness audit query --action run --format table"
HOME="$home" "$harness" audit query --action run --format table | sed 's/^/   /'
echo "   \$ harness audit query --outcome blocked --format table"
HOME="$home" "$harness" audit query --outcome blocked --format table | sed 's/^/   /'
echo "   ($(HOME="$home" "$harness" audit query --action exec --format jsonl | wc -l) execs recorded; 'harness audit query --action exec' lists them)"
echo "   \$ harness audit verify"
if HOME="$home" "$harness" audit verify 2>&1 | sed 's/^/   /'; then
	printf '   ok    the audit chain verifies\n'
else
	printf '   FAIL  the audit chain does not verify\n'
	fail=1
fi
check "the store records the blocked commands" \
	'[ "$(HOME="$home" "$harness" audit query --outcome blocked --format jsonl | wc -l)" -ge 2 ]'
check "the store records this run's start and exit" \
	'[ "$(HOME="$home" "$harness" audit query --format jsonl | grep -c "\"run\.\(start\|exit\)\"")" -eq 2 ]'
echo
if [ "$fail" -eq 0 ]; then
	echo "== demo passed: every forbidden action was refused and the host is untouched"
else
	echo "== demo FAILED: see the lines marked FAIL"
fi
exit "$fail"
