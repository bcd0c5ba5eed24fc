#!/usr/bin/env bash
# Runs the integration tests (pytest, driving the real binary) as the
# caller and, when the caller is root, again as an unprivileged user: root
# launching harness must gain nothing, and an ordinary user must get the
# same sandbox without privilege.
#
# usage: tests/run-integration.sh PATH/TO/harness [--quick]
set -euo pipefail
bin=$(realpath "$1")
quick=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3 # Debian's python3, which has python3-pytest
args=(-q -p no:cacheprovider -rs)
[ "$quick" = "--quick" ] && args+=(-m "not slow")

# A world-readable copy of the binary and the tests, so the unprivileged
# user can run them wherever the checkout lives (e.g. under /root).
stage=$(mktemp -d /tmp/harness-it.XXXXXX)
trap 'rm -rf "$stage"' EXIT
chmod 755 "$stage"
cp "$bin" "$stage/harness"
cp -r "$here/integration" "$stage/integration"
# The documents test_docs.py checks (the tests run from a copy, so they
# cannot find the checkout on their own).
mkdir "$stage/repo"
cp -r "$here/../README.md" "$here/../docs" "$here/../man" "$stage/repo/"
export HARNESS_REPO="$stage/repo"
chmod -R a+rX "$stage"

status=0
echo "== integration tests as $(id -un) (uid $(id -u))"
HARNESS_BIN="$stage/harness" "$py" -m pytest "${args[@]}" "$stage/integration" || status=$?

if [ "$(id -u)" -eq 0 ]; then
	user=harness-test
	id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
	echo "== integration tests as $user (uid $(id -u "$user"))"
	# From the stage: runuser keeps the cwd, and pytest goes back to it,
	# which the user cannot enter when the checkout is under /root.
	cd "$stage"
	runuser -u "$user" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$(getent passwd "$user" | cut -d: -f6)" \
		LANG=C.UTF-8 HARNESS_BIN="$stage/harness" HARNESS_REPO="$HARNESS_REPO" HARNESS_SANITIZED="${HARNESS_SANITIZED:-}" \
		CI="${CI:-}" HARNESS_REQUIRE_AGENTS="${HARNESS_REQUIRE_AGENTS:-}" \
		HARNESS_AGENTS_PREFIX="${HARNESS_AGENTS_PREFIX:-}" \
		"$py" -m pytest "${args[@]}" "$stage/integration" || status=$?
fi
exit "$status"
