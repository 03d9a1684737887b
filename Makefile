# Everything a newcomer needs on a fresh Debian machine with the Swift toolchain on PATH.
#   make demo   install what is missing, build, and start the agent on examples/demo
#   make test   install what is missing, build, run every test, lint, fuzz 30 s per target, and run
#               the unit suites under ThreadSanitizer and AddressSanitizer (about 30 minutes on 2 cores)
#   make check  the tests and the lint only
#   make bench  run the benchmarks and print the table of docs/benchmarks.md
#   make release  the binary to install on nodes (release/build.sh): .build-release/release/etcha

SHELL := /bin/bash
# Debian packages: libjsonnet-dev and zlib1g-dev to build; prometheus (and promtool), nginx, curl, openssl,
# python3, util-linux's script(1) and jq (which `etcha jq` hands queries to) for the demo and the tests.
DEBIAN_PACKAGES := libjsonnet-dev zlib1g-dev prometheus nginx curl openssl python3 bsdutils jq
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build demo test check lint bench fuzz sanitize soak fleet reliability release clean

# Seconds each fuzz target runs (make fuzz FUZZ_SECONDS=600 for a longer hunt).
FUZZ_SECONDS ?= 60

deps:
	@command -v swift >/dev/null || { echo "error: the Swift 6 toolchain is not on PATH (https://www.swift.org/install/linux/)"; exit 1; }
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@# The JWT interop tests check tokens with Python's cryptography package.
	@python3 -c 'import cryptography' 2>/dev/null || python3 -m pip install -q cryptography || \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-cryptography >/dev/null

build: deps
	swift build --product etcha

demo: build
	examples/demo/start.sh

test: check
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=30
	$(MAKE) --no-print-directory sanitize

# The suite and the lint alone (what to run while working; make test adds fuzzing and sanitizers).
# Three runs: the end-to-end suites block their threads on child processes for seconds at a time,
# which in one process would hold the few threads of the Swift concurrency pool (one per core)
# that the in-process agents of the other suites need; and the slowloris test times scrapes while
# its agent cuts 500 connections, which the other suites running beside it would stretch past its
# bound (docs/decisions.md, "Test suites in three processes"). tools/swift-test.sh repeats the
# failures as the last lines printed.
check: deps
	swift build --build-tests
	tools/swift-test.sh --skip-build --skip EndToEndTests --skip SlowClientTests
	tools/swift-test.sh --skip-build --filter SlowClientTests
	tools/swift-test.sh --skip-build --filter EndToEndTests
	tools/check-repository.py
	swift format lint --strict --recursive Sources Tests bench Fuzz

lint:
	swift format lint --strict --recursive Sources Tests bench Fuzz

bench: deps
	bench/run.sh

# libFuzzer on the JWT/JSON/key/jwtRule parsers and on the configuration loader, from the committed
# seed corpus, which libFuzzer replays in full before it mutates (new inputs go to a scratch
# directory, never into Fuzz/corpus). A crash stops with its input saved as crash-*; add it to
# Fuzz/corpus/TARGET and both this and FuzzCorpusTests (make check) replay it.
# Leak reports are off: LeakSanitizer flags Swift's lazily made globals (never freed by design), and
# what the fuzzer hunts here is crashes, hangs and runaway memory (-rss_limit_mb, -timeout).
# The touch makes SwiftPM plan the build again: it does not otherwise see source files added to the
# agent's package (a path dependency here) since its last plan in .build-fuzz.
fuzz: deps
	touch Fuzz/Package.swift
	swift build --package-path Fuzz --build-path .build-fuzz -Xswiftc -sanitize=fuzzer,address \
		-Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld --product EtchaFuzz
	@for target in jwt config; do \
		work=$$(mktemp -d); \
		echo "fuzzing $$target for $(FUZZ_SECONDS) s"; \
		ASAN_OPTIONS=detect_leaks=0 ETCHA_FUZZ_TARGET=$$target .build-fuzz/debug/EtchaFuzz -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-detect_leaks=0 -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix=$$work/ $$work Fuzz/corpus/$$target 2> $$work/log || { tail -n 40 $$work/log; exit 1; }; \
		grep -E "^stat::number_of_executed_units|^stat::new_units_added|^#[0-9]+.*DONE" $$work/log; \
		rm -rf $$work; \
	done

# The test suite under ThreadSanitizer and AddressSanitizer, each in a build directory of its own.
# (The end-to-end suites run the etcha binary, whose own reports would not reach the test run.
# Leak reports are off for the reason given at `fuzz`.)
sanitize: deps
	swift build --build-tests --build-path .build-tsan --sanitize=thread
	ETCHA_SANITIZED=1 TSAN_OPTIONS=suppressions=$(CURDIR)/.tsan-suppressions tools/swift-test.sh --skip-build --build-path .build-tsan --sanitize=thread --skip EndToEndTests
	swift build --build-tests --build-path .build-asan --sanitize=address
	ETCHA_SANITIZED=1 ASAN_OPTIONS=detect_leaks=0 tools/swift-test.sh --skip-build --build-path .build-asan --sanitize=address --skip EndToEndTests

soak: deps
	swift build -c release --product etcha
	bench/soak.sh

fleet: deps
	swift build -c release --product etcha
	bench/fleet.sh

# The table of docs/reliability.md: soak, fleet, fuzz, slowloris and faults in one run.
reliability: deps
	bench/reliability.sh

release: deps
	release/build.sh

clean:
	rm -rf .build bench/.build .build-fuzz .build-tsan .build-asan .build-release examples/demo/state
