# Entry points. `make demo` and `make check` install what is missing (Debian
# packages), build, and run; see README.md.
BUILD      ?= build
BUILD_SAN  ?= build-san
MESON_OPTS ?=

.PHONY: all deps build demo check unit integration sanitize fuzz bench bench-exec bench-net bench-review clean

all: build

deps:
	bash scripts/install-deps.sh build

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) $(MESON_OPTS) >$(BUILD).setup.log || { cat $(BUILD).setup.log; exit 1; }
	ninja -C $(BUILD)

demo:
	bash scripts/install-deps.sh demo
	$(MAKE) build
	bash demo/run-demo.sh $(BUILD)/harness

# Every test: unit (cmocka) + fuzz corpus replay, integration (pytest, as root
# and as an unprivileged user; the real Claude Code and Codex CLIs, pinned by
# scripts/install-agents.sh, drive tests/integration/test_agents.py), and the
# unit tests again under ASan+UBSan.
check:
	bash scripts/install-deps.sh test
	bash scripts/install-agents.sh
	$(MAKE) build
	meson test -C $(BUILD) --print-errorlogs
	bash tests/run-integration.sh $(BUILD)/harness
	$(MAKE) sanitize

sanitize:
	@[ -f $(BUILD_SAN)/build.ninja ] || meson setup $(BUILD_SAN) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug >$(BUILD_SAN).setup.log || { cat $(BUILD_SAN).setup.log; exit 1; }
	ninja -C $(BUILD_SAN)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 meson test -C $(BUILD_SAN) --print-errorlogs
	HARNESS_SANITIZED=1 bash tests/run-integration.sh $(BUILD_SAN)/harness --quick

fuzz:
	bash scripts/install-deps.sh test
	@[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false >build-fuzz.setup.log || { cat build-fuzz.setup.log; exit 1; }
	ninja -C build-fuzz

bench:
	bash scripts/install-deps.sh bench
	$(MAKE) build
	bash bench/run.sh $(BUILD)/harness

# Exec interception and the audit log (bench/RESULTS-exec.md).
bench-exec:
	bash scripts/install-deps.sh bench
	$(MAKE) build
	bash bench/run-exec.sh $(BUILD)/harness

# The egress proxy: throughput, small requests, supervisor memory (srt too
# when it is installed); writes bench/RESULTS-net.md.
bench-net:
	bash scripts/install-deps.sh bench
	$(MAKE) build
	bash bench/run-net.sh $(BUILD)/harness

# The workspace overlay and the review gate: a build on the overlay against
# bare and --direct, staging + guard + diff of 10,000 changed files; writes
# bench/RESULTS-review.md.
bench-review:
	bash scripts/install-deps.sh bench
	$(MAKE) build
	bash bench/run-review.sh $(BUILD)/harness

clean:
	rm -rf $(BUILD) $(BUILD_SAN) build-fuzz
