#!/usr/bin/python3
"""Offloading H.264 from a TCG guest to hfxd, against encoding in the guest.

Usage: bench/run-vm-offload [--frames N] [--rounds N] [--sizes WxH,...] [--build DIR]
                            [--arch x86_64|aarch64] [--guest-build DIR]
                            [--cpus MODEL,...] [--vm-dir DIR] [--out DIR] [--timeout S]
                            [--no-plot]

In one guest (tests/vm/run-in-vm: QEMU/TCG, 2 vCPUs, a virtio-serial port
and an ivshmem device), with the same source and settings at every size
(NV12, 300 frames, libx264 ultrafast zerolatency 8000 kbit/s, GOP 300):

  source  appsrc cycling 8 pre-rendered frames ! fakesink: what the source
          itself costs (bench/gst-pipeline --one source)
  (a)     x264enc in the guest, default threads (--one x264-auto)
  (b)     vsockenc frame-source=inline address=auto, 4 frames in flight, to
          hfxd on the host over virtio-serial (--one vsockenc-4)
  (c)     vsockenc frame-source=shm over the ivshmem BAR, hfxd --shm-file
          on the ivshmem file (--one vsockenc-shm); reported as not
          available, with the reason, where hfxd or vsockenc cannot do it

all of it once per guest CPU model (--cpus, default max,qemu64: under TCG
the model decides how the guest kernel copies memory, docs/testing.md),
in the x86_64 guest, or with --arch aarch64 in the arm64 guest
(qemu-system-aarch64 -M virt, -cpu cortex-a72; docs/aarch64.md), which runs
the cross build's gst-pipeline, guest-io and vsockenc (--guest-build,
default build-aarch64) against this host's hfxd;
and, measured apart, where a frame's time goes: the guest's copy (into the
heap, as conn.c queues an INLINE frame; into the ivshmem BAR for SHM;
bench/guest-io), the transport (raw frame bytes through the virtio-serial
port to a plain reader on the host, in a second boot), and the host encode
(hfxd's mean encode time per frame during (b) and (c), and on the host
with no guest running). Host CPU: utime+stime of hfxd and of QEMU from
/proc/PID/stat over the counted frames, divided by the wall time, and what
all other processes used meanwhile (from /proc/stat): the guest's vCPUs and
hfxd share the host's cores, and so does anything else running.

Each case runs once per round, the rounds one after another in the same
guest; figures are medians over rounds, the ratio the median of per-round
ratios to (a). Progress goes to stdout as each run ends, with the CPU that
other processes took meanwhile. Writes OUT/vm-offload.csv (its rows of the
other architecture kept), OUT/vm-offload.log (x86_64) or
OUT/vm-offload-aarch64.log (that progress output: every round's figures)
and (with matplotlib) OUT/vm-offload.png; OUT defaults to bench/results. Needs ./build (with the
GStreamer plugin, bench/gst-pipeline and bench/guest-io), x264enc on the
host, and the guest image (scripts/vm-image; --vm-dir or $HFX_VM_DIR,
default build/vm). $HFXD, if set, is the hfxd to run instead of
BUILD/host/hfxd. A full run took 4 minutes on the 2-core machine where
this was written when it was otherwise idle, 6-7 minutes while other jobs
ran (without (c), which was not available yet).
"""
import argparse
import csv
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from hfxtest.bridgeproc import child_pid, terminate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
IVSHMEM_SIZE = 64 << 20
POLL_S = 0.025
MIN_CPU_WALL_S = 0.5

# (name in the CSV, bench/gst-pipeline --one case, label)
PIPELINES = [
    ("source", "source", "source ! fakesink"),
    ("x264enc", "x264-auto", "(a) x264enc in the guest"),
    ("vsockenc-inline", "vsockenc-4", "(b) vsockenc INLINE, virtio-serial"),
    ("vsockenc-shm", "vsockenc-shm", "(c) vsockenc SHM, ivshmem"),
]
LABEL = {name: label for name, _, label in PIPELINES}

CSV_FIELDS = [
    "arch", "cpu", "size", "case", "fps_rounds", "fps_median", "ratio_to_x264enc",
    "guest_cpu_ms_per_frame",
    "hfxd_cpu_pct", "qemu_cpu_pct", "other_cpu_pct", "other_cpu_pct_rounds", "guest_copy_ms",
    "transport_ms",
    "transport_mb_s", "transport_qemu_cpu_pct", "host_encode_ms", "host_encode_idle_ms",
    "dropped", "note",
]


LOG = []  # everything log() printed, saved next to the CSV


def log(msg):
    print(msg, flush=True)
    LOG.append(msg)


def parse_result(line):
    """'result k=v k=v ... [error=rest of line]' -> dict."""
    body = line[len("result "):]
    err = None
    i = body.find(" error=")
    if i >= 0:
        body, err = body[:i], body[i + len(" error="):].strip()
    d = dict(kv.split("=", 1) for kv in body.split() if "=" in kv)
    if err is not None:
        d["error"] = err
    return d


def cpu_s(pid):
    """utime + stime of pid in seconds, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime: fields 14, 15


class Hfxd:
    """hfxd on a unix socket, its log lines kept with the host time they came."""

    def __init__(self, binary, sock, extra=()):
        self.lines = []
        self.proc = subprocess.Popen([binary, "--listen", "unix:" + sock, *extra],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.ready.is_set() and self.proc.poll() is None and time.monotonic() < deadline:
            self.ready.wait(0.05)
        if not self.ready.is_set():
            self.stop()
            # Let the reader drain what a failed start printed.
            self.thread.join(2)

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append((time.monotonic(), line.rstrip("\n")))
            if line.startswith("hfxd: ready"):
                self.ready.set()

    @property
    def pid(self):
        return self.proc.pid

    def failure(self):
        """Why it did not start: its first line of output."""
        text = [t for _, t in self.lines if t.strip()]
        if not text:
            return f"exit status {self.proc.returncode}"
        return text[0].replace(self.proc.args[0], os.path.basename(self.proc.args[0]))

    def stop(self):
        terminate(self.proc)
        self.thread.join(2)

    def sessions(self):
        """{session id: {'start': t, 'end': t, 'frames', 'encoded', 'dropped', 'encode_ms'}}"""
        out = {}
        for t, line in self.lines:
            if " session " not in line:
                continue
            rest = line.split(" session ", 1)[1]
            sid, _, what = rest.partition(" ")
            if not sid.isdigit():
                continue
            s = out.setdefault(int(sid), {})
            if what.startswith("start"):
                # "start: unix pid 123 uid 0": for the guest's port, QEMU's pid
                s["start"] = t
                words = what.split()
                if "pid" in words[:-1]:
                    s["peer_pid"] = int(words[words.index("pid") + 1])
            elif what.startswith("end:"):
                # "end: 1.9 s, frames 300, encoded 300, dropped 0, mean encode 6.10 ms, ..."
                s["end"] = t
                for part in what[len("end:"):].split(","):
                    words = part.split()
                    if len(words) >= 2 and words[0] in ("frames", "encoded", "dropped"):
                        s[words[0]] = int(words[1])
                    elif words[:2] == ["mean", "encode"]:
                        s["encode_ms"] = float(words[2])
        return out


class PortReader(threading.Thread):
    """The host end of the transport test: accepts QEMU's connection on a
    unix socket and reads everything, noting when each segment of
    segment_bytes ended, to set against what the guest measured."""

    def __init__(self, sock, segments):
        super().__init__(daemon=True)
        self.segments = segments  # [(key, bytes)]
        self.times = {}  # key -> (first byte, last byte) host times
        self.total = 0
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(sock)
        self.srv.listen(1)
        self.srv.settimeout(1.0)
        self.stop = False

    def run(self):
        conn = None
        while conn is None and not self.stop:
            try:
                conn, _ = self.srv.accept()
            except socket.timeout:
                pass
        if conn is None:
            return
        conn.settimeout(1.0)
        buf = bytearray(1 << 20)
        seg, seg_end, start = 0, self.segments[0][1] if self.segments else 0, None
        while not self.stop:
            try:
                n = conn.recv_into(buf)
            except socket.timeout:
                continue
            if n == 0:
                break
            now = time.monotonic()
            if start is None:
                start = now
            self.total += n
            while seg < len(self.segments) and self.total >= seg_end:
                self.times[self.segments[seg][0]] = (start, now)
                seg += 1
                start = now if self.total > seg_end else None
                if seg < len(self.segments):
                    seg_end += self.segments[seg][1]
        conn.close()

    def close(self):
        self.stop = True
        self.join(5)
        self.srv.close()


def run_guest(args, results, script_lines, extra, hfxd=None, on_result=None):
    """Boot the guest, run script_lines (sh), follow its output as it is
    written: '@case NAME SIZE ROUND' names what runs next, '@mark begin' and
    '@mark end' bracket its counted frames (hfxd's and QEMU's CPU time are
    sampled there), 'result ...' ends it. Returns (results, QEMU's pid):
    each result is the line's fields plus '_case', '_size', '_round',
    '_announced' (host time of its @case line) and the CPU shares."""
    os.makedirs(results, exist_ok=True)
    script = os.path.join(results, "guest.sh")
    with open(script, "w") as f:
        # A failed step shows as its result line; the boot itself succeeded.
        f.write("\n".join(script_lines) + "\nexit 0\n")
    cmd = [sys.executable, os.path.join(ROOT, "tests", "vm", "run-in-vm"), "--arch", args.arch,
           "--vm-dir", args.vm_dir, "--results", results, "--timeout", str(args.timeout),
           "--cpu", args.cpu, "-q", *extra, "--", "sh", script]
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(args.guest_build, "gst"))
    # To a file, not a pipe: on failure run-in-vm prints the guest's whole
    # console, which could fill a pipe nobody reads until it exits.
    err_path = os.path.join(results, "run-in-vm.stderr")
    with open(err_path, "w") as err:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
    out_path = os.path.join(results, "output")
    pending, pos, qemu = "", 0, None
    current, marks, found, announced = None, {}, [], 0.0

    def sample():
        return {"t": time.monotonic(), "hfxd": cpu_s(hfxd.pid) if hfxd else 0.0,
                "qemu": cpu_s(qemu) if qemu else None, "busy": host_busy_s(), "self": self_cpu_s()}

    def handle(line):
        nonlocal current, marks, announced
        if line.startswith("@case "):
            _, name, size, rnd = line.split()
            current, marks, announced = (name, size, int(rnd)), {}, time.monotonic()
        elif line.startswith("@mark "):
            marks[line.split()[1]] = sample()
        elif line.startswith("result ") and current:
            r = parse_result(line)
            r["_case"], r["_size"], r["_round"] = current
            r["_announced"] = announced
            if "begin" in marks and "end" in marks:
                r.update(cpu_shares(marks["begin"], marks["end"]))
            found.append(r)
            current = None
            if on_result:
                on_result(r)
        elif line.strip() and not line.startswith("@"):
            # Warnings and errors from the guest's programs, for the record.
            log(f"    guest: {line}")

    def poll_output():
        nonlocal pending, pos
        try:
            with open(out_path, errors="replace") as f:
                f.seek(pos)
                data = f.read()
                pos = f.tell()
        except FileNotFoundError:
            return
        pending += data
        *lines, pending = pending.split("\n")
        for line in lines:
            handle(line)

    while proc.poll() is None:
        if qemu is None:
            qemu = child_pid(proc.pid, "qemu-system")
        poll_output()
        time.sleep(POLL_S)
    poll_output()
    if pending:
        handle(pending)
    if proc.returncode != 0:
        with open(err_path, errors="replace") as f:
            sys.stderr.write(f.read())
        raise SystemExit(f"run-vm-offload: the guest failed (run-in-vm exit {proc.returncode}); "
                         f"see {results}")
    return found, qemu


def host_busy_s():
    """CPU time all of this host's cores spent busy since boot, in seconds."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is in user)
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK


def self_cpu_s():
    t = os.times()
    return t.user + t.system


def cpu_shares(a, b):
    """hfxd's, QEMU's and everything else's CPU between samples a and b, in
    % of one core. Too short a stretch gives nothing: /proc counts in ticks."""
    wall = b["t"] - a["t"]
    if wall < MIN_CPU_WALL_S or a["qemu"] is None or b["qemu"] is None:
        return {}
    hfxd, qemu = b["hfxd"] - a["hfxd"], b["qemu"] - a["qemu"]
    other = (b["busy"] - a["busy"]) - hfxd - qemu - (b["self"] - a["self"])
    return {"_hfxd_pct": 100 * hfxd / wall, "_qemu_pct": 100 * qemu / wall,
            "_self_pct": 100 * (b["self"] - a["self"]) / wall,
            "_other_pct": max(0.0, 100 * other / wall)}


def other_qemus():
    """Pids of QEMU processes on this host that this run did not start."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/comm") as f:
                if f.read().startswith("qemu-system"):
                    pids.append(int(p))
        except OSError:
            pass
    return pids


def warn_if_busy():
    """The guest and hfxd need both cores; say so when something else runs."""
    busy = other_qemus()
    if busy:
        log(f"    WARNING: other QEMU processes are running (pids {' '.join(map(str, busy))}); "
            "the figures will be low")
    load = os.getloadavg()[0]
    if load > 0.5:
        log(f"    note: load average {load:.2f} before this step (the machine is shared)")


def cpu_text(r):
    if "_qemu_pct" not in r:
        return ""
    return (f"; host CPU, % of a core: hfxd {r['_hfxd_pct']:.0f}, QEMU {r['_qemu_pct']:.0f}, "
            f"other processes {r['_other_pct']:.0f}")


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def check_setup(args):
    """Build, and make sure everything the run needs is there."""
    for tree in dict.fromkeys([args.build, args.guest_build]):
        if subprocess.run(["ninja", "-C", tree], stdout=subprocess.DEVNULL).returncode != 0:
            raise SystemExit(f"run-vm-offload: ninja -C {tree} failed")
    # hfxd and the host's own pipeline from the host's tree; what runs in
    # the guest from the guest's (the same tree on x86_64).
    bins = {"hfxd": os.environ.get("HFXD") or os.path.join(args.build, "host", "hfxd"),
            "host_pipeline": os.path.join(args.build, "bench", "gst-pipeline"),
            "pipeline": os.path.join(args.guest_build, "bench", "gst-pipeline"),
            "guest_io": os.path.join(args.guest_build, "bench", "guest-io")}
    for f in list(bins.values()) + [os.path.join(args.vm_dir, "initramfs.cpio.gz")]:
        if not os.path.exists(f):
            raise SystemExit(f"run-vm-offload: {f} missing (./scripts/setup makes it)")
    if subprocess.run(["gst-inspect-1.0", "x264enc"], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        raise SystemExit("run-vm-offload: no x264enc (apt-get install gstreamer1.0-plugins-ugly)")
    return bins


def host_reference(args, bins, work, sizes):
    """hfxd's encode with no guest running: the same source in the same
    vsockenc pipeline, on the host, hfxd's encode thread with a core to
    itself. {size: {'fps', 'encode_ms'}}"""
    warn_if_busy()
    idle = {}
    sock = os.path.join(work, "host.sock")
    d = Hfxd(bins["hfxd"], sock)
    if not d.ready.is_set():
        raise SystemExit(f"run-vm-offload: hfxd did not start: {d.failure()}")
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(args.build, "gst"),
               GST_REGISTRY=os.path.join(work, "host-registry.bin"))
    try:
        for size in sizes:
            p = subprocess.run([bins["host_pipeline"], "--one", "vsockenc-4", size, str(args.frames),
                                "unix:" + sock], env=env, capture_output=True, text=True)
            res = [parse_result(x) for x in p.stdout.splitlines() if x.startswith("result ")]
            if p.returncode != 0 or not res or "error" in res[0]:
                raise SystemExit(f"run-vm-offload: host pipeline failed: {p.stdout}{p.stderr}")
            idle[size] = {"fps": float(res[0]["fps"])}
    finally:
        d.stop()
    # One session with frames per size, in order. Session ids count every
    # connection hfxd accepted, so they need not be 1, 2, ...
    ran = [s for _, s in sorted(d.sessions().items()) if s.get("frames")]
    for size, s in zip(sizes, ran):
        if "encode_ms" in s:
            idle[size]["encode_ms"] = s["encode_ms"]
    for size in sizes:
        log(f"    {size}: {idle[size]['fps']:.1f} fps on the host, hfxd mean encode "
            f"{fmt(idle[size].get('encode_ms'), '.2f')} ms/frame")
    return idle


def measure_transport(args, bins, work, sizes):
    """Raw frame bytes through the virtio-serial port to a plain reader, in
    a guest of its own (in the other guest hfxd owns the port)."""
    warn_if_busy()
    sock = os.path.join(work, f"transport-{args.cpu}.sock")  # one per CPU model
    segs, lines = [], []
    for rnd in range(1, args.rounds + 1):
        for size in sizes:
            w, h = (int(x) for x in size.split("x"))
            segs.append(((size, rnd), w * h * 3 // 2 * args.frames))
            lines += [f"echo '@case port-write {size} {rnd}'",
                      f"{shlex.quote(bins['guest_io'])} port-write {size} {args.frames}"]
    reader = PortReader(sock, segs)
    reader.start()

    def show(r):
        head = f"    round {r['_round']} {r['_size']}:"
        if "error" in r:
            log(f"{head} failed: {r['error']}")
            return
        host = reader.times.get((r["_size"], r["_round"]))
        seen = ""
        if host and host[1] > host[0]:
            nbytes = dict(segs)[(r["_size"], r["_round"])]
            seen = f" (the host reader saw {nbytes / (host[1] - host[0]) / 1e6:.0f} MB/s)"
        # This script's own CPU: mostly the reader thread.
        reader_cpu = f", run-vm-offload {r['_self_pct']:.0f}" if "_self_pct" in r else ""
        log(f"{head} {float(r['mb_per_s']):.0f} MB/s, {float(r['ms_per_frame']):.2f} ms/frame"
            f"{seen}{cpu_text(r)}{reader_cpu}")

    try:
        return run_guest(args, os.path.join(work, "transport-" + args.cpu), lines,
                         ["--serial-socket", sock],
                         on_result=show)[0]
    finally:
        reader.close()


def run_pipelines(args, bins, work, sizes):
    """Source, (a), (b), (c) and the copies in one guest with hfxd behind its
    virtio-serial port. Returns (results, hfxd sessions, why (c) cannot run
    or '')."""
    warn_if_busy()
    shm_file = f"/dev/shm/hfx-vm-offload-{os.getpid()}"
    # Made here so that QEMU (ivshmem) and hfxd (--shm-file) open one file
    # of a known size, whichever starts first.
    with open(shm_file, "wb") as f:
        f.truncate(IVSHMEM_SIZE)
    sock = os.path.join(work, f"hfxd-{args.cpu}.sock")  # one per CPU model
    common = ["--handshake-timeout", "300000"]  # the guest speaks long after QEMU connects
    shm_note = ""
    d = Hfxd(bins["hfxd"], sock, common + ["--shm-file", shm_file])
    if not d.ready.is_set():
        shm_note = f"not available: hfxd rejects --shm-file ({d.failure()})"
        log(f"    (c) {shm_note}; running the rest against hfxd without it")
        d = Hfxd(bins["hfxd"], sock, common)
        if not d.ready.is_set():
            os.unlink(shm_file)
            raise SystemExit(f"run-vm-offload: hfxd did not start: {d.failure()}")
    pipeline, guest_io = shlex.quote(bins["pipeline"]), shlex.quote(bins["guest_io"])
    n = args.frames
    lines = [f"shm={0 if shm_note else 1}"]
    for rnd in range(1, args.rounds + 1):
        for size in sizes:
            for name, case, _ in PIPELINES:
                run = f"echo '@case {name} {size} {rnd}'; {pipeline} --one {case} {size} {n}"
                if name == "vsockenc-shm":
                    # One failure says it all; later rounds would only repeat it.
                    run = f"if [ $shm = 1 ]; then {run} auto || shm=0; fi"
                elif name == "vsockenc-inline":
                    run += " auto"
                lines.append(run)
            lines += [f"echo '@case copy-heap {size} {rnd}'; {guest_io} copy {size} {n}",
                      f"echo '@case copy-bar {size} {rnd}'; {guest_io} bar-copy {size} {n}"]

    def show(r):
        head = f"    round {r['_round']} {r['_size']} {LABEL.get(r['_case'], r['_case'])}:"
        if "error" in r:
            log(f"{head} failed: {r['error']}")
        elif "fps" in r:
            log(f"{head} {float(r['fps']):.1f} fps{cpu_text(r)}")
        else:
            log(f"{head} {float(r['ms_per_frame']):.2f} ms/frame, {float(r['mb_per_s']):.0f} MB/s"
                f"{cpu_text(r)}")

    try:
        results, qemu_pid = run_guest(args, os.path.join(work, "guest-" + args.cpu), lines,
                                      ["--gst-registry", "--serial-socket", sock,
                                       "--ivshmem", shm_file], hfxd=d, on_result=show)
    finally:
        d.stop()
        os.unlink(shm_file)
    attach_sessions(results, d.sessions())
    return results, qemu_pid, shm_note


def attach_sessions(results, sessions):
    """Give each vsockenc run its hfxd session's mean encode time and peer
    pid (_encode_ms, _peer_pid). A session belongs to the run whose @case
    line came last before it started: the guest prints that line seconds
    before vsockenc connects."""
    for s in sessions.values():
        if "start" not in s:
            continue
        owner = None
        for r in results:
            if r["_announced"] <= s["start"]:
                owner = r
        if owner is not None and owner["_case"].startswith("vsockenc"):
            owner["_peer_pid"] = s.get("peer_pid")
            if s.get("encoded"):
                owner["_encode_ms"] = s["encode_ms"]


def summarise(args, sizes, idle, transport, guest, qemu_pid, shm_note):
    """One CSV row per size and pipeline: medians over rounds."""
    def pick(runs, case, size):
        return [r for r in runs if r["_case"] == case and r["_size"] == size]

    def med(runs, key, spec):
        return fmt(median_or_none([float(r[key]) for r in runs if key in r]), spec)

    rows = []
    for size in sizes:
        x264 = {r["_round"]: float(r["fps"]) for r in pick(guest, "x264enc", size) if "fps" in r}
        bar_runs = pick(guest, "copy-bar", size)
        tr = pick(transport, "port-write", size)
        for name, _, _ in PIPELINES:
            runs = pick(guest, name, size)
            ok = [r for r in runs if "fps" in r]
            note = ""
            if name.startswith("vsockenc"):
                # The guest has no network and no vsock device, but check:
                # hfxd's peer on the port's socket is QEMU.
                wrong = [r for r in ok if r.get("_peer_pid") != qemu_pid]
                if wrong:
                    note = (f"failed: hfxd's peer was pid {wrong[0].get('_peer_pid')}, "
                            f"not QEMU ({qemu_pid})")
                    ok = []
            if name == "vsockenc-shm" and not note:
                if shm_note:
                    note = shm_note
                elif not runs:
                    failed = [r for r in guest if r["_case"] == name and "error" in r]
                    note = "not available: not run" + (
                        f"; at {failed[0]['_size']} vsockenc frame-source=shm failed: "
                        f"{failed[0]['error']}" if failed else "")
                elif not ok:
                    note = f"not available: vsockenc frame-source=shm failed: {runs[0]['error']}"
                elif any(int(r.get("shm_frames", 0)) < args.frames for r in ok):
                    note = "not available: the frames did not go through shared memory"
                    ok = []
            elif not ok and not note:
                note = "failed: " + (runs[0]["error"] if runs else "not run")
            fps = [float(r["fps"]) for r in sorted(ok, key=lambda r: r["_round"])]
            ratios = [float(r["fps"]) / x264[r["_round"]] for r in ok if r["_round"] in x264]
            row = dict.fromkeys(CSV_FIELDS, "")
            row.update({
                "arch": args.arch, "cpu": args.cpu, "size": size, "case": name,
                "fps_rounds": ";".join(f"{v:.2f}" for v in fps) or "n/a",
                "fps_median": fmt(median_or_none(fps), ".2f"),
                "ratio_to_x264enc": fmt(median_or_none(ratios), ".3f"),
                "guest_cpu_ms_per_frame": med(ok, "cpu_ms", ".2f"),
                "qemu_cpu_pct": med(ok, "_qemu_pct", ".0f"),
                "other_cpu_pct": med(ok, "_other_pct", ".0f"),
                # Per round, as fps_rounds: which rounds something else disturbed.
                "other_cpu_pct_rounds": ";".join(
                    fmt(r.get("_other_pct"), ".0f")
                    for r in sorted(ok, key=lambda r: r["_round"])) or "n/a",
                "dropped": str(sum(int(r.get("dropped", 0)) for r in ok)) if ok else "n/a",
                "note": note,
            })
            if name == "vsockenc-inline":
                row.update(guest_copy_ms=med(pick(guest, "copy-heap", size), "ms_per_frame", ".3f"),
                           transport_ms=med(tr, "ms_per_frame", ".2f"),
                           transport_mb_s=med(tr, "mb_per_s", ".0f"),
                           transport_qemu_cpu_pct=med(tr, "_qemu_pct", ".0f"))
            if name == "vsockenc-shm":
                # The pixels stay in the BAR: only offsets cross the port.
                bar = med(bar_runs, "ms_per_frame", ".3f")
                if bar == "n/a" and bar_runs:
                    bar += ": " + bar_runs[0].get("error", "")
                row.update(guest_copy_ms=bar)
            if name.startswith("vsockenc"):
                row.update(hfxd_cpu_pct=med(ok, "_hfxd_pct", ".0f"),
                           host_encode_ms=med(ok, "_encode_ms", ".2f"),
                           host_encode_idle_ms=fmt(idle[size].get("encode_ms"), ".2f"))
            rows.append(row)
    return rows


def print_table(rows):
    log("")
    log(f"{'arch':8} {'cpu':10} {'size':10} {'case':16} {'fps':>8} {'ratio':>7} {'hfxd%':>6} {'QEMU%':>6} "
        f"{'other%':>6} {'copy ms':>8} {'port ms':>8} {'enc ms':>7} {'idle ms':>7}")
    for r in rows:
        log(f"{r['arch']:8} {r['cpu']:10} {r['size']:10} {r['case']:16} {r['fps_median']:>8} {r['ratio_to_x264enc']:>7} "
            f"{r['hfxd_cpu_pct']:>6} {r['qemu_cpu_pct']:>6} {r['other_cpu_pct']:>6} "
            f"{r['guest_copy_ms'][:8]:>8} {r['transport_ms']:>8} {r['host_encode_ms']:>7} "
            f"{r['host_encode_idle_ms']:>7}" + (f"  ({r['note']})" if r["note"] else ""))
    log("fps: median over rounds, output frames 21..N of each run; ratio: median of the per-round "
        "fps / (a).\nhfxd% QEMU% other%: host CPU time over the counted frames / wall time, "
        "100 = one core.\nThe guest's vCPUs (QEMU) and hfxd share this host's 2 cores.")


def main():
    doc = __doc__.split("\n\n")
    ap = argparse.ArgumentParser(usage=doc[1][len("Usage: "):],
                                 description="\n\n".join([doc[0]] + doc[2:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300, help="frames per run (default 300)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of every case (default 3)")
    ap.add_argument("--sizes", default="1280x720,1920x1080", help="default 1280x720,1920x1080")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="build tree (default build)")
    ap.add_argument("--arch", choices=["x86_64", "aarch64"], default="x86_64",
                    help="the guest's architecture (default x86_64)")
    ap.add_argument("--guest-build",
                    help="the tree whose programs run in the guest (default: --build on "
                         "x86_64, build-aarch64 on aarch64)")
    ap.add_argument("--vm-dir",
                    help="guest image (default $HFX_VM_DIR or build/vm; aarch64: "
                         "$HFX_VM_AARCH64_DIR or build/vm-aarch64)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"),
                    help="where the CSV and PNG go (default bench/results)")
    ap.add_argument("--timeout", type=int, default=1800,
                    help="seconds per guest boot (default 1800)")
    ap.add_argument("--cpus",
                    help="guest CPU models (QEMU -cpu), each a full run (default max,qemu64; "
                         "aarch64: cortex-a72)")
    ap.add_argument("--no-plot", action="store_true", help="write the CSV only")
    args = ap.parse_args()
    arm = args.arch == "aarch64"
    args.build = os.path.abspath(args.build)
    args.guest_build = os.path.abspath(args.guest_build or (
        os.path.join(ROOT, "build-aarch64") if arm else args.build))
    args.vm_dir = os.path.abspath(args.vm_dir or (
        os.environ.get("HFX_VM_AARCH64_DIR", os.path.join(ROOT, "build", "vm-aarch64")) if arm
        else os.environ.get("HFX_VM_DIR", os.path.join(ROOT, "build", "vm"))))
    args.cpus = args.cpus or ("cortex-a72" if arm else "max,qemu64")
    sizes = args.sizes.split(",")
    if args.frames < 40 or args.rounds < 1:
        ap.error("--frames must be >= 40, --rounds >= 1")
    t_start = time.monotonic()
    bins = check_setup(args)
    work = tempfile.mkdtemp(prefix="hfx-vm-offload-")
    log(f"run-vm-offload: {args.rounds} round(s) x {len(sizes)} sizes x {args.frames} frames; "
        f"work dir {work}")

    log("[1/3] host, no guest: vsockenc INLINE -> hfxd over a unix socket (the encode alone)")
    idle = host_reference(args, bins, work, sizes)
    rows = []
    for cpu in args.cpus.split(","):
        args.cpu = cpu
        log(f"[2/3] guest (-cpu {cpu}): raw frames through the virtio-serial port to a reader "
            "on the host")
        transport = measure_transport(args, bins, work, sizes)
        log(f"[3/3] guest (-cpu {cpu}): source, (a) x264enc, (b) vsockenc INLINE, "
            "(c) vsockenc SHM, copies")
        guest, qemu_pid, shm_note = run_pipelines(args, bins, work, sizes)
        rows += summarise(args, sizes, idle, transport, guest, qemu_pid, shm_note)
    os.makedirs(args.out, exist_ok=True)
    out_csv = os.path.join(args.out, "vm-offload.csv")
    log_name = "vm-offload.log" if args.arch == "x86_64" else f"vm-offload-{args.arch}.log"
    # The other architecture's rows stay (rows from before the arch column: x86_64).
    kept = []
    if os.path.exists(out_csv):
        with open(out_csv, newline="") as f:
            kept = [dict(r, arch=r.get("arch") or "x86_64") for r in csv.DictReader(f)]
        kept = [{k: r.get(k, "") for k in CSV_FIELDS} for r in kept if r["arch"] != args.arch]
    rows = kept + rows if args.arch != "x86_64" else rows + kept
    with open(out_csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        w.writerows(rows)
    print_table([r for r in rows if r["arch"] == args.arch])
    if not args.no_plot:
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "plot-vm-offload.py"),
                        args.out], check=True)
        log(f"wrote {out_csv}, {log_name} and vm-offload.png")
    else:
        log(f"wrote {out_csv} and {log_name}")
    log(f"run-vm-offload: {time.monotonic() - t_start:.0f} s")
    with open(os.path.join(args.out, log_name), "w") as f:
        f.write("\n".join(LOG) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
