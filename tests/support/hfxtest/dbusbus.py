"""A private D-Bus bus for a QEMU started with -display dbus,addr=... (suite
dbus and bench/dbus-latency), and the polling both do while QEMU starts."""
import os
import subprocess
import time


def wait_for(pred, timeout, interval=0.1):
    """True once pred() is, polled every interval s; pred()'s last answer
    after timeout s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(interval)
    return pred()


def has_owner(address, name='org.qemu'):
    """Whether name has an owner on the bus at address (gdbus NameHasOwner)."""
    r = subprocess.run(['gdbus', 'call', '--address', address, '--dest', 'org.freedesktop.DBus',
                        '--object-path', '/org/freedesktop/DBus', '--method',
                        'org.freedesktop.DBus.NameHasOwner', name],
                       capture_output=True, text=True)
    return r.stdout.strip() == '(true,)'


class PrivateBus:
    """dbus-daemon --session on unix:path=DIR/bus, until stop()."""

    def __init__(self, directory):
        path = f'{directory}/bus'
        self.address = f'unix:path={path}'
        self.proc = subprocess.Popen(['dbus-daemon', '--session', '--nofork', '--nopidfile',
                                      f'--address={self.address}'],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        if not wait_for(lambda: os.path.exists(path), 10):
            self.stop()
            raise AssertionError('dbus-daemon did not start')

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()
