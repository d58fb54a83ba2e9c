#!/usr/bin/python3
"""A guest client that never reads (run inside the test guest).

Opens the virtio-serial port org.helix.frame-export, sends HELLO, a
CONFIGURE for 1280x720 NV12 (CQP, quality 0) and then INLINE FRAMEs of
noise as fast as the port takes them, without ever reading an answer, for
SECONDS; prints how many frames it offered and the longest time the port took no byte. Written from
docs/protocol.md (§2, §5.1, §5.3, §5.10), not from libhfx.

    guest-noread.py SECONDS [FRAMES MARKER]

With FRAMES, it stops sending after that many frames, creates the file
MARKER and waits out SECONDS without reading: a client whose frames are in
flight, waiting for answers.
"""
import os
import select
import struct
import sys
import time

MAGIC = 0x31584648
HELLO, CONFIGURE, FRAME = 0x0001, 0x0100, 0x0102
W, H = 1280, 720


def message(mtype, stream, payload):
    return struct.pack("<IHHII", MAGIC, mtype, 0, stream, len(payload)) + payload


def find_port(name="org.helix.frame-export"):
    for d in sorted(os.listdir("/sys/class/virtio-ports")):
        with open(f"/sys/class/virtio-ports/{d}/name") as f:
            if f.read().strip() == name:
                return "/dev/" + d
    sys.exit("no port " + name)


def main():
    seconds = float(sys.argv[1])
    max_frames = int(sys.argv[2]) if len(sys.argv) > 3 else None
    marker = sys.argv[3] if len(sys.argv) > 3 else None
    fd = os.open(find_port(), os.O_RDWR | os.O_NONBLOCK)
    hello = struct.pack("<HHIHH", 1, 1, 0x01, 0, 0)
    # CQP at quality 0 on noise: every answer is about as large as the
    # frame, so answers the guest does not read pile up at once.
    configure = struct.pack("<IIIIIIIBBBBIIB3x", 1, W, H, int.from_bytes(b"NV12", "little"),
                            30, 1, 4000, 2, 0, 0, 0, 0, 0, 0)
    pending = message(HELLO, 0, hello) + message(CONFIGURE, 1, configure)
    noise = [os.urandom(W * H * 3 // 2) for _ in range(4)]
    frames = 0
    last_progress = time.monotonic()
    longest_stall = 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not pending and max_frames is not None and frames == max_frames:
            open(marker, "w").close()
            time.sleep(max(0.0, end - time.monotonic()))
            break
        if not pending:
            head = struct.pack("<QqQBBHI", frames + 1, frames, 1, 1, 2, 0, 0)
            planes = struct.pack("<QII", 0, W, 0) + struct.pack("<QII", W * H, W, 0)
            pending = message(FRAME, 1, head + planes + noise[frames % len(noise)])
            frames += 1
        _, writable, _ = select.select([], [fd], [], max(0.0, end - time.monotonic()))
        now = time.monotonic()
        longest_stall = max(longest_stall, now - last_progress)
        if not writable:
            continue
        try:
            pending = pending[os.write(fd, pending):]
            last_progress = now
        except BlockingIOError:
            pass
    os.close(fd)
    print(f"noread: {frames} frames offered in {seconds:g} s, longest stall {longest_stall:.1f} s")


main()
