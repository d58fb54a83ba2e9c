#!/bin/sh
# Run a libFuzzer target for a bounded time over a committed seed corpus.
#
#   run-fuzz.sh TARGET CORPUS [libFuzzer options...]
#
# New inputs go to a temporary work corpus (listed first, so libFuzzer
# writes there), never into CORPUS, which stays as committed. Crash
# artifacts land in the current directory (meson: the build directory).
# HFX_FUZZ_SECONDS sets the run time (default 30). HFX_FUZZ_WORK names the
# work corpus instead (created if missing, kept afterwards: scripts/fuzz
# counts what was found there).
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 TARGET CORPUS [libFuzzer options...]" >&2
    exit 2
fi
target=$1
corpus=$2
shift 2

if [ -n "${HFX_FUZZ_WORK:-}" ]; then
    work=$HFX_FUZZ_WORK
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/hfx-fuzz.XXXXXX")
    trap 'rm -rf "$work"' EXIT
fi
trap 'exit 130' INT TERM

"$target" -max_total_time="${HFX_FUZZ_SECONDS:-30}" -timeout=10 -rss_limit_mb=2048 "$@" \
    "$work" "$corpus"
