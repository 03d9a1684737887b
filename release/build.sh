#!/usr/bin/env bash
# Builds the binary to install on nodes and prints its path.
#
# Release mode, the Swift runtime and Foundation linked in statically (no Swift on the node;
# docs/decisions.md, "The Swift runtime linked statically"), and choices that keep the agent's
# resident memory down:
#   - lld with packed relative relocations (RELR): the dynamic loader reads far fewer bytes of
#     relocations at each start;
#   - no exported symbol table: nothing loads the agent as a library, and the loader no longer
#     searches the agent's own symbols when it binds libjsonnet's (both: docs/decisions.md, "lld
#     with packed relocations and no exported symbols");
#   - every function in a section of its own, and the functions the agent runs while it starts,
#     serves webhooks and scrapes, and stops (release/symbol-order.txt, made by
#     release/symbol-order.sh) placed together at the start of the code, so that the pages the
#     kernel maps around each one hold code that runs rather than code that never does
#     (docs/decisions.md, "Functions placed by a recorded symbol order");
#   - no LLVM function merging: merged functions are reached through unnamed thunks that the
#     symbol list cannot place (docs/decisions.md, "No LLVM function merging"). (SwiftPM does not
#     rebuild when compiler flags change: after changing them, remove
#     .build-release/x86_64-unknown-linux-gnu first.)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product etcha --static-swift-stdlib --scratch-path .build-release \
  -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections \
  -Xswiftc -Xfrontend -Xswiftc -disable-llvm-merge-functions-pass \
  -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic \
  -Xlinker --symbol-ordering-file="${ETCHA_SYMBOL_ORDER:-$PWD/release/symbol-order.txt}" -Xlinker --no-warn-symbol-ordering >&2
echo "$PWD/.build-release/release/etcha"
