#!/usr/bin/env bash
# Runs every benchmark on this machine in one go and prints the Markdown table the README shows.
# Benchmarks compare the agent with peers in the same run (ratios), so figures from different
# machines are not compared with each other.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${ROUNDS:-30}"
swift build -c release --product EngineOverhead >/dev/null
swift build -c release --product SignedConfigBench >/dev/null
echo "| benchmark | agent | peer | difference | ratio |"
echo "| --- | --- | --- | --- | --- |"
.build/release/EngineOverhead "$rounds"
.build/release/SignedConfigBench
bench/listener.sh
bench/push.sh
