#!/usr/bin/python3
"""hfxd under systemd (docs/architecture.md, "hfxd under systemd"): socket
activation, the units, and the units' sandbox.

    test-systemd.py GROUP BUILD_UNITS_DIR HFXD HFX_ENCODE HFX_VERIFY [CASE...]

GROUP is one of
  activation  hfxd started with sockets passed the way systemd passes them
              (systemd-socket-activate, or this script's own fork/exec that
              sets LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES like sd_listen_fds(3)
              describes): it serves, it refuses what it cannot serve, and it
              leaves alone what is not meant for it.
  units       the unit files (configured with the build tree's hfxd as
              ExecStart) pass `systemd-analyze verify` without a word, and a
              broken copy of each does not; the sandbox scores as documented
              in docs/security.md; the two services keep the same sandbox.
  sandbox     the services' ExecStart run the way systemd would (the passed
              socket, MemoryDenyWriteExecute= through the kernel's
              PR_SET_MDWE) under strace while a client encodes: every system
              call is one SystemCallFilter= allows, and no mapping breaks
              MemoryDenyWriteExecute='s rules.

Exit status 0 when every case passed, 77 when a tool the group needs is
missing (the message says which), 1 otherwise."""
import ctypes
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

GROUP, UNITS, HFXD, ENCODE, VERIFY = sys.argv[1:6]
ONLY = sys.argv[6:]
SCALE = int(os.environ.get("HFX_TEST_TIMEOUT_SCALE", "1"))


class Skip(Exception):
    pass


def check(cond, what):
    if not cond:
        raise AssertionError(what)


# ---- processes ----

class Daemon:
    """hfxd (or a launcher that becomes hfxd) with its stderr in a file."""

    def __init__(self, pid, log_path):
        self.pid = pid
        self.log_path = log_path
        self.status = None

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, text, timeout=10):
        deadline = time.monotonic() + timeout * SCALE
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"hfxd did not log {text!r}; its log:\n{self.log()}")

    def poll(self):
        if self.status is None:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(st)
        return self.status

    def wait(self, timeout=10):
        deadline = time.monotonic() + timeout * SCALE
        while self.poll() is None:
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"hfxd did not exit; its log:\n{self.log()}")
            time.sleep(0.02)
        return self.status

    def stop(self):
        """SIGTERM, then its exit status."""
        if self.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
        return self.wait()

    def stop_traced(self):
        """For strace -f PROG: SIGTERM to PROG (strace -o blocks it for
        itself), then strace's exit status, which is PROG's."""
        with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
            children = [int(c) for c in f.read().split()]
        check(len(children) == 1, f"strace has children {children}")
        os.kill(children[0], signal.SIGTERM)
        return self.wait()

    def kill(self):
        """SIGKILL, to its children first: strace's hfxd must not outlive a
        failed case."""
        if self.poll() is None:
            try:
                with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                    for child in f.read().split():
                        os.kill(int(child), signal.SIGKILL)
            except (OSError, ValueError):
                pass
            os.kill(self.pid, signal.SIGKILL)
            self.wait()


def spawn(argv, log_path, passed=(), listen_pid="self", names=None, mdwe=False):
    """argv[0] started as systemd starts a socket-activated service: the
    sockets in passed (objects with fileno()) as descriptors 3, 4, ...,
    LISTEN_FDS their count, LISTEN_PID the new process's pid ("self") or the
    given text, LISTEN_FDNAMES names joined with ':' (none: unset). With
    mdwe, PR_SET_MDWE first, the kernel's MemoryDenyWriteExecute=."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LISTEN_")}
    fds = [s.fileno() for s in passed]
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    pid = os.fork()
    if pid == 0:
        try:
            # Out of the way of 3.. first, then into place, inheritable.
            high = [os.dup2(fd, 100 + i, inheritable=False) for i, fd in enumerate(fds)]
            for i, fd in enumerate(high):
                os.dup2(fd, 3 + i, inheritable=True)
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            if fds:
                env["LISTEN_FDS"] = str(len(fds))
                env["LISTEN_PID"] = str(os.getpid()) if listen_pid == "self" else listen_pid
                if names is not None:
                    env["LISTEN_FDNAMES"] = ":".join(names)
            if mdwe:
                set_mdwe()
            os.closerange(3 + len(fds), 4096)
            os.execve(argv[0], argv, env)
        except BaseException as e:  # noqa: BLE001 - report anything, never return
            os.write(2, f"spawn {argv[0]}: {e}\n".encode())
        os._exit(127)
    os.close(log_fd)
    return Daemon(pid, log_path)


def set_mdwe():
    """PR_SET_MDWE(PR_MDWE_REFUSE_EXEC_GAIN): from now on, in this process
    and what it executes, no mapping may become writable and executable
    (Linux 6.3)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(65, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_MDWE)")


def mdwe_available():
    r = subprocess.run([sys.executable, "-c",
                        "import ctypes; l = ctypes.CDLL(None); "
                        "raise SystemExit(l.prctl(65, 1, 0, 0, 0) != 0)"])
    return r.returncode == 0


def unix_listener(path, kind=socket.SOCK_STREAM, listening=True):
    s = socket.socket(socket.AF_UNIX, kind)
    s.bind(path)
    if listening:
        s.listen(8)
    return s


def tcp_listener(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    s.listen(8)
    return s


def encode(tmp, address, name, *extra, frames=45, size="640x360"):
    """hfx-encode a test pattern through address, then hfx-verify: the
    frames come back and decode at >= 35 dB against the pattern."""
    out = os.path.join(tmp, name + ".h264")
    r = subprocess.run([ENCODE, "--address", address, "--test-pattern", "--size", size,
                        "--frames", str(frames), "--output", out, "--quiet", *extra],
                       capture_output=True, text=True, timeout=60 * SCALE)
    check(r.returncode == 0, f"hfx-encode through {address}: {r.returncode}\n{r.stderr}")
    v = subprocess.run([VERIFY, out, "--test-pattern", "--size", size,
                        "--expect-frames", str(frames), "--min-psnr", "35"],
                       capture_output=True, text=True, timeout=60 * SCALE)
    check(v.returncode == 0, f"hfx-verify: {v.stdout}{v.stderr}")
    return v.stdout.strip()


def not_accepted_by_hfxd(listener, path):
    """True when a connection to listener, which this process made and
    passed on, is still waiting in its queue a second later: nobody else
    accepts on it. (Looked at with select, not a non-blocking accept: the
    blocking mode belongs to the socket, which hfxd shares.)"""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    time.sleep(1.0)
    waiting = bool(select.select([listener], [], [], 0)[0])
    if waiting:
        conn, _ = listener.accept()
        conn.close()
    c.close()
    return waiting


# ---- group activation ----

def socket_activate(tmp, args, *argv):
    """systemd-socket-activate ARGS HFXD ARGV: it listens, and on the first
    connection or datagram executes hfxd with the sockets passed."""
    if not shutil.which("systemd-socket-activate"):
        raise Skip("systemd-socket-activate not found (Debian package systemd)")
    log = os.path.join(tmp, "hfxd.log")
    d = spawn(["/usr/bin/env", "systemd-socket-activate", *args, HFXD, *argv], log)
    return d


def wait_path(path, d):
    deadline = time.monotonic() + 10 * SCALE
    while not os.path.exists(path):
        check(d.poll() is None, f"exited early:\n{d.log()}")
        check(time.monotonic() < deadline, f"{path} never appeared:\n{d.log()}")
        time.sleep(0.02)


def case_socket_activate_serves(tmp):
    """No --listen: the passed unix socket is served, INLINE and SHM; the
    result decodes; SIGTERM ends hfxd with status 0 and the socket file,
    systemd's, is left where it is."""
    path = os.path.join(tmp, "hfxd.sock")
    d = socket_activate(tmp, ["-l", path])
    try:
        wait_path(path, d)
        print("  inline:", encode(tmp, "unix:" + path, "inline"))
        d.wait_log(f"listening on fd 3 (unix:{path})")
        print("  shm:", encode(tmp, "unix:" + path, "shm", "--source", "shm"))
        check(d.stop() == 0, f"hfxd exited {d.status} after SIGTERM:\n{d.log()}")
        check(os.path.exists(path), "hfxd removed the socket file it was given")
        check("exiting: 2 sessions, 90 frames received, 90 encoded" in d.log(), d.log())
    finally:
        d.kill()


def case_socket_activate_named(tmp):
    """--listen systemd:NAME takes the socket of that name only; the other
    is closed with a warning; a --shm-file after it is that socket's region
    0."""
    a, b = os.path.join(tmp, "a.sock"), os.path.join(tmp, "b.sock")
    region = os.path.join(tmp, "region")
    d = socket_activate(tmp, ["-l", a, "-l", b, "--fdname=vm1:vm2"],
                        "--listen", "systemd:vm2", "--shm-file", region, "--shm-size", "4")
    try:
        wait_path(b, d)
        encode(tmp, "unix:" + b, "named")
        log = d.log()
        check(f"listening on fd 4 (unix:{b})" in log, log)
        check("fd 4: region 0 is " + region in log, log)
        check("socket 3 ('vm1') passed by systemd is not served" in log, log)
        with open(region, "rb") as f:
            check(f.read(8) == b"HFXREGN0", "region 0's header was not written")
        check(d.stop() == 0, d.log())
    finally:
        d.kill()


def refused(d, *says):
    st = d.wait()
    log = d.log()
    check(st == 1, f"hfxd exited {st}, not 1:\n{log}")
    for s in says:
        check(s in log, f"no {s!r} in:\n{log}")
    print("  refused:", [l for l in log.splitlines() if says[0] in l][0])


def case_datagram_refused(tmp):
    """A datagram socket (ListenDatagram=) is refused, with why, exit 1."""
    path = os.path.join(tmp, "dgram.sock")
    d = socket_activate(tmp, ["--datagram", "-l", path])
    try:
        wait_path(path, d)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        c.sendto(b"x", path)
        c.close()
        refused(d, "fd 3 is not a listening stream socket (unix, tcp or vsock): "
                   "a datagram socket",
                "cannot listen on socket 3 ('unknown') passed by systemd",
                "needs ListenStream= and Accept=no")
    finally:
        d.kill()


def case_seqpacket_refused(tmp):
    path = os.path.join(tmp, "seq.sock")
    d = socket_activate(tmp, ["--seqpacket", "-l", path])
    try:
        wait_path(path, d)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        c.connect(path)
        refused(d, "a seqpacket socket")
        c.close()
    finally:
        d.kill()


def case_connection_refused(tmp):
    """A connected stream socket (what a unit with Accept=yes passes) and a
    stream socket that does not listen are refused; so is a pipe."""
    a, b = socket.socketpair()
    d = spawn([HFXD, "--listen", "systemd"], os.path.join(tmp, "log1"), [a])
    refused(d, "fd 3 is not a listening stream socket", "a stream socket that is not listening")
    q = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    q.bind(os.path.join(tmp, "quiet.sock"))
    d = spawn([HFXD], os.path.join(tmp, "log2"), [q])
    refused(d, "a stream socket that is not listening")
    r, w = os.pipe()
    with os.fdopen(r) as pipe_r:
        d = spawn([HFXD], os.path.join(tmp, "log3"), [pipe_r])
        refused(d, "fd 3 is not a listening stream socket", "not a socket")
    os.close(w)
    for s in (a, b, q):
        s.close()


def case_listen_pid_elsewhere(tmp):
    """LISTEN_PID naming another process: the descriptors are not hfxd's.
    hfxd serves its own --listen and never accepts on the passed socket;
    without --listen it has nothing to serve and says why; with --listen
    systemd it says why. Then the same socket with LISTEN_PID right is
    served (the check above can tell the two apart)."""
    passed_path = os.path.join(tmp, "passed.sock")
    own = os.path.join(tmp, "own.sock")
    lst = unix_listener(passed_path)
    try:
        d = spawn([HFXD, "--listen", "unix:" + own], os.path.join(tmp, "log1"), [lst],
                  listen_pid=str(os.getpid()))
        try:
            d.wait_log("hfxd: ready")
            encode(tmp, "unix:" + own, "own")
            check(not_accepted_by_hfxd(lst, passed_path),
                  "hfxd accepted on a socket LISTEN_PID gave to another process")
            check("fd 3" not in d.log(), d.log())
            check(d.stop() == 0, d.log())
        finally:
            d.kill()

        d = spawn([HFXD], os.path.join(tmp, "log2"), [lst], listen_pid="1")
        st = d.wait()
        check(st == 2, f"exit {st}:\n{d.log()}")
        check("no --listen address given (LISTEN_PID is 1, not this process" in d.log(),
              d.log())

        d = spawn([HFXD, "--listen", "systemd"], os.path.join(tmp, "log3"), [lst],
                  listen_pid="1")
        refused(d, "--listen systemd: no sockets were passed (LISTEN_PID is 1")

        d = spawn([HFXD], os.path.join(tmp, "log4"), [lst])
        try:
            d.wait_log("hfxd: ready")
            check(not not_accepted_by_hfxd(lst, passed_path),
                  "hfxd did not accept on the socket passed to it")
            encode(tmp, "unix:" + passed_path, "passed")
            check(d.stop() == 0, d.log())
        finally:
            d.kill()
    finally:
        lst.close()


def case_tcp_needs_token(tmp):
    """A passed TCP socket bound beyond loopback needs --token-file, as a
    tcp: address does (docs/security.md); on loopback it does not."""
    anyaddr = tcp_listener("0.0.0.0")
    port = anyaddr.getsockname()[1]
    d = spawn([HFXD], os.path.join(tmp, "log1"), [anyaddr])
    refused(d, f"refusing to listen on fd 3 (tcp:0.0.0.0:{port}): a non-loopback address "
               "needs a token")

    token = os.path.join(tmp, "token")
    with open(token, "w") as f:
        f.write("open-sesame\n")
    os.chmod(token, 0o600)
    d = spawn([HFXD, "--token-file", token], os.path.join(tmp, "log2"), [anyaddr])
    try:
        d.wait_log("hfxd: ready")
        encode(tmp, f"tcp:127.0.0.1:{port}", "token", "--token-file", token)
        check(d.stop() == 0, d.log())
    finally:
        d.kill()
    anyaddr.close()

    loop = tcp_listener("127.0.0.1")
    port = loop.getsockname()[1]
    d = spawn([HFXD], os.path.join(tmp, "log3"), [loop])
    try:
        d.wait_log(f"listener 0 bound to port {port}")
        encode(tmp, f"tcp:127.0.0.1:{port}", "loopback")
        check(d.stop() == 0, d.log())
    finally:
        d.kill()
    loop.close()


def case_systemd_listen_mistakes(tmp):
    """--shm-file after a --listen systemd that stands for two sockets, a
    NAME no socket has, one socket taken twice, malformed variables: each
    refused with a message, before anything is served."""
    s1 = unix_listener(os.path.join(tmp, "1.sock"))
    s2 = unix_listener(os.path.join(tmp, "2.sock"))
    cases = [
        (["--listen", "systemd", "--shm-file", os.path.join(tmp, "r")], ["a", "b"],
         "--listen systemd stands for 2 sockets"),
        (["--listen", "systemd:c"], ["a", "b"],
         "--listen systemd:c: none of the 2 passed sockets is named 'c' "
         "(LISTEN_FDNAMES: 'a' 'b')"),
        (["--listen", "systemd", "--listen", "systemd:b"], ["a", "b"],
         "socket 4 ('b') is taken by an earlier --listen systemd"),
        ([], ["a"], "LISTEN_FDNAMES 'a' is not 2 names"),
    ]
    for i, (args, names, says) in enumerate(cases):
        d = spawn([HFXD, *args], os.path.join(tmp, f"log{i}"), [s1, s2], names=names)
        refused(d, says)
        check(not os.path.exists(os.path.join(tmp, "r")), "--shm-file created anyway")
    s1.close()
    s2.close()


# ---- group units ----

def need(tool, package):
    if not shutil.which(tool):
        raise Skip(f"{tool} not found (Debian package {package})")


def verify(*paths):
    """systemd-analyze verify on unit files: (exit status, what it said).
    Warnings (an unknown key, a value it cannot parse) leave the exit status
    at 0, so what it says counts too. At the warning level it says nothing
    about a container's environment; --man=no: the pages are not installed
    (tests/man checks them)."""
    env = dict(os.environ, SYSTEMD_LOG_LEVEL="warning", SYSTEMD_PAGER="cat")
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", *paths],
                       capture_output=True, text=True, env=env, timeout=60)
    return r.returncode, (r.stdout + r.stderr).strip()


UNIT_SETS = [("hfxd.socket", "hfxd.service"), ("hfxd@vm1.socket", "hfxd@vm1.service")]


def case_units_verify(tmp):
    """Each pair verifies without a word (the template for instance vm1:
    %i expanded)."""
    need("systemd-analyze", "systemd")
    for pair in UNIT_SETS:
        rc, said = verify(*[os.path.join(UNITS, u) for u in pair])
        check(rc == 0 and said == "", f"systemd-analyze verify {pair}: {rc}\n{said}")
        print(f"  {' '.join(pair)}: clean")


def broken_copy(tmp, name, old, new):
    """A copy of the units in tmp/broken-N with one edit to name."""
    d = tempfile.mkdtemp(dir=tmp, prefix="broken-")
    for f in os.listdir(UNITS):
        if f.endswith((".socket", ".service")):
            shutil.copy(os.path.join(UNITS, f), d)
    p = os.path.join(d, name)
    with open(p) as f:
        text = f.read()
    check(old in text, f"{name} has no {old!r} to break")
    with open(p, "w") as f:
        f.write(text.replace(old, new, 1))
    return d


def case_units_verify_catches_errors(tmp):
    """The check above fails on a real error in each unit: a misspelt key, a
    value that does not parse, a missing program, an address that does not
    parse, a socket without its service."""
    need("systemd-analyze", "systemd")
    breaks = [
        ("hfxd.service", "PrivateDevices=yes", "PrivateDevice=yes",
         ("hfxd.socket", "hfxd.service")),
        ("hfxd.service", "NoNewPrivileges=yes", "NoNewPrivileges=perhaps",
         ("hfxd.socket", "hfxd.service")),
        ("hfxd.service", "/hfxd --listen systemd", "/hfxd-gone --listen systemd",
         ("hfxd.socket", "hfxd.service")),
        ("hfxd.socket", "ListenStream=/run/hfxd/hfxd.sock", "ListenStream=vsock:x:y",
         ("hfxd.socket", "hfxd.service")),
        ("hfxd@.service", "ProtectSystem=strict", "ProtectSystem=stricter",
         ("hfxd@vm1.socket", "hfxd@vm1.service")),
        ("hfxd@.socket", "Accept=no", "Accept=maybe", ("hfxd@vm1.socket", "hfxd@vm1.service")),
    ]
    for name, old, new, pair in breaks:
        d = broken_copy(tmp, name, old, new)
        rc, said = verify(*[os.path.join(d, u) for u in pair])
        check(rc != 0 or said != "", f"{name} with {new!r} passed systemd-analyze verify")
        print(f"  {name} with {new!r}: caught ({said.splitlines()[0]})")
    d = tempfile.mkdtemp(dir=tmp, prefix="alone-")
    shutil.copy(os.path.join(UNITS, "hfxd.socket"), d)
    rc, said = verify(os.path.join(d, "hfxd.socket"))
    check(rc != 0 or said != "", "hfxd.socket without hfxd.service passed")


# The exposures docs/security.md ("The systemd units") accepts, by the
# setting systemd-analyze security names; any other weakness fails.
ACCEPTED = {
    "SystemCallFilter=~@resources",      # set_mempolicy: libnuma (libx265's) probes it at load
    "RootDirectory=/RootImage=",         # hfxd reads the host's libraries
    "RestrictAddressFamilies=~AF_UNIX",  # the families of the sockets it may be given
    "RestrictAddressFamilies=~…",        # AF_VSOCK
    "RestrictAddressFamilies=~AF_(INET|INET6)",
    "DeviceAllow=",                      # char-rtc:r, from ProtectClock=
    "IPAddressDeny=",                    # PrivateNetwork= instead
}


def case_units_security(tmp):
    """systemd-analyze security --offline: overall exposure at most 1.5
    ("OK"), and nothing exposed beyond what docs/security.md accepts."""
    need("systemd-analyze", "systemd")
    for svc in ("hfxd.service", "hfxd@vm1.service"):
        env = dict(os.environ, SYSTEMD_LOG_LEVEL="warning", SYSTEMD_PAGER="cat")
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--man=no",
                            "--threshold=15", "--no-pager", os.path.join(UNITS, svc)],
                           capture_output=True, text=True, env=env, timeout=60)
        overall = [l for l in r.stdout.splitlines() if "Overall exposure" in l]
        check(r.returncode == 0 and overall,
              f"{svc}: exposure over 1.5 or no report: {r.returncode}\n{r.stdout}{r.stderr}")
        exposed = {l.split()[1] for l in r.stdout.splitlines() if l.startswith("✗")}
        check(exposed <= ACCEPTED, f"{svc}: also exposed: {sorted(exposed - ACCEPTED)}")
        print(f"  {overall[0].strip()}")


def service_lines(name):
    """The [Service] settings of a unit file, without comments."""
    lines, section = [], None
    with open(os.path.join(UNITS, name)) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line
            elif line and not line.startswith("#") and section == "[Service]":
                lines.append(line)
    return lines


def case_units_same_sandbox(tmp):
    """hfxd@.service has hfxd.service's sandbox, setting for setting."""
    own = {"ExecStart", "EnvironmentFile"}
    a = [l for l in service_lines("hfxd.service") if l.split("=")[0] not in own]
    b = [l for l in service_lines("hfxd@.service") if l.split("=")[0] not in own]
    check(a == b, f"the services' sandboxes differ:\n{sorted(set(a) ^ set(b))}")
    check(len(a) > 25, f"only {len(a)} settings")
    print(f"  {len(a)} settings each")


def case_units_install(tmp):
    """meson install (tag systemd) into a DESTDIR puts the four units in the
    configured unit directory with the installed paths filled in: hfxd in
    BINDIR, the templates' environment files in SYSCONFDIR, no @VAR@ left."""
    meson, build = os.environ.get("MESON"), os.environ.get("BUILD_ROOT")
    if not meson or not build:
        raise Skip("MESON and BUILD_ROOT not set (meson test sets them)")
    opts = json.loads(subprocess.run([meson, "introspect", "--buildoptions", build],
                                     capture_output=True, text=True, check=True).stdout)
    opt = {o["name"]: o["value"] for o in opts}
    if opt["systemd"] == "disabled":
        raise Skip("configured with -Dsystemd=disabled")
    installed = json.loads(subprocess.run([meson, "introspect", "--installed", build],
                                          capture_output=True, text=True, check=True).stdout)
    units = {os.path.basename(dst): dst for dst in installed.values()
             if dst.endswith((".socket", ".service"))}
    check(sorted(units) == sorted(["hfxd.socket", "hfxd.service", "hfxd@.socket",
                                   "hfxd@.service"]), f"installed units: {sorted(units)}")
    unitdir = {os.path.dirname(d) for d in units.values()}
    check(len(unitdir) == 1, f"units in {unitdir}")
    if opt["systemdsystemunitdir"]:
        check(unitdir == {opt["systemdsystemunitdir"]}, f"{unitdir}, not the option's")
    else:
        check(next(iter(unitdir)).startswith(opt["prefix"] + "/"),
              f"{unitdir} is outside the prefix {opt['prefix']}")
    dest = os.path.join(tmp, "dest")
    r = subprocess.run([meson, "install", "-C", build, "--no-rebuild", "--quiet",
                        "--destdir", dest, "--tags", "systemd"],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"meson install: {r.stdout}{r.stderr}")
    sbindir = os.path.join(opt["prefix"], opt["sbindir"])
    sysconfdir = os.path.join(opt["prefix"], opt["sysconfdir"])
    for name, dst in units.items():
        path = dest + dst
        check(os.path.isfile(path), f"{path} not installed")
        with open(path) as f:
            text = f.read()
        check(not re.search(r"@[a-z]+@", text), f"{name}: a placeholder is left")
        if name.endswith(".service"):
            check(f"\nExecStart={sbindir}/hfxd --listen systemd" in text,
                  f"{name}: ExecStart is not {sbindir}/hfxd")
        if name == "hfxd@.service":
            check(f"\nEnvironmentFile=-{sysconfdir}/hfxd/%i.conf\n" in text, name)
    print(f"  {len(units)} units in {next(iter(unitdir))}, hfxd from {sbindir}")


# ---- group sandbox ----

def exec_start(name):
    """The unit's ExecStart as argv, with $HFXD_OPTIONS unset (as without
    the optional environment file)."""
    line = [l for l in service_lines(name) if l.startswith("ExecStart=")]
    check(len(line) == 1, f"{name}: {line}")
    return [w for w in line[0][len("ExecStart="):].split() if w != "$HFXD_OPTIONS"]


def syscall_groups():
    """systemd-analyze syscall-filter: group -> its members (system calls and
    groups)."""
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager"],
                         capture_output=True, text=True, check=True).stdout
    groups, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = groups.setdefault(line.strip(), [])
        elif cur is not None and line.strip() and not line.strip().startswith("#"):
            cur.append(line.strip())
    return groups


def allowed_syscalls(name):
    """The set of system calls the unit's SystemCallFilter= lines allow: the
    first (an allow list) minus each ~ line after it."""
    groups = syscall_groups()

    def expand(items):
        res = set()
        for it in items:
            res |= expand(groups[it]) if it.startswith("@") else {it}
        return res

    allowed = None
    for l in service_lines(name):
        if not l.startswith("SystemCallFilter="):
            continue
        v = l[len("SystemCallFilter="):]
        if v.startswith("~"):
            allowed -= expand(v[1:].split())
        else:
            check(allowed is None, "one allow list expected")
            allowed = expand(v.split())
    check(allowed, f"{name}: no SystemCallFilter=")
    return allowed


CALL = re.compile(r"^(\d+) +(?:<\.\.\. )?([a-z_0-9]+)[( ]")


def traced_calls(trace, program):
    """The system calls in an strace -f log from program's execve on: the
    launcher's (sh) before it do not run under the unit."""
    calls, started = {}, False
    with open(trace) as f:
        for line in f:
            if not started:
                started = f'execve("{program}"' in line and "= 0" in line
                continue
            m = CALL.match(line)
            if m:
                calls.setdefault(m.group(2), line.strip())
    check(started, f"no execve of {program} in the trace")
    return calls


# The arguments up to the ")", or up to "<unfinished ...>" when another
# thread's call came in between (the protection is the third argument).
PROT = re.compile(r"^(\d+) +(mmap|mprotect|pkey_mprotect)\(([^)]*)")


def mdwe_violations(trace):
    """What MemoryDenyWriteExecute= refuses (systemd's seccomp rules): an
    mmap both writable and executable, an mprotect or pkey_mprotect that
    makes anything executable."""
    bad = []
    with open(trace) as f:
        for line in f:
            m = PROT.match(line)
            if not m:
                continue
            args = m.group(3)
            if m.group(2) == "mmap" and "PROT_WRITE" in args and "PROT_EXEC" in args:
                bad.append(line.strip())
            elif m.group(2) != "mmap" and "PROT_EXEC" in args:
                bad.append(line.strip())
    return bad


def run_sandboxed(tmp, name):
    if os.environ.get("HFX_SANITIZE", "none") != "none":
        # LeakSanitizer stops with a fatal error under ptrace; the group
        # runs in the normal build.
        raise Skip("a sanitizer build: LeakSanitizer cannot run under strace")
    need("strace", "strace")
    need("systemd-analyze", "systemd")
    argv = exec_start(name)
    check(os.path.realpath(argv[0]) == os.path.realpath(HFXD),
          f"{name} runs {argv[0]}, not the build's hfxd")
    mdwe = mdwe_available()
    if mdwe:
        # The setting must reach what the launcher executes, or the run
        # below proves nothing.
        probe = os.path.join(tmp, "probe.log")
        p = spawn([sys.executable, "-c",
                   "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE"
                   " | mmap.PROT_EXEC)"], probe, mdwe=True)
        check(p.wait() != 0 and "PermissionError" in p.log(),
              f"PR_SET_MDWE did not reach an executed program: {p.log()}")
    else:
        print("  PR_SET_MDWE not available (Linux < 6.3): hfxd runs without it; the trace "
              "is still checked against MemoryDenyWriteExecute='s rules")
    path = os.path.join(tmp, "unit.sock")
    lst = unix_listener(path)
    trace = os.path.join(tmp, "strace.log")
    # strace -f from the start (the dynamic loader runs under the filter
    # too); sh puts its own pid in LISTEN_PID and becomes hfxd, as systemd
    # sets it for the process it executes.
    d = spawn(["/usr/bin/env", "strace", "-f", "-qq", "-o", trace, "/bin/sh", "-c",
               'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', "sh", *argv],
              os.path.join(tmp, "hfxd.log"), [lst], listen_pid="1", mdwe=mdwe)
    try:
        d.wait_log("hfxd: ready", timeout=30)
        print("  inline:", encode(tmp, "unix:" + path, "inline"))
        print("  shm:", encode(tmp, "unix:" + path, "shm", "--source", "shm"))
        check(d.stop_traced() == 0, d.log())
    finally:
        d.kill()
        lst.close()
    calls = traced_calls(trace, argv[0])
    allowed = allowed_syscalls(name)
    outside = {c: l for c, l in calls.items() if c not in allowed}
    check(not outside, "system calls outside SystemCallFilter=:\n" +
          "\n".join(outside.values()))
    bad = mdwe_violations(trace)
    check(not bad, "refused under MemoryDenyWriteExecute=:\n" + "\n".join(bad[:10]))
    print(f"  {len(calls)} distinct system calls, all allowed; no writable+executable "
          f"mapping{'; ran under PR_SET_MDWE' if mdwe else ''}")


def case_sandbox_hfxd_service(tmp):
    run_sandboxed(tmp, "hfxd.service")


def case_sandbox_template_service(tmp):
    run_sandboxed(tmp, "hfxd@.service")


def main():
    cases = [(n[len("case_"):], f) for n, f in globals().items() if n.startswith("case_")]
    prefix = {"activation": ("socket_", "datagram", "seqpacket", "connection", "listen_pid",
                             "tcp_", "systemd_listen"),
              "units": ("units_",), "sandbox": ("sandbox_",)}[GROUP]
    cases = [(n, f) for n, f in cases if n.startswith(prefix) and (not ONLY or n in ONLY)]
    check(cases, f"no case in group {GROUP} {ONLY}")
    failed = skipped = 0
    for n, f in cases:
        print(f"== {n}", flush=True)
        with tempfile.TemporaryDirectory(prefix="hfx-sd-") as tmp:
            try:
                f(tmp)
                print("ok", flush=True)
            except Skip as e:
                print(f"skipped: {e}", flush=True)
                skipped += 1
            except Exception as e:  # noqa: BLE001 - one case's failure must not hide the rest
                print(f"FAIL {n}: {e}", flush=True)
                failed += 1
    print(f"{len(cases) - failed - skipped} passed, {failed} failed, {skipped} skipped")
    if failed:
        return 1
    return 77 if skipped == len(cases) else 0


if __name__ == "__main__":
    sys.exit(main())
