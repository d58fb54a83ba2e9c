#!/usr/bin/python3
"""desktop-bridge --source pipewire and the ScreenCast portal, against
fake-portal.py on a private session bus (dbus-run-session).

    test-portal.py DESKTOP_BRIDGE

- ok: CreateSession, SelectSources (one monitor, cursor embedded), Start,
  OpenPipeWireRemote in that order; the bridge hands node 42 and the
  descriptor to pipewiresrc (there is no PipeWire behind it here, so the
  capture itself is not tested);
- cancel / nostream: exit 1 with the portal's reason;
- no portal on the bus: pipewiresrc's default node is tried instead.
Exits 77 when dbus-run-session, python3-gi or pipewiresrc is missing."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from hfxtest.gipython import gi_python

HERE = os.path.dirname(os.path.abspath(__file__))
BRIDGE = sys.argv[1]


def run_case(mode, py, log):
    """The bridge under a fresh session bus with the fake portal in mode
    (None: no portal). Returns (exit status or None if it was still
    running after the portal part, output)."""
    fake = f"{py} {HERE}/fake-portal.py {mode} {log} & " if mode else ""
    script = (f"{fake}sleep 1; "
              f"timeout 8 {BRIDGE} --source pipewire --encoder x264enc --listen 127.0.0.1:0 "
              "--stats-interval 0; echo \"exit $?\"")
    r = subprocess.run(["dbus-run-session", "--", "sh", "-c", script], capture_output=True,
                       text=True, timeout=60)
    out = r.stdout + r.stderr
    status = None
    for line in out.splitlines():
        if line.startswith("exit "):
            status = int(line.split()[1])
    return status, out


def main():
    if not shutil.which("dbus-run-session"):
        print("skipped: dbus-run-session not found (apt-get install dbus-daemon)")
        return 77
    py = gi_python()
    if not py:
        print("skipped: no python3 with gi (apt-get install python3-gi)")
        return 77
    if subprocess.run(["gst-inspect-1.0", "pipewiresrc"], capture_output=True).returncode != 0:
        print("skipped: pipewiresrc not found (apt-get install gstreamer1.0-pipewire)")
        return 77
    failed = 0

    def check(name, ok, detail):
        nonlocal failed
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f"\n{detail}"), flush=True)
        failed += not ok

    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "calls.json")
        t0 = time.monotonic()
        status, out = run_case("ok", py, log)
        calls = json.load(open(log)) if os.path.exists(log) else []
        methods = [c["method"] for c in calls]
        check("ok: the four portal calls in order",
              methods == ["CreateSession", "SelectSources", "Start", "OpenPipeWireRemote"],
              methods)
        sel = calls[1]["options"] if len(calls) > 1 else {}
        check("ok: one monitor, cursor embedded",
              sel.get("types") == 1 and sel.get("multiple") is False and
              sel.get("cursor_mode") == 2, sel)
        check("ok: node 42 handed to pipewiresrc", "PipeWire node 42" in out, out)
        print(f"     ({time.monotonic() - t0:.1f} s; pipewiresrc has no PipeWire behind the fake "
              f"descriptor: exit {status})")
        for mode, want in (("cancel", "SelectSources: cancelled by the user"),
                           ("nostream", "Start: the portal gave no stream")):
            os.unlink(log) if os.path.exists(log) else None
            status, out = run_case(mode, py, log)
            check(f"{mode}: exit 1 with the portal's reason", status == 1 and want in out, out)
        status, out = run_case(None, py, log)
        check("no portal: pipewiresrc's default node instead",
              "no ScreenCast portal" in out and "using pipewiresrc's default node" in out, out)
    print(f"{'FAIL' if failed else 'PASS'}: {failed} checks failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
