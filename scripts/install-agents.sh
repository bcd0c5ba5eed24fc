#!/usr/bin/env bash
# Installs the real coding-agent CLIs that tests/integration/test_agents.py
# drives under `harness run --agent ...`, at PINNED versions, into their own
# npm prefix (binaries in PREFIX/bin/claude and PREFIX/bin/codex).
#
# usage: scripts/install-agents.sh            (prefix: $HARNESS_AGENTS_PREFIX,
#                                              default /opt/harness-test-agents)
#
# Idempotent: when both CLIs are already there at the pinned versions it
# returns at once without touching the network. The prefix is made
# world-readable: the integration tests run again as an unprivileged user.
set -euo pipefail

# ---- the pinned versions: change them here, and only here ----------------
CLAUDE_CODE_VERSION=2.1.332 # npm @anthropic-ai/claude-code
CODEX_VERSION=0.171.0       # npm @openai/codex (+ @openai/codex-linux-<arch>)
# ---------------------------------------------------------------------------

prefix=${HARNESS_AGENTS_PREFIX:-/opt/harness-test-agents}
mods=$prefix/lib/node_modules

die() {
	echo "install-agents: $*" >&2
	exit 1
}

# The version an installed package.json declares ("" if absent).
pkg_version() {
	[ -f "$1/package.json" ] || return 0
	node -e 'try { process.stdout.write(require(process.argv[1]).version || "") } catch (e) {}' \
		"$1/package.json"
}

case "$(uname -m)" in
x86_64) arch=x64 ;;
aarch64 | arm64) arch=arm64 ;;
*) die "unsupported machine $(uname -m)" ;;
esac

# Codex's launcher (bin/codex.js) execs a native binary shipped in the
# platform package, which npm installs as an optional dependency aliased to
# @openai/codex@VERSION-linux-ARCH; Claude Code's postinstall copies its
# native binary out of @anthropic-ai/claude-code-linux-ARCH.
codex_native() {
	find "$mods/@openai/codex" -path '*/vendor/*' -name codex -type f -perm -u+x 2>/dev/null | head -n1
}

installed_ok() {
	[ -x "$prefix/bin/claude" ] && [ -x "$prefix/bin/codex" ] || return 1
	# Until its postinstall ran, bin/claude.exe is a small placeholder stub.
	[ "$(stat -Lc %s "$prefix/bin/claude")" -gt 1000000 ] || return 1
	[ "$(pkg_version "$mods/@anthropic-ai/claude-code")" = "$CLAUDE_CODE_VERSION" ] || return 1
	[ "$(pkg_version "$mods/@openai/codex")" = "$CODEX_VERSION" ] || return 1
	[ -n "$(codex_native)" ] || return 1
	return 0
}

# Debian's nodejs comes without npm (a separate package); NodeSource's has
# it built in, and Debian's npm would conflict with it: install only what
# is missing.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	[ "$(id -u)" -eq 0 ] || die "node and npm are needed (apt-get install nodejs npm, as root)"
	echo "install-agents: installing Debian's nodejs and npm" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm \
		>/dev/null || die "apt-get install nodejs npm failed"
fi

if installed_ok; then
	echo "install-agents: claude-code $CLAUDE_CODE_VERSION and codex $CODEX_VERSION already in $prefix"
	exit 0
fi

mkdir -p "$prefix"
umask 022
echo "install-agents: installing claude-code $CLAUDE_CODE_VERSION and codex $CODEX_VERSION into $prefix"
# --include=optional: the platform packages are optional dependencies, which
# an npm configured with omit=optional would otherwise leave out.
# --allow-scripts: Claude Code's postinstall puts the native binary in place
# (newer npm releases hold back install scripts that are not allowed).
if ! npm install -g --prefix "$prefix" --no-audit --no-fund --include=optional \
	--allow-scripts=@anthropic-ai/claude-code \
	"@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" \
	"@openai/codex@$CODEX_VERSION"; then
	die "npm install failed (is the npm registry reachable? npm config get registry: $(npm config get registry 2>/dev/null))"
fi

# Some npm versions skip an aliased optional dependency of a global package;
# fetch the platform package explicitly into codex's own node_modules.
if [ -z "$(codex_native)" ]; then
	echo "install-agents: codex platform package missing; installing @openai/codex@$CODEX_VERSION-linux-$arch"
	npm install --prefix "$mods/@openai/codex" --no-audit --no-fund --no-save \
		"@openai/codex-linux-$arch@npm:@openai/codex@$CODEX_VERSION-linux-$arch" ||
		die "could not install the codex platform package"
fi

# If npm did not run Claude Code's postinstall, run it now.
if [ "$(stat -Lc %s "$prefix/bin/claude" 2>/dev/null || echo 0)" -le 1000000 ]; then
	echo "install-agents: running claude-code's postinstall"
	(cd "$mods/@anthropic-ai/claude-code" && node install.cjs) ||
		die "claude-code's postinstall (install.cjs) failed"
fi

chmod -R a+rX "$prefix"
installed_ok || die "installed, but the check failed: $prefix/bin/claude, $prefix/bin/codex or codex's native binary is missing or at the wrong version"
echo "install-agents: claude $("$prefix/bin/claude" --version 2>/dev/null | head -n1)"
echo "install-agents: codex  $("$prefix/bin/codex" --version 2>/dev/null | head -n1)"
