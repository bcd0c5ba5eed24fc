#!/usr/bin/env bash
# Installs the Debian 12 packages harness needs to build, test and benchmark.
# Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail

# zlib1g-dev: the static SQLite links -lz (pkg-config --static); a minimal
# Debian 12 does not have it. libc6-dev: libc.a, for the static-pie harness
# (gcc only recommends it). The -dev packages above ship the static
# libraries the executable links.
build_pkgs=(gcc libc6-dev make meson ninja-build pkg-config libseccomp-dev libjansson-dev \
	libsqlite3-dev libssl-dev libevent-dev libpcre2-dev sqlite3 libcmocka-dev zlib1g-dev)
test_pkgs=(python3 python3-pytest clang git iproute2 util-linux procps \
	passwd gcc make nodejs curl)
bench_pkgs=(bubblewrap hyperfine)
# The demo's host-side listener and the rogue agent's exfiltration attempts.
demo_pkgs=(python3)

want=("${build_pkgs[@]}")
case "${1:-build}" in
build) ;;
demo) want+=("${demo_pkgs[@]}") ;;
test) want+=("${test_pkgs[@]}") ;;
bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
*) echo "usage: $0 [build|demo|test|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
	SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
