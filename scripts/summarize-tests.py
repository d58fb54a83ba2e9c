#!/usr/bin/env python3
"""Sum meson's JSON test logs into one 'N passed, N failed, N skipped' line.

Each log is the testlog.json of one `meson test` run (one JSON object per
line), or testlog-SETUP.json for a run with --setup SETUP (scripts/test's
valgrind run). Skipped and failed tests are listed with the run they belong
to (the same test runs in several), skips with the reason they printed,
since a skip must say why. Exits non-zero if any test failed or a log is
missing.
"""
import json
import os
import sys


def run_label(path):
    """'build-san' for build-san/meson-logs/testlog.json, 'build --setup
    valgrind' for build/meson-logs/testlog-valgrind.json."""
    logdir, name = os.path.split(path)
    label = os.path.dirname(logdir) or "."
    stem = os.path.splitext(name)[0]
    if stem.startswith("testlog-"):
        label += " --setup " + stem[len("testlog-"):]
    return label


passed = failed = skipped = 0
missing = False
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        print(f"missing test log {path}: {e}", file=sys.stderr)
        missing = True
        continue
    run = run_label(path)
    for line in lines:
        if not line.strip():
            continue
        r = json.loads(line)
        result = r.get("result")
        name = r.get("name")
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
            reason = (r.get("stdout") or "").strip().splitlines()
            print(f"skipped: {run}: {name}: {reason[-1] if reason else 'no reason given'}")
        else:
            failed += 1
            print(f"failed: {run}: {name} ({result})")

line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed or missing or passed == 0 else 0)
