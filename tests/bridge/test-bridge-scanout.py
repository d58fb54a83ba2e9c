#!/usr/bin/python3
"""desktop-bridge --source scanout:ADDRESS (docs/bridge.md, "Scanout
source") against tests/scanout/scanout-host, an hfx host whose scanout 0
shows the pictures of tests/scanout/scanout-images.h on command, as QEMU's
helix-frame-export chardev shows the guest's console. The tests' WebSocket
client is the viewer.

    test-bridge-scanout.py DESKTOP_BRIDGE SCANOUT_HOST SCANOUT_SUBSCRIBER HFXD [CASE...]

Exit status 0 when every case passed."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from hfxtest import bridgeproc
from hfxtest.checks import run_cases
from hfxtest.bridgeproc import check, read_frames, terminate
from hfxtest.bridgewire import nal_types, parse_message
from hfxtest.wsclient import ConnectionClosed

BRIDGE, HOST, SUBSCRIBER, HFXD = sys.argv[1:5]


class ScanoutHost:
    """scanout-host on a unix socket in a temporary directory."""

    def __init__(self, size="640x360", *args):
        self.dir = tempfile.TemporaryDirectory(prefix="hfx-scanout-")
        self.address = "unix:" + os.path.join(self.dir.name, "scanout.sock")
        self.proc = subprocess.Popen([HOST, "--listen", self.address, "--size", size, *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines = []
        ready = threading.Event()

        def reader():
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                if "listening on" in line:
                    ready.set()
            ready.set()
        threading.Thread(target=reader, daemon=True).start()
        if not ready.wait(10) or self.proc.poll() is not None:
            self.stop()
            raise AssertionError("scanout-host did not start: " + "\n".join(self.lines))

    def show(self, what):
        self.proc.stdin.write(f"{what}\n")
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        rc = terminate(self.proc)
        self.dir.cleanup()
        return rc


def frames_for(ws, seconds):
    """Every stream message in the next `seconds`, each acknowledged."""
    frames = []
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return frames
        try:
            op, payload = ws.recv(timeout=left)
        except (socket.timeout, TimeoutError):
            return frames
        if op == 2:
            f = parse_message(payload)
            frames.append(f)
            ws.send_text(json.dumps({"type": "drawn", "seq": f.seq, "capture_us": f.capture_us,
                                     "decode_ms": 1.0}))


def find_pictures(frames, path):
    with open(path, "wb") as out:
        for f in frames:
            out.write(f.au)
    return subprocess.run([SUBSCRIBER, "--input", path], capture_output=True, text=True)


def case_pictures_in_order():
    """Six pictures and a resize, through the bridge to a viewer: every
    picture decodes in place and in order; the size follows the host's."""
    host = ScanoutHost()
    b = None
    try:
        b = bridgeproc.Bridge(BRIDGE, "--source", "scanout:" + host.address, "--fps", "30")
        ws = b.ws()
        frames = frames_for(ws, 1.0)
        check(frames, "no frame within 1 s of joining (the host is asked for a picture)")
        check(frames[0].key and 7 in nal_types(frames[0].au),
              f"the first frame is not a keyframe with SPS: NAL types {nal_types(frames[0].au)}")
        check((frames[0].width, frames[0].height) == (640, 360),
              f"size {frames[0].width}x{frames[0].height}")
        for k in range(1, 6):
            host.show(k)
            frames += frames_for(ws, 0.5)
        host.show("size 320x240")
        later = frames_for(ws, 1.0)
        check(later and later[0].key and (later[0].width, later[0].height) == (320, 240),
              f"after the resize: {[(f.width, f.height, f.key) for f in later[:3]]}")
        frames += later
        with tempfile.TemporaryDirectory() as tmp:
            r = find_pictures(frames, os.path.join(tmp, "viewer.h264"))
        check(r.returncode == 0, "scanout-subscriber --input: " + r.stdout + r.stderr)
        seqs = [f.seq for f in frames]
        check(seqs == list(range(seqs[0], seqs[0] + len(seqs))), "seq is not +1 per frame")
        st = b.stats()
        check(st["encoder"].startswith("scanout 0 of " + host.address) and
              "(host libx264)" in st["encoder"], f"stats encoder: {st['encoder']}")
        check(st["frames_captured"] >= len(frames), f"stats: {st['frames_captured']} pictures "
              f"received, the viewer got {len(frames)}")
        g2g = st["latency"]["glass_to_glass"]
        print(f"  {len(frames)} frames, six pictures and a resize found in order; "
              f"host-picture-to-drawn p50 {g2g.get('p50_ms', 0):.1f} ms; "
              + r.stdout.strip().splitlines()[0])
        ws.close()
    finally:
        if b:
            b.stop()
        host.stop()


def case_keyframe_request():
    """A viewer's keyframe request reaches the host: a keyframe soon after,
    though the screen does not change."""
    host = ScanoutHost()
    b = None
    try:
        b = bridgeproc.Bridge(BRIDGE, "--source", "scanout:" + host.address,
                              "--keyframe-interval", "60000")
        ws = b.ws()
        read_frames(ws, 2, timeout=5)
        time.sleep(0.6)  # past the bridge's request throttle
        ws.send_text(json.dumps({"type": "keyframe"}))
        t0 = time.monotonic()
        got = None
        while got is None and time.monotonic() - t0 < 5:
            for f in frames_for(ws, 0.2):
                if f.key:
                    got = time.monotonic() - t0
        # The host encodes its next picture as an IDR: the next keep-alive
        # (1 s) at the latest.
        check(got is not None and got < 2.5, "no keyframe within 2.5 s of a request")
        print(f"  requested keyframe after {got * 1000:.0f} ms (the screen did not change)")
        ws.close()
    finally:
        if b:
            b.stop()
        host.stop()


def case_host_goes_away():
    """The host ends: the bridge says why and exits 1."""
    host = ScanoutHost()
    b = None
    try:
        b = bridgeproc.Bridge(BRIDGE, "--source", "scanout:" + host.address)
        ws = b.ws()
        read_frames(ws, 1, timeout=5)
        host.stop()
        rc = b.proc.wait(15)
        out = "\n".join(b.lines)
        check(rc == 1 and "capture stopped" in out and host.address in out,
              f"exit {rc}: {out[-500:]}")
        print("  " + [line for line in b.lines if "capture stopped" in line][0])
    finally:
        if b:
            b.stop()
        host.stop()


def text_messages(ws, seconds):
    """The text messages of the next `seconds` (stream messages acknowledged)."""
    texts = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            op, payload = ws.recv(timeout=max(0.01, end - time.monotonic()))
        except (socket.timeout, TimeoutError):
            break
        if op == 1:
            texts.append(json.loads(payload))
        elif op == 2:
            f = parse_message(payload)
            ws.send_text(json.dumps({"type": "drawn", "seq": f.seq, "capture_us": f.capture_us}))
    return texts


def input_lines(host, n, timeout=5):
    """The input events scanout-host printed, once there are n (or timeout)."""
    t0 = time.monotonic()
    while True:
        got = [line for line in host.lines
               if line.startswith(("scanout-host: key", "scanout-host: pointer"))]
        if len(got) >= n or time.monotonic() - t0 > timeout:
            return got
        time.sleep(0.05)


def case_input():
    """--input: the viewer is told input is on; its keys and pointer reach
    the host in order as sent, a pointer past the picture moved inside it.
    Without --input the viewer is told it is off and closed if it sends
    some; a host that takes none makes --input fail at start; --input
    without a scanout source is a usage error."""
    host = ScanoutHost("640x360", "--input")
    b = None
    try:
        b = bridgeproc.Bridge(BRIDGE, "--source", "scanout:" + host.address, "--input")
        ws = b.ws()
        op, payload = ws.recv(timeout=5)
        check(op == 1 and json.loads(payload) == {"type": "input", "allowed": True},
              f"first message: {op} {payload[:80]}")
        read_frames(ws, 1, timeout=5)
        for m in ({"type": "key", "code": 30, "down": True},
                  {"type": "key", "code": 30, "down": False},
                  {"type": "pointer", "x": 100, "y": 50, "buttons": 2, "wheel": -3},
                  {"type": "pointer", "x": 5000, "y": 5000, "buttons": 0}):
            ws.send_text(json.dumps(m))
        got = input_lines(host, 4)
        want = ["scanout-host: key 30 1", "scanout-host: key 30 0",
                "scanout-host: pointer 100 50 in 640x360 buttons 2 wheel -3",
                "scanout-host: pointer 639 359 in 640x360 buttons 0 wheel 0"]
        check(got == want, f"the host got {got}")
        check(b.stats()["inputs"] == 4, f"stats inputs {b.stats()['inputs']}")
        # A viewer that goes mid-press: the bridge lets go for it.
        ws.send_text(json.dumps({"type": "key", "code": 42, "down": True}))
        ws.send_text(json.dumps({"type": "pointer", "x": 10, "y": 20, "buttons": 1}))
        input_lines(host, 6)
        ws.close()
        released = input_lines(host, 8)[4:]
        check(released == ["scanout-host: key 42 1",
                            "scanout-host: pointer 10 20 in 640x360 buttons 1 wheel 0",
                            "scanout-host: key 42 0",
                            "scanout-host: pointer 10 20 in 640x360 buttons 0 wheel 0"],
              f"a viewer gone mid-press: the host got {released}")
    finally:
        if b:
            b.stop()
        host.stop()
    host = ScanoutHost("640x360")
    b = None
    try:
        r = subprocess.run([BRIDGE, "--listen", "127.0.0.1:0", "--source",
                            "scanout:" + host.address, "--input"], capture_output=True, text=True,
                           timeout=20)
        check(r.returncode == 1 and "takes no input" in r.stderr,
              f"host without input: exit {r.returncode}: {r.stderr[-500:]}")
        b = bridgeproc.Bridge(BRIDGE, "--source", "scanout:" + host.address)
        ws = b.ws()
        texts = text_messages(ws, 1.0)
        check({"type": "input", "allowed": False} in texts, f"text messages: {texts}")
        ws.send_text(json.dumps({"type": "key", "code": 30, "down": True}))
        code = None
        try:
            text_messages(ws, 5)
        except ConnectionClosed as e:
            code = e.code
        check(code == 1008, f"input while off: close code {code}")
    finally:
        if b:
            b.stop()
        host.stop()
    r = subprocess.run([BRIDGE, "--source", "test", "--input"], capture_output=True, text=True,
                       timeout=10)
    check(r.returncode == 2 and "--input" in r.stderr, f"--source test --input: {r.stderr}")
    print("  key down, up, pointer with wheel, pointer past the picture: at the host in order; "
          "a viewer gone mid-press released; off, a host without input, a capture source: "
          "refused")


def case_refusals():
    """No host, a host without scanouts (hfxd), a scanout it does not have,
    and options that do not apply: a message that says so, not a hang."""
    with tempfile.TemporaryDirectory() as tmp:
        nowhere = "unix:" + os.path.join(tmp, "nothing.sock")
        r = subprocess.run([BRIDGE, "--listen", "127.0.0.1:0", "--source", "scanout:" + nowhere],
                           capture_output=True, text=True, timeout=20)
        check(r.returncode == 1 and "cannot reach an hfx host at " + nowhere in r.stderr,
              f"no host: exit {r.returncode}: {r.stderr}")
        sock = os.path.join(tmp, "hfxd.sock")
        hfxd = subprocess.Popen([HFXD, "--listen", "unix:" + sock, "--encoder", "libx264"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                if os.path.exists(sock):
                    break
                time.sleep(0.05)
            r = subprocess.run([BRIDGE, "--listen", "127.0.0.1:0", "--source",
                                "scanout:unix:" + sock], capture_output=True, text=True,
                               timeout=20)
            check(r.returncode == 1 and "serves no scanouts" in r.stderr,
                  f"hfxd: exit {r.returncode}: {r.stderr}")
        finally:
            terminate(hfxd)
    host = ScanoutHost()
    b = None
    try:
        b = bridgeproc.Bridge(BRIDGE, "--source", "scanout:" + host.address, "--scanout", "3")
        rc = b.proc.wait(15)
        out = "\n".join(b.lines)
        check(rc == 1 and "no scanout 3" in out, f"--scanout 3: exit {rc}: {out[-500:]}")
    finally:
        if b:
            b.stop()
        host.stop()
    for args in (["--size", "640x360"], ["--bitrate", "1000"], ["--encoder", "x264enc"],
                 ["--address", "auto"]):
        r = subprocess.run([BRIDGE, "--source", "scanout", *args], capture_output=True,
                           text=True, timeout=10)
        check(r.returncode == 2 and "do not apply" in r.stderr,
              f"{args}: exit {r.returncode}: {r.stderr}")
    r = subprocess.run([BRIDGE, "--source", "scanout:"], capture_output=True, text=True,
                       timeout=10)
    check(r.returncode == 2 and "--source scanout:" in r.stderr, f"scanout: {r.stderr}")
    print("  no host, hfxd, --scanout 3, --size/--bitrate/--encoder/--address: refused with "
          "the reason")


if __name__ == "__main__":
    sys.exit(run_cases(globals(), sys.argv[5:]))
