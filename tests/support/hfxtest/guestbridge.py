"""desktop-bridge inside a TCG guest (tests/vm/run-in-vm) for tests and benches.

The guest runs desktop-bridge on its port 8080 (0.0.0.0, so a token is
required); QEMU's user network forwards a free port on the host's 127.0.0.1
to it, which is a secure context for WebCodecs in the host's Chromium. The
guest serves until stop() drops a file named stop into the results share.
Same url() / stats() as bridgeproc.Bridge.

    with GuestBridge(run_in_vm, bridge, '--source', 'test', '--encoder', 'vsockenc',
                     token='T', serial_socket=hfxd.socket, plugins='build/gst',
                     log_path=out / 'run-in-vm.log') as g:
        g.url('/?token=T'); g.stats('?token=T'); g.qemu_pid()
"""
import json
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from .bridgeproc import child_pid
from .webdriver import free_port

GUEST_PORT = 8080


class GuestBridge:
    def __init__(self, run_in_vm, program, *args, token, serial_socket=None, plugins=None,
                 log_path=None, vm_timeout=600, start_timeout=120, stats_interval=0,
                 vm_args=(), before=None, guest_env=None):
        """Boot a guest running `program --listen 0.0.0.0:8080 --token token *args`.

        serial_socket: hfxd's unix socket behind the guest's virtio-serial port
        (vsockenc's address auto). plugins: GST_PLUGIN_PATH for the guest (its
        registry is built on the host: run-in-vm --gst-registry). stats_interval:
        the bridge's --stats-interval (0: no stats lines in the log). vm_args:
        more run-in-vm options (e.g. --qemu, --frame-export, --qemu-arg).
        before: a shell command the guest starts in the background first (it
        is left to end with the guest); `{results}` in it stands for
        self.results, the directory the guest shares at the same path.
        guest_env: variables set for the bridge in the guest (e.g. DISPLAY).
        Raises AssertionError when the bridge does not answer within
        start_timeout."""
        self.token = token
        self.work = Path(tempfile.mkdtemp(prefix='hfx-guest-bridge-'))
        self.results = self.work / 'results'
        self.results.mkdir()
        self.log_path = Path(log_path) if log_path else self.work / 'run-in-vm.log'
        self.port = free_port()
        bridge = ' '.join([f'{k}={shlex.quote(v)}' for k, v in (guest_env or {}).items()] + [
            shlex.quote(a) for a in [
                program, '--listen', f'0.0.0.0:{GUEST_PORT}', '--token', token,
                '--stats-interval', str(stats_interval), *args]])
        stop = shlex.quote(str(self.results / 'stop'))
        if before:
            before = before.replace('{results}', shlex.quote(str(self.results)))
        guest = (f'{before} & ' if before else '') + (
                 f'{bridge} & pid=$!; while [ ! -e {stop} ] && kill -0 $pid 2>/dev/null; '
                 'do sleep 0.2; done; kill $pid; wait $pid')
        cmd = [run_in_vm, '--gst-registry', '--timeout', str(vm_timeout),
               '--hostfwd', f'{self.port}:{GUEST_PORT}', '--results', str(self.results),
               *vm_args]
        if serial_socket:
            cmd += ['--serial-socket', str(serial_socket)]
        env = dict(os.environ)
        if plugins:
            env['GST_PLUGIN_PATH'] = str(plugins)
        self._log = open(self.log_path, 'w')
        self.vm = subprocess.Popen(cmd + ['--', 'sh', '-c', guest], env=env,
                                   stdin=subprocess.DEVNULL, stdout=self._log,
                                   stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        while True:
            try:
                self.stats()
                break
            except OSError:
                pass
            if self.vm.poll() is not None or time.monotonic() - t0 > start_timeout:
                state = (f'exited {self.vm.returncode}' if self.vm.poll() is not None
                         else 'still running')
                self.stop(timeout=10)
                raise AssertionError(
                    f'desktop-bridge in the guest did not answer within {start_timeout} s '
                    f'(run-in-vm {state}); see {self.log_path}:\n' +
                    self.log_path.read_text(errors='replace')[-3000:])
            time.sleep(0.5)

    def url(self, path='/'):
        return f'http://127.0.0.1:{self.port}{path}'

    def stats(self, query=None):
        """/stats as a dict; query defaults to the token."""
        q = f'?token={self.token}' if query is None else query
        with urllib.request.urlopen(self.url('/stats' + q), timeout=5) as r:
            return json.loads(r.read())

    def qemu_pid(self):
        """The QEMU process (run-in-vm's child), or None."""
        return child_pid(self.vm.pid, 'qemu-system')

    def stop(self, timeout=60):
        """Ask the guest to stop and wait for run-in-vm; returns its exit status
        (the guest command's: 0 when desktop-bridge ended cleanly on SIGTERM),
        None if it had to be killed. Idempotent."""
        if self.vm.poll() is None:
            (self.results / 'stop').touch()
            try:
                self.vm.wait(timeout)
                rc = self.vm.returncode
            except subprocess.TimeoutExpired:
                # run-in-vm kills QEMU's process group on SIGINT.
                self.vm.send_signal(signal.SIGINT)
                try:
                    self.vm.wait(10)
                except subprocess.TimeoutExpired:
                    self.vm.kill()
                    self.vm.wait()
                rc = None
        else:
            rc = self.vm.returncode
        if not self._log.closed:
            if rc != 0:
                # run-in-vm prints these itself when the guest fails, but not
                # when it is interrupted.
                for name in ('output', 'console.log'):
                    p = self.results / name
                    if p.exists():
                        self._log.write(f'----- guest {name} -----\n' +
                                        p.read_text(errors='replace')[-20000:])
            self._log.close()
            shutil.rmtree(self.work, ignore_errors=True)
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False
