"""desktop-bridge as a child process for tests: started on 127.0.0.1 with a
free port (--listen 127.0.0.1:0, the port read from its "serving" line),
its output kept, stopped with SIGTERM."""
import json
import re
import signal
import subprocess
import threading
import time
import urllib.request

from .bridgewire import parse_message
from .wsclient import WebSocketClient


def check(cond, what):
    """AssertionError(what) unless cond: the tests' one failure path."""
    if not cond:
        raise AssertionError(what)


def read_frames(ws, n, timeout=20):
    """n stream messages (bridgewire.Frame) from ws, each acknowledged with
    a `drawn` report as a viewer that draws at once would."""
    frames = []
    deadline = time.monotonic() + timeout
    while len(frames) < n:
        check(time.monotonic() < deadline, f"only {len(frames)} of {n} frames in {timeout} s")
        op, payload = ws.recv(timeout=timeout)
        if op == 2:
            f = parse_message(payload)
            frames.append(f)
            ws.send_text(json.dumps({"type": "drawn", "seq": f.seq, "capture_us": f.capture_us,
                                     "decode_ms": 1.0}))
    return frames


def verify_aus(verify, frames, path, *args):
    """Writes the frames' access units to path and runs hfx-verify on it with
    args; the CompletedProcess (text output)."""
    with open(path, "wb") as out:
        for f in frames:
            out.write(f.au)
    return subprocess.run([verify, path, *args], capture_output=True, text=True)


def child_pid(parent, prefix):
    """The pid of parent's child whose command name starts with prefix, or None."""
    try:
        with open(f'/proc/{parent}/task/{parent}/children') as f:
            kids = f.read().split()
    except OSError:
        return None
    for k in kids:
        try:
            with open(f'/proc/{k}/comm') as f:
                if f.read().startswith(prefix):
                    return int(k)
        except OSError:
            pass
    return None


def terminate(proc, grace=10):
    """SIGTERM, then SIGKILL after grace seconds; returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Bridge:
    def __init__(self, program, *args, env=None, start_timeout=15):
        self.proc = subprocess.Popen(
            [program, "--listen", "127.0.0.1:0", "--stats-interval", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines = []
        self.port = None
        ready = threading.Event()

        def reader():
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                m = re.search(r"serving http://127\.0\.0\.1:(\d+)/", line)
                if m:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()
        threading.Thread(target=reader, daemon=True).start()
        if not ready.wait(start_timeout) or self.port is None:
            self.stop()
            raise AssertionError("desktop-bridge did not start:\n" + "\n".join(self.lines))

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def stats(self, query=""):
        with urllib.request.urlopen(self.url("/stats" + query), timeout=5) as r:
            return json.loads(r.read())

    def ws(self, path="/ws", rcvbuf=None):
        return WebSocketClient(f"ws://127.0.0.1:{self.port}{path}", rcvbuf=rcvbuf)

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        """SIGTERM, then SIGKILL after 10 s; returns the exit status."""
        return terminate(self.proc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False
