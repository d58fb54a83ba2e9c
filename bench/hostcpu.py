"""Where a QEMU process spends the host's CPU, by thread group, while a
guest runs marked phases (bench/run-vm-resource).

QEMU must run with -name ...,debug-threads=on so that its vCPU threads are
called "CPU N/TCG"; libhfx-host calls its encode workers (and the encoder's
own helper threads, which inherit the name) "hfx-encode"; QEMU's main loop
keeps the process's name. The guest writes what it is doing into a marker
file the host can read (a shared directory) and removes it between phases;
a sample interval counts for a phase only if the marker read the same at
both of its ends, so phases must last many intervals.

Figures are per cent of one host core: 100 is one core busy for the whole
phase. "host" is every process on the machine (/proc/stat), the others are
the QEMU process's threads.
"""
import os
import re
import threading
import time
from collections import defaultdict

HZ = os.sysconf('SC_CLK_TCK')
GROUPS = ('vcpu', 'main', 'encode', 'other')
VCPU = re.compile(r'CPU \d+/TCG')


def _group(comm, process_comm):
    if VCPU.fullmatch(comm):
        return 'vcpu'
    if comm == 'hfx-encode':
        return 'encode'
    if comm == process_comm:
        return 'main'
    return 'other'


def _children(pid):
    """Every descendant of pid (a scan of /proc)."""
    parents = {}
    for p in os.listdir('/proc'):
        if not p.isdigit():
            continue
        try:
            stat = open(f'/proc/{p}/stat').read()
        except OSError:
            continue
        parents[int(p)] = int(stat.rsplit(')', 1)[1].split()[1])
    found, todo = [], [pid]
    while todo:
        cur = todo.pop()
        kids = [p for p, pp in parents.items() if pp == cur]
        found += kids
        todo += kids
    return found


def _process_named(root, comm):
    for p in _children(root):
        try:
            if open(f'/proc/{p}/comm').read().strip() == comm:
                return p
        except OSError:
            pass
    return None


def _thread_jiffies(pid, process_comm):
    """{thread id: (group, user + system jiffies)}"""
    out = {}
    for t in os.listdir(f'/proc/{pid}/task'):
        try:
            comm = open(f'/proc/{pid}/task/{t}/comm').read().strip()
            fields = open(f'/proc/{pid}/task/{t}/stat').read().rsplit(')', 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        out[t] = (_group(comm, process_comm), int(fields[11]) + int(fields[12]))
    return out


def _by_group(prev, cur):
    """Jiffies per group between two samples. A thread that ended between
    them has left /proc with its time (it goes to the process's dead-thread
    total): its last interval is lost, not its whole life subtracted."""
    out = dict.fromkeys(GROUPS, 0)
    for tid, (group, jiffies) in cur.items():
        out[group] += jiffies - prev.get(tid, (group, 0))[1]
    return out


def _host_busy_jiffies():
    values = [int(v) for v in open('/proc/stat').readline().split()[1:]]
    return sum(values) - values[3] - values[4]  # all but idle and iowait


class Sampler:
    """Samples the QEMU process (comm, e.g. "qemu-system-x86") that is a
    descendant of root_pid every `interval` seconds, on its own thread, and
    sums per phase named by the first line of marker (a Path)."""

    def __init__(self, root_pid, marker, comm='qemu-system-x86', interval=0.25):
        self.root, self.marker, self.comm, self.interval = root_pid, marker, comm, interval
        self.totals = defaultdict(lambda: dict.fromkeys(GROUPS + ('host', 'seconds'), 0.0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _phase(self):
        try:
            return self.marker.read_text().strip() or None
        except OSError:
            return None

    def _run(self):
        pid = None
        while not pid and not self._stop.is_set():
            pid = _process_named(self.root, self.comm)
            time.sleep(self.interval)
        prev = None
        while pid and not self._stop.wait(self.interval):
            try:
                cur = (self._phase(), time.monotonic(), _thread_jiffies(pid, self.comm),
                       _host_busy_jiffies())
            except OSError:
                return  # QEMU is gone
            if prev and cur[0] and cur[0] == prev[0]:
                t = self.totals[cur[0]]
                t['seconds'] += cur[1] - prev[1]
                for g, jiffies in _by_group(prev[2], cur[2]).items():
                    t[g] += jiffies / HZ
                t['host'] += (cur[3] - prev[3]) / HZ
            prev = cur

    def percent(self, phase):
        """{group: per cent of one core} over the phase, or None if it was
        never seen for a whole interval."""
        t = self.totals.get(phase)
        if not t or t['seconds'] <= 0:
            return None
        return {g: 100 * t[g] / t['seconds'] for g in GROUPS + ('host',)}
