#!/usr/bin/python3
"""desktop-bridge capturing a real PipeWire stream: a private PipeWire
daemon with WirePlumber as session manager (both in a temporary directory,
no session bus), a video source node of a known colour, the bridge on
127.0.0.1 and the tests' WebSocket client as viewer.

    test-pipewire.py DESKTOP_BRIDGE HFX_VERIFY

Two producers (gst-launch-1.0 videotestsrc ! pipewiresink mode=provide,
Video/Source, 320x240 at 15 fps): the target, solid TARGET_RGB, and a decoy,
solid DECOY_RGB, with the higher priority.session so that it is the default
video source WirePlumber falls back to when a stream's target does not
resolve. Cases, each with a new target producer:

- name:   --source pipewire:NODE_NAME  (target-object, a node.name);
- serial: --source pipewire:SERIAL     (target-object, the object.serial);
- portal: --source pipewire through fake-portal.py on a private bus, which
          gives the target's node id and a connection to the daemon (skipped
          without dbus-daemon or python3-gi);
- no-node (first, before any producer): no video node at all: the bridge
           says what it waits for, and exits 1 with the likely causes within
           60 s (pipewiresrc times out after 30 s, or fails to negotiate with
           whatever it was linked to).

Each runs the bridge at --fps 30, reads 30 frames (acknowledged like a
viewer that draws at once) and wants a keyframe first, the stream linked
from the target node alone, 30 pictures from hfx-verify at 30 dB PSNR or
more against the target's colour (the decoy's would give 12 dB), and /stats
with 320x240, 24-36 fps (videorate filling in for the 15 fps producer, which
it does only for frames with timestamps) and glass-to-glass p99 < 300 ms.

Exits 77 when pipewire, pw-dump, pw-metadata, wireplumber (0.4) or
pipewiresrc/pipewiresink is missing; a capture that fails is a failure."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from hfxtest import bridgeproc
from hfxtest.bridgeproc import check, read_frames, verify_aus
from hfxtest.gipython import gi_python
from hfxtest.bridgewire import nal_types

HERE = os.path.dirname(os.path.abspath(__file__))
BRIDGE = sys.argv[1]
VERIFY = sys.argv[2]
WIDTH, HEIGHT = 320, 240
# The producers send at half the rate the bridge asks for (as a desktop that
# changes less often): videorate fills in, which it can only do with
# timestamps.
FPS, PRODUCER_FPS = 30, 15
FRAMES = 30
TARGET_RGB = (0x20, 0x80, 0xe0)
DECOY_RGB = (0x00, 0xff, 0x00)
MIN_PSNR = 30.0

# The daemon without module-rt (it would raise its own priority and give its
# threads SCHED_FIFO, as root) and without devices: native protocol,
# client nodes, links and a driver for nodes that are not drivers.
PIPEWIRE_CONF = """
context.properties = {
    core.daemon = true
    core.name   = pipewire-0
    link.max-buffers = 16
}
context.spa-libs = {
    support.* = support/libspa-support
}
context.modules = [
    { name = libpipewire-module-protocol-native }
    { name = libpipewire-module-metadata }
    { name = libpipewire-module-spa-node-factory }
    { name = libpipewire-module-client-node }
    { name = libpipewire-module-access args = { } }
    { name = libpipewire-module-adapter }
    { name = libpipewire-module-link-factory }
]
context.objects = [
    { factory = spa-node-factory
        args = {
            factory.name    = support.node.driver
            node.name       = Dummy-Driver
            node.group      = pipewire.dummy
            priority.driver = 20000
        }
    }
]
"""

# WirePlumber 0.4 with only what links streams (its policy-node.lua, which
# resolves target.object and node.target): no module-rt, no ALSA, V4L2,
# libcamera or Bluetooth monitors, nothing on D-Bus, no state on disk.
WIREPLUMBER_CONF = """
context.properties = {
  log.level = 2
  wireplumber.script-engine = lua-scripting
}
context.spa-libs = {
  support.* = support/libspa-support
}
context.modules = [
  { name = libpipewire-module-protocol-native }
  { name = libpipewire-module-client-node }
  { name = libpipewire-module-adapter }
  { name = libpipewire-module-metadata }
  { name = libpipewire-module-session-manager }
]
wireplumber.components = [
  { name = libwireplumber-module-lua-scripting, type = module }
  { name = hfx-policy.lua, type = config/lua }
]
"""
# What /usr/share/wireplumber/{main,policy}.lua.d would load for this.
WIREPLUMBER_LUA = """
local policy = { ["move"] = true, ["follow"] = true }
components = {
  { "libwireplumber-module-metadata", type = "module" },
  { "access/access-default.lua", type = "script/lua", args = { rules = {} } },
  { "libwireplumber-module-si-node", type = "module" },
  { "libwireplumber-module-si-audio-adapter", type = "module" },
  { "libwireplumber-module-si-standard-link", type = "module" },
  { "libwireplumber-module-si-audio-endpoint", type = "module" },
  { "libwireplumber-module-default-nodes-api", type = "module" },
  { "create-item.lua", type = "script/lua", args = policy },
  { "policy-node.lua", type = "script/lua", args = policy },
}
"""


def yuv601(rgb):
    """Limited-range BT.601 (videoconvert's default matrix below 720 lines)."""
    r, g, b = (c / 255 for c in rgb)
    y = 16 + 219 * (0.299 * r + 0.587 * g + 0.114 * b)
    u = 128 + 224 * (-0.168736 * r - 0.331264 * g + 0.5 * b)
    v = 128 + 224 * (0.5 * r - 0.418688 * g - 0.081312 * b)
    return tuple(round(c) for c in (y, u, v))


def write_y4m(path, rgb, frames):
    y, u, v = yuv601(rgb)
    luma = bytes([y]) * (WIDTH * HEIGHT)
    chroma = bytes([u]) * (WIDTH * HEIGHT // 4) + bytes([v]) * (WIDTH * HEIGHT // 4)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + luma + chroma)


class Procs:
    """Child processes, each in its own process group, with their output in
    the temporary directory; stop() ends whole groups."""

    def __init__(self, tmp, env):
        self.tmp = tmp
        self.env = env
        self.procs = {}

    def start(self, name, argv, env=None, stdout=None):
        with open(os.path.join(self.tmp, name + ".log"), "w") as log:
            p = subprocess.Popen(argv, env=env or self.env, stdin=subprocess.DEVNULL,
                                 stdout=stdout or log, stderr=log, start_new_session=True,
                                 text=True)
        self.procs[name] = p
        return p

    def log(self, name):
        try:
            with open(os.path.join(self.tmp, name + ".log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self, name):
        """SIGTERM to the group, SIGKILL after 5 s. Only while the leader
        is not reaped: until then the group's id cannot be anyone else's."""
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()

    def stop_all(self):
        for name in reversed(list(self.procs)):
            self.stop(name)


def pw_dump(env):
    r = subprocess.run(["pw-dump"], env=env, capture_output=True, text=True, timeout=10)
    check(r.returncode == 0, f"pw-dump: exit {r.returncode}: {r.stderr}")
    return json.loads(r.stdout or "[]")


def props(obj):
    return (obj.get("info") or {}).get("props") or {}


def wait_for(env, what, pred, timeout=10):
    """The first pw-dump object pred accepts, polling."""
    deadline = time.monotonic() + timeout
    while True:
        for o in pw_dump(env):
            if pred(o):
                return o
        check(time.monotonic() < deadline, f"no {what} in PipeWire after {timeout} s")
        time.sleep(0.2)


def node_named(env, name, timeout=10):
    return wait_for(env, f"node {name}", lambda o: o["type"] == "PipeWire:Interface:Node" and
                    props(o).get("node.name") == name, timeout)


def start_producer(procs, name, rgb, priority):
    argb = "0xff%02x%02x%02x" % rgb
    procs.start(name, [
        "gst-launch-1.0", "videotestsrc", "pattern=solid-color", f"foreground-color={argb}",
        "is-live=true", "!",
        f"video/x-raw,format=BGRx,width={WIDTH},height={HEIGHT},framerate={PRODUCER_FPS}/1",
        "!",
        "pipewiresink", "mode=provide",
        f"stream-properties=props,media.class=Video/Source,node.name={name},"
        f"priority.session={priority}"])
    try:
        node = node_named(procs.env, name)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{name}: {procs.log(name)}")
    return node["id"], int(props(node)["object.serial"])


def linked_from(env):
    """The node ids that feed desktop-bridge's stream node."""
    objs = pw_dump(env)
    bridge = [o["id"] for o in objs if o["type"] == "PipeWire:Interface:Node" and
              props(o).get("node.name") == "desktop-bridge"]
    return [(o.get("info") or {}).get("output-node-id") for o in objs
            if o["type"] == "PipeWire:Interface:Link" and
            (o.get("info") or {}).get("input-node-id") in bridge]


def capture(tmp, env, label, source, target_id, bridge_env=None, expect_out=None):
    """desktop-bridge --source SOURCE: the checks in the module's text."""
    b = bridgeproc.Bridge(BRIDGE, "--encoder", "x264enc", "--source", source, "--fps", str(FPS),
                          env=bridge_env or env)
    try:
        ws = b.ws()
        try:
            frames = read_frames(ws, FRAMES)
        except Exception as e:
            raise AssertionError(f"{e}; feeding nodes {linked_from(env)}, "
                                 f"target {target_id}\n" + "\n".join(b.lines))
        feeds = linked_from(env)
        check(feeds == [target_id], f"desktop-bridge's stream is fed by nodes {feeds}, "
              f"not the target {target_id} alone")
        first = frames[0]
        check(first.key and 5 in nal_types(first.au) and 7 in nal_types(first.au),
              f"the first message is not a keyframe with SPS: NAL types {nal_types(first.au)}")
        check((first.width, first.height) == (WIDTH, HEIGHT), f"size {first.width}x{first.height}")
        seqs = [f.seq for f in frames]
        check(seqs == list(range(seqs[0], seqs[0] + FRAMES)), f"seq not +1 per frame: {seqs}")
        ref = os.path.join(tmp, label + ".y4m")
        write_y4m(ref, TARGET_RGB, FRAMES)
        r = verify_aus(VERIFY, frames, os.path.join(tmp, label + ".h264"), "--reference", ref,
                       "--expect-frames", str(FRAMES), "--min-psnr", str(MIN_PSNR))
        check(r.returncode == 0, "hfx-verify: " + r.stdout + r.stderr)
        st = b.stats()
        check((st["width"], st["height"]) == (WIDTH, HEIGHT), f"stats size {st}")
        check(FPS * 0.8 <= st["fps"] <= FPS * 1.2, f"/stats fps {st['fps']}, not {FPS}")
        g2g = st["latency"]["glass_to_glass"]
        check("p99_ms" in g2g and 0 < g2g["p50_ms"] and g2g["p99_ms"] < 300,
              f"glass to glass {g2g}: {st}")
        check(any("waiting for PipeWire to link the stream" in line for line in b.lines),
              "no notice of the wait for a link:\n" + "\n".join(b.lines))
        if expect_out:
            check(any(expect_out in line for line in b.lines),
                  f"no '{expect_out}' in the output:\n" + "\n".join(b.lines))
        psnr = r.stdout.strip().split(": ", 2)[-1]
        print(f"     {FRAMES} frames, first a keyframe, {st['width']}x{st['height']}; "
              f"hfx-verify vs YUV {yuv601(TARGET_RGB)}: {psnr}; /stats fps {st['fps']:.1f}, "
              f"glass-to-glass p50 {g2g['p50_ms']:.1f} p99 {g2g['p99_ms']:.1f} ms, "
              f"capture-to-encoded p50 "
              f"{st['latency']['capture_to_encoded']['p50_ms']:.1f} ms", flush=True)
        ws.close()
    finally:
        check(b.stop() == 0, "desktop-bridge did not exit 0 on SIGTERM:\n" + "\n".join(b.lines))


def no_node(env):
    """No video node at all: the bridge says what it waits for, and exits 1
    naming the likely causes. How pipewiresrc ends varies from run to run:
    its 30 s wait for a link times out, or its stream is linked to some other
    node and fails to negotiate; both must end the bridge with the hint, not
    leave it waiting. (After the timeout the pipeline's teardown sometimes
    never returned: the bridge then leaves after 10 s, still with status 1.)"""
    t0 = time.monotonic()
    try:
        r = subprocess.run([BRIDGE, "--listen", "127.0.0.1:0", "--encoder", "x264enc",
                            "--source", "pipewire:hfx-gone"], env=env, capture_output=True,
                           text=True, timeout=60)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"still running after 60 s; feeding nodes {linked_from(env)}:\n"
                             f"{e.stdout}{e.stderr}")
    took = time.monotonic() - t0
    out = r.stdout + r.stderr
    check(r.returncode == 1, f"exit {r.returncode} after {took:.1f} s, not 1:\n{out}")
    check("waiting for PipeWire to link the stream" in r.stdout, f"no notice of the wait:\n{out}")
    check("does not start" in r.stderr and "session manager such as WirePlumber" in r.stderr,
          f"the error does not say why:\n{out}")
    check("serving http" not in out, f"it served with no capture:\n{out}")
    print(f"     --source pipewire:hfx-gone with no video node: exit 1 after {took:.0f} s: "
          + r.stderr.strip().splitlines()[-1][:160], flush=True)


def start_bus(procs):
    """A private session bus; its address."""
    p = procs.start("dbus", ["dbus-daemon", "--session", "--nofork", "--nopidfile",
                             "--print-address=1"], stdout=subprocess.PIPE)
    addr = p.stdout.readline().strip()
    check(addr, "dbus-daemon gave no address:\n" + procs.log("dbus"))
    return addr


def start_portal(procs, py, node_id, env):
    p = procs.start("fake-portal", [py, os.path.join(HERE, "fake-portal.py"), "pipewire",
                                    os.path.join(procs.tmp, "portal-calls.json"), str(node_id)],
                    env=env, stdout=subprocess.PIPE)
    check(p.stdout.readline().strip() == "ready", "fake-portal: " + procs.log("fake-portal"))


def missing():
    for tool, pkg in (("pipewire", "pipewire-bin"), ("pw-dump", "pipewire-bin"),
                      ("pw-metadata", "pipewire-bin"),
                      ("wireplumber", "wireplumber"), ("gst-launch-1.0", "gstreamer1.0-tools"),
                      ("gst-inspect-1.0", "gstreamer1.0-tools")):
        if not shutil.which(tool):
            return f"{tool} not found (apt-get install {pkg})"
    for element in ("pipewiresrc", "pipewiresink"):
        if subprocess.run(["gst-inspect-1.0", element], capture_output=True).returncode != 0:
            return f"{element} not found (apt-get install gstreamer1.0-pipewire)"
    if not os.path.exists("/usr/share/wireplumber/scripts/policy-node.lua"):
        return "WirePlumber 0.4's policy-node.lua not found (this test's configuration is 0.4's)"
    return None


def main():
    why = missing()
    if why:
        print("skipped: " + why)
        return 77
    failed = 0
    with tempfile.TemporaryDirectory(prefix="hfx-pipewire-") as tmp:
        run = os.path.join(tmp, "run")
        wpconf = os.path.join(tmp, "wireplumber")
        for d in (run, wpconf, os.path.join(tmp, "config"), os.path.join(tmp, "state")):
            os.makedirs(d, mode=0o700)
        with open(os.path.join(tmp, "pipewire.conf"), "w") as f:
            f.write(PIPEWIRE_CONF)
        with open(os.path.join(wpconf, "hfx-wireplumber.conf"), "w") as f:
            f.write(WIREPLUMBER_CONF)
        with open(os.path.join(wpconf, "hfx-policy.lua"), "w") as f:
            f.write(WIREPLUMBER_LUA)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PIPEWIRE_", "WIREPLUMBER_", "DBUS_", "XDG_"))}
        env.update(XDG_RUNTIME_DIR=run, PIPEWIRE_RUNTIME_DIR=run,
                   XDG_CONFIG_HOME=os.path.join(tmp, "config"),
                   XDG_STATE_HOME=os.path.join(tmp, "state"), WIREPLUMBER_CONFIG_DIR=wpconf)
        procs = Procs(tmp, env)
        try:
            t0 = time.monotonic()
            procs.start("pipewire", ["pipewire", "-c", os.path.join(tmp, "pipewire.conf")])
            deadline = time.monotonic() + 10
            while not os.path.exists(os.path.join(run, "pipewire-0")):
                check(procs.procs["pipewire"].poll() is None and time.monotonic() < deadline,
                      "pipewire did not start:\n" + procs.log("pipewire"))
                time.sleep(0.1)
            procs.start("wireplumber", ["wireplumber", "-c", "hfx-wireplumber.conf"])
            # Its "default" metadata (which pw-dump does not list) says that it
            # has loaded its plugins.
            deadline = time.monotonic() + 10
            while "Found" not in subprocess.run(["pw-metadata", "-n", "default"], env=env,
                                                capture_output=True, text=True,
                                                timeout=10).stdout:
                check(procs.procs["wireplumber"].poll() is None and
                      time.monotonic() < deadline,
                      "wireplumber did not start:\n" + procs.log("wireplumber"))
                time.sleep(0.2)
            # Before any video node exists (once one had come and gone, the
            # bridge once waited past 90 s).
            try:
                no_node(env)
                print("ok   no-node", flush=True)
            except AssertionError as e:
                failed += 1
                print(f"FAIL no-node\n{e}", flush=True)
            decoy_id, _ = start_producer(procs, "hfx-decoy", DECOY_RGB, 2000)
            print(f"     PipeWire and WirePlumber up in {time.monotonic() - t0:.1f} s; decoy "
                  f"node {decoy_id}", flush=True)
        except AssertionError as e:
            procs.stop_all()
            print(f"FAIL setup\n{e}")
            return 1

        py = gi_python()
        no_portal = ("dbus-daemon not found" if not shutil.which("dbus-daemon") else
                     "no python3 with gi" if not py else None)
        try:
            for label in ("name", "serial", "portal"):
                if label == "portal" and no_portal:
                    print(f"skip portal: {no_portal}")
                    continue
                try:
                    # pipewiresink 0.3.65 in provide mode stops sending after a few
                    # consumers have come and gone: a new target for each case.
                    nid, serial = start_producer(procs, "hfx-target", TARGET_RGB, 100)
                    bridge_env = expect_out = None
                    if label == "name":
                        source = "pipewire:hfx-target"
                    elif label == "serial":
                        source = f"pipewire:{serial}"
                    else:
                        source = "pipewire"
                        bridge_env = dict(env, DBUS_SESSION_BUS_ADDRESS=start_bus(procs))
                        start_portal(procs, py, nid, bridge_env)
                        expect_out = f"PipeWire node {nid}"
                    print(f"     {label}: --source {source}, target node {nid} serial {serial}",
                          flush=True)
                    capture(tmp, env, label, source, nid, bridge_env, expect_out)
                    print(f"ok   {label}", flush=True)
                except AssertionError as e:
                    failed += 1
                    print(f"FAIL {label}\n{e}\n--- hfx-target:\n{procs.log('hfx-target')}\n"
                          f"--- wireplumber:\n{procs.log('wireplumber')}", flush=True)
                finally:
                    for name in ("fake-portal", "dbus", "hfx-target"):
                        procs.stop(name)
        finally:
            procs.stop_all()
    print(f"{'FAIL' if failed else 'PASS'}: {failed} cases failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
