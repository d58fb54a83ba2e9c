"""hfxd as a child process for tests and benches: listening on a unix socket
in a private temporary directory, its stderr kept in a log file, stopped with
SIGTERM.

    with Hfxd('build/host/hfxd', log_path=out / 'hfxd.log') as h:
        ... desktop-bridge --encoder vsockenc --address h.address ...
        ... run-in-vm --serial-socket h.socket ...
"""
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .bridgeproc import terminate


class Hfxd:
    def __init__(self, program, *args, log_path=None, handshake_timeout_ms=None,
                 start_timeout=10):
        """Start hfxd; args are extra flags. handshake_timeout_ms: raise it behind
        a virtio-serial port, which QEMU connects long before the guest speaks."""
        self.dir = Path(tempfile.mkdtemp(prefix='hfxd-'))
        self.socket = self.dir / 'hfx.sock'
        self.address = f'unix:{self.socket}'
        self.log_path = Path(log_path) if log_path else self.dir / 'hfxd.log'
        cmd = [program, '--listen', self.address, *args]
        if handshake_timeout_ms is not None:
            cmd += ['--handshake-timeout', str(handshake_timeout_ms)]
        self._log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        deadline = time.monotonic() + start_timeout
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f'hfxd did not start; see {self.log_path}:\n' +
                                     self.log_path.read_text(errors='replace')[-2000:])
            time.sleep(0.05)

    def stop(self):
        """SIGTERM, then SIGKILL after 10 s; returns the exit status. Idempotent."""
        status = terminate(self.proc)
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return status

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False
