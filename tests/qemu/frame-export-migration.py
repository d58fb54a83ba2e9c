#!/usr/bin/python3
"""The helix-frame-export chardev blocks migration while the guest's port is
open, and only then (docs/qemu.md).

A TCG guest opens its port org.helix.frame-export and holds it; QMP
`migrate` (to `exec:cat > /dev/null`) must fail naming the chardev. The
guest closes the port; `migrate` must then no longer name it (the guest's
9p root, which blocks migration by itself, may still refuse it; if it is
accepted it is cancelled at once).

    frame-export-migration.py QEMU RUN_IN_VM
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


class Qmp:
    def __init__(self, path, deadline):
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.file = self.sock.makefile("rw")
        self.read()  # the greeting
        self.command("qmp_capabilities")

    def read(self):
        while True:
            msg = json.loads(self.file.readline())
            if "event" not in msg:
                return msg

    def command(self, name, **args):
        self.file.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.file.flush()
        return self.read()


def wait_for(path, deadline):
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            sys.exit(f"FAIL: {os.path.basename(path)} did not appear")
        time.sleep(0.1)


def main():
    qemu, runvm = sys.argv[1], sys.argv[2]
    if not os.access(qemu, os.X_OK):
        print(f"SKIP: no patched QEMU at {qemu} (scripts/build-qemu builds it)")
        return 77
    work = tempfile.mkdtemp(prefix="hfx-qemu-migrate-")
    res = os.path.join(work, "results")
    os.makedirs(res)
    qmp_path = os.path.join(work, "qmp.sock")
    # The guest holds the port open until the host says, then waits to be
    # told the second check is done.
    guest = f"""
for n in /sys/class/virtio-ports/*/name; do
    [ "$(cat "$n")" = org.helix.frame-export ] && port=/dev/$(basename "$(dirname "$n")")
done
exec 3<>"$port" || exit 1
touch {res}/port-open
while [ ! -f {res}/close-port ]; do sleep 0.2; done
exec 3>&-
touch {res}/port-closed
while [ ! -f {res}/done ]; do sleep 0.2; done
echo guest done
"""
    with open(os.path.join(res, "guest.sh"), "w") as f:
        f.write(guest)
    vm = subprocess.Popen([runvm, "--qemu", qemu, "--timeout", "200", "--memory", "512",
                           "--frame-export", "encoder=libx264", "--results", res,
                           "--qemu-arg=-qmp", f"--qemu-arg=unix:{qmp_path},server=on,wait=off",
                           "--", "sh", os.path.join(res, "guest.sh")])
    deadline = time.monotonic() + 150
    try:
        wait_for(os.path.join(res, "port-open"), deadline)
        qmp = Qmp(qmp_path, deadline)
        r = qmp.command("migrate", uri="exec:cat > /dev/null")
        print("port open:", json.dumps(r))
        err = r.get("error", {}).get("desc", "")
        if "helix-frame-export" not in err:
            sys.exit("FAIL: migration was not blocked while the port was open")
        open(os.path.join(res, "close-port"), "w").close()
        wait_for(os.path.join(res, "port-closed"), deadline)
        time.sleep(0.5)  # the guest's close reaches QEMU through the virtqueue
        r = qmp.command("migrate", uri="exec:cat > /dev/null")
        print("port closed:", json.dumps(r))
        # The guest's 9p root blocks migration too (virtfs does while it is
        # mounted): the chardev's reason must be gone, not every reason.
        if "helix-frame-export" in r.get("error", {}).get("desc", ""):
            sys.exit("FAIL: migration still blocked by the chardev after the port closed")
        if "error" not in r:
            print("cancel:", json.dumps(qmp.command("migrate_cancel")))
        open(os.path.join(res, "done"), "w").close()
        rc = vm.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        if vm.poll() is None:
            vm.send_signal(signal.SIGINT)  # run-in-vm kills its QEMU
            vm.wait()
    if rc != 0:
        sys.exit(f"FAIL: the guest exited {rc}")
    shutil.rmtree(work)
    print("PASS")
    return 0


sys.exit(main())
