# Everything a newcomer needs on a fresh Debian machine with the Swift toolchain on PATH.
#   make demo   install what is missing, build, and start the agent on examples/demo
#   make test   install what is missing, build, run every test, and lint
#   make bench  run the benchmarks and print the README's table

SHELL := /bin/bash
# Debian packages: libjsonnet-dev and zlib1g-dev to build; prometheus (and promtool), nginx, curl, openssl,
# python3 and util-linux's script(1) for the demo and the tests.
DEBIAN_PACKAGES := libjsonnet-dev zlib1g-dev prometheus nginx curl openssl python3 bsdutils
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build demo test lint bench clean

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

test: deps
	swift build --build-tests
	swift test
	swift format lint --strict --recursive Sources Tests bench

lint:
	swift format lint --strict --recursive Sources Tests bench

bench: deps
	bench/run.sh

clean:
	rm -rf .build examples/demo/state
