#!/usr/bin/env bash
# Runs every benchmark on this machine in one go and prints the Markdown table of docs/benchmarks.md.
# Benchmarks compare the agent with peers in the same run (ratios), so figures from different
# machines are not compared with each other.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${ROUNDS:-30}"
# The Swift benchmarks are a package of their own (bench/Package.swift) on top of the agent's.
swift build -c release --package-path bench >/dev/null
echo "| benchmark | agent | peer | difference | ratio |"
echo "| --- | --- | --- | --- | --- |"
bench/.build/release/EngineOverhead "$rounds"
bench/.build/release/SignedConfigBench
bench/listener.sh
bench/push.sh
