#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of fuzz-server (tests/fuzz/corpus/server/).

Each seed is a script in fuzz-server.c's input format (docs/testing.md, "The
server fuzzer"); the function that builds it says which scenario it is. The
seeds pass on a correct server: a stream whose encoder fails to open is let
settle (its ERROR passed on) before anything closes it.

With --regressions it writes the crash-* regression inputs instead (one per
way of closing a stream before its worker's failure is passed on); inputs
the fuzzer found are kept as it wrote them (crash-<sha1>).

    tests/fuzz/server-seeds.py [--regressions] [DIR]
        (default DIR: corpus/server next to this file)
"""
import os
import sys

ENCODERS = ["", "fake", "fault-open", "bogus", "fault-fail-at=1@fake",
            "fault-fail-once=0@fake", "fault-stall=2@fake", "fault-fail-at=0@fake"]
FOURCCS = ["NV12", "I420", "BGRx", "BGRA", "RGBx", "RGBA", "NV12-again", "YUY2"]


def header(window=4, streams=2, small_queue=False, short_handshake=False,
           keyframe_now=False, two=False, token=False, sessions=4, log=True,
           small_memory=False, scanouts=False, listener=False):
    """scanouts: the server has scanouts 0 (asks for pictures, takes input),
    1 (neither) and 2 (as 0, with an encoder that never opens); listener:
    the last connection is accepted on a listener (WELCOME may say INPUT)."""
    h0 = (window - 1) | (streams - 1) << 2 | small_queue << 4 | short_handshake << 5 \
        | keyframe_now << 6 | two << 7
    h1 = token | (sessions - 1) << 1 | log << 3 | scanouts << 4 | small_memory << 5 \
        | listener << 7
    return bytes([h0, h1])


def op(kind, conn=0, v=0):
    return bytes([kind | conn << 4 | v << 5])


def hello(conn=0, variant=0, caps=0x03):
    return op(0, conn, variant) + bytes([caps])


def configure(stream, encoder="fake", w=16, h=16, fmt="NV12", keyint3=False,
              keyint_ms=False, rc=0, hevc=False, conn=0):
    extra = FOURCCS.index(fmt) | keyint3 << 3 | keyint_ms << 4 | rc << 5 | hevc << 7
    geometry = (w // 2 - 1) | (h // 2 - 1) << 4
    return op(1, conn) + bytes([stream - 1, ENCODERS.index(encoder), geometry, extra])


BENDS = {None: 0, "stride": 4, "truncated": 5, "plane-count": 6, "past-end": 7}


def frame(stream, force=False, bend=None, pad=0, conn=0):
    return op(2, conn, force) + bytes([stream - 1, BENDS[bend] | pad << 3])


def shm_frame(stream, region_index=0, at=0, force=False, bend=0, conn=0):
    """region_index: which attached region; 0x80 | id names an id directly."""
    return op(3, conn, force | bend << 1) + bytes([stream - 1, region_index, at])


def control(kind, stream, kbps_byte=9, conn=0):
    v = {"keyframe": 0, "flush": 2, "close": 4, "bitrate": 6}[kind]
    out = op(4, conn, v) + bytes([stream - 1])
    return out + bytes([kbps_byte]) if kind == "bitrate" else out


def subscribe(stream, scanout=0, fps=30, keepalive_byte=0, conn=0):
    """keepalive_byte: 0 the default (1 s), 1..254 ten times that in ms,
    255 60 s. Scanouts 3 and up are missing from every server."""
    n = scanout if scanout < 3 else 3 | (scanout - 3) << 2
    return op(4, conn, 1) + bytes([stream - 1, n, fps - 1, keepalive_byte])


# Linux evdev codes.
KEY_A = 30
KEY_ENTER = 28


def key(stream, code=KEY_A, down=True, conn=0):
    return op(4, conn, 3) + bytes([stream - 1, (code - 1) & 0xff, (code - 1) >> 8 | down << 2])


def pointer(stream, x, y, buttons=0, wheel=0, conn=0):
    """x, y below 128, or a multiple of 64 up to 8128."""
    def coord(v):
        return v if v < 128 else 0x80 | v // 64
    return op(4, conn, 5) + bytes([stream - 1, coord(x), coord(y), buttons, wheel + 16])


PICTURE_BENDS = {None: 0, "stride": 5, "format": 6, "width": 7}


def publish(w=16, h=16, scanout=0, fmt=0, pad=0, bend=None):
    """The embedder publishes a w x h picture (2..32) of format BGRx, BGRA,
    RGBx, RGBA [fmt], rows padded by pad (0..3) pixels."""
    return op(11, 0, 4 + scanout) + bytes([w - 2, h - 2,
                                           fmt | pad << 2 | PICTURE_BENDS[bend] << 4])


def pings(count_byte, conn=0):
    """1 + 16 * count_byte PINGs."""
    return op(5, conn) + bytes([count_byte])


def bye(conn=0):
    return op(6, conn)


def client_error(code, conn=0):
    return op(6, conn, 6) + bytes([code])


def shm_attach(region, size_sel=1, size_over=False, unsealed=False, no_fd=False,
               two_fds=False, on_ping=False, conn=0):
    mode = size_over | unsealed << 1 | no_fd << 2 | two_fds << 3 | on_ping << 4
    return op(7, conn) + bytes([region, size_sel, mode])


def shm_detach(region, conn=0):
    return op(8, conn) + bytes([region])


def host_msg(variant, stream=1, conn=0):
    return op(9, conn, variant) + bytes([stream - 1])


def mutate(template, flips, conn=0):
    out = op(10, conn) + bytes([template, len(flips)])
    for at, xor in flips:
        out += bytes([at, xor])
    return out


def raw(data, conn=0):
    assert len(data) < 256
    return op(11, conn) + bytes([len(data)]) + data


def settle(v=7):
    return op(12, 0, v)


def read(conn=0):
    return op(13, conn)


def disconnect(half=False, conn=0):
    return op(14, conn, 1 if half else 0)


def stop():
    return op(14, 0, 7)


def sleep(v=7):
    """v + 1 ms."""
    return op(15, 0, v)


SEEDS = {}


def seed(fn):
    SEEDS[fn.__name__.replace("_", "-")] = fn
    return fn


@seed
def session_basic():
    """HELLO, CONFIGURE (fake, NV12 16x16), three frames (one forced), FLUSH,
    CLOSE, BYE: every frame gets a PACKET, the first and the forced one IDRs."""
    return header() + hello() + configure(1) + frame(1) + frame(1, force=True) + frame(1) \
        + settle() + control("flush", 1) + settle() + control("close", 1) + bye()


@seed
def formats():
    """A stream per input format, each with a frame whose rows are padded."""
    out = header(streams=4) + hello()
    for stream, fmt in enumerate(["I420", "BGRx", "RGBA", "NV12"], 1):
        out += configure(stream, fmt=fmt, w=2 * stream + 2, h=6)
    for stream in range(1, 5):
        out += frame(stream, pad=stream)
    return out + settle()


@seed
def window_overflow():
    """Window 1 and a stalling encoder: frames sent faster than encoded are
    dropped oldest first (FRAME_DROPPED QUEUE_FULL)."""
    return header(window=1) + hello() + configure(1, "fault-stall=2@fake") + settle() \
        + b"".join(frame(1) for _ in range(8)) + settle() + control("flush", 1) + settle()


@seed
def open_fails_then_reconfigure():
    """The encoder fails to open (ERROR on stream 1, the connection stays);
    once that ERROR is in, the stream is configured again and works."""
    return header() + hello() + configure(1, "fault-open") + settle() \
        + configure(1, "fake") + frame(1) + settle() + pings(0)


@seed
def open_unknown_encoder():
    """An encoder name nobody knows: HFX_E_NO_ENCODER on the stream, as hfxd
    answers a guest that names a test-only encoder."""
    return header() + hello() + configure(1, "bogus") + settle() + pings(0) + settle()


@seed
def open_fails_frames_pending():
    """Frames sent right behind a CONFIGURE whose encoder fails to open."""
    return header(window=2) + hello() + configure(2, "fault-open") + frame(2) + frame(2) \
        + frame(2) + settle()


@seed
def encoder_fails_midstream():
    """Every frame from the second on fails: FRAME_DROPPED reason ENCODER."""
    return header() + hello() + configure(1, "fault-fail-at=1@fake") \
        + b"".join(frame(1) for _ in range(4)) + settle() + control("flush", 1) + settle()


@seed
def encoder_fails_once():
    """Only the first frame fails; the next one still starts with an IDR."""
    return header() + hello() + configure(1, "fault-fail-once=0@fake") \
        + b"".join(frame(1) for _ in range(3)) + settle()


@seed
def encoder_fails_always():
    return header() + hello() + configure(1, "fault-fail-at=0@fake") + frame(1) + frame(1) \
        + settle()


@seed
def reconfigure_with_frames_pending():
    """CONFIGURE again while frames wait for a stalling encoder: they are
    answered FRAME_DROPPED CLOSED, then CONFIGURED, then an IDR."""
    return header() + hello() + configure(1, "fault-stall=2@fake") + settle() \
        + b"".join(frame(1) for _ in range(4)) + configure(1, "fake", w=8, h=8) + frame(1) \
        + settle()


@seed
def close_with_frames_pending():
    return header() + hello() + configure(1, "fault-stall=2@fake") + settle() \
        + b"".join(frame(1) for _ in range(4)) + control("close", 1) + settle()


@seed
def keyframe_bitrate_flush():
    """REQUEST_KEYFRAME (no minimum interval), SET_BITRATE, a keyint of 3
    frames and one of 20 ms, FLUSH in between."""
    return header(keyframe_now=True) + hello() + configure(1, keyint3=True, keyint_ms=True) \
        + frame(1) + control("keyframe", 1) + frame(1) + control("bitrate", 1, 20) \
        + frame(1) + control("flush", 1) + frame(1) + frame(1) + settle()


@seed
def rate_control_modes():
    return header(streams=3) + hello() + configure(1, rc=1) + configure(2, rc=2) \
        + configure(3, w=32, h=32) + frame(1) + frame(2) + frame(3) + settle()


@seed
def shm_frames():
    """SHM_ATTACH of a sealed memfd, frames from it, SHM_DETACH."""
    return header() + hello() + shm_attach(1, size_sel=1) + configure(1) + settle() \
        + shm_frame(1, 0, at=1) + shm_frame(1, 0, at=2, force=True) + settle() \
        + shm_detach(1) + pings(0) + settle()


@seed
def shm_two_regions_detach_pending():
    """Two regions; the one with frames in flight is detached at once (the
    frames hold a reference)."""
    return header() + hello() + shm_attach(1) + shm_attach(2, size_sel=3) \
        + configure(1, "fault-stall=2@fake") + settle() + shm_frame(1, 1) + shm_frame(1, 1) \
        + shm_detach(2) + settle()


@seed
def shm_unsealed():
    """A memfd that can shrink: refused (HFX_E_SHM_RANGE), connection closed."""
    return header() + hello() + shm_attach(1, unsealed=True) + settle()


@seed
def shm_size_over_file():
    return header() + hello() + shm_attach(1, size_over=True) + settle()


@seed
def shm_no_descriptor():
    return header() + hello() + shm_attach(1, no_fd=True) + settle()


@seed
def shm_two_descriptors():
    """Two descriptors with one SHM_ATTACH: the spare one is held and closed
    with the connection."""
    return header() + hello() + shm_attach(1, two_fds=True) + configure(1) \
        + shm_frame(1, 0) + settle()


@seed
def shm_descriptor_on_ping():
    """The memfd comes with a PING sent before SHM_ATTACH: it belongs to the
    PING and is closed, SHM_ATTACH has none (HFX_E_SHM_RANGE, protocol.md
    §7)."""
    return header() + hello() + shm_attach(3, on_ping=True) + configure(1) \
        + shm_frame(1, 0) + settle()


@seed
def shm_frame_bad_region():
    """SHM frames naming no attached region, and region 0 (none here)."""
    return header(two=True) + hello() + configure(1) + shm_frame(1, 0x80 | 5) \
        + hello(conn=1) + configure(1, conn=1) + shm_frame(1, 0x80, conn=1) + settle()


@seed
def shm_frame_past_region():
    return header() + hello() + shm_attach(1, size_sel=0) + configure(1, w=32, h=32) \
        + shm_frame(1, 0, at=60) + settle()


@seed
def frame_bad_stride():
    return header() + hello() + configure(1, fmt="I420") + frame(1, bend="stride") + settle()


@seed
def frame_truncated():
    return header() + hello() + configure(1, fmt="BGRx") + frame(1, bend="truncated") + settle()


@seed
def frame_plane_count():
    return header() + hello() + configure(1) + frame(1, bend="plane-count") + settle()


@seed
def frame_past_end():
    return header() + hello() + configure(1, fmt="I420") + frame(1, bend="past-end") + settle()


@seed
def frame_before_configure():
    """HFX_E_NOT_CONFIGURED."""
    return header() + hello() + frame(1) + settle()


@seed
def stream_over_max():
    """max_streams 1: CONFIGURE on stream 2 is HFX_E_UNKNOWN_STREAM."""
    return header(streams=1) + hello() + configure(2) + settle()


@seed
def invalid_configure():
    """A zero bitrate (HFX_E_MALFORMED) on one connection, an unknown fourcc
    (HFX_E_BAD_FORMAT) on the other."""
    return header(two=True) + hello() + configure(1, rc=3) + hello(conn=1) \
        + configure(1, fmt="YUY2", conn=1) + settle()


@seed
def hevc_with_fake():
    """HEVC asked of the fake encoder, which says HFX_E_UNSUPPORTED: the
    stream's ERROR must carry a stream-level code (§8), HFX_E_ENCODER."""
    return header() + hello() + configure(1, hevc=True) + settle() + pings(0) + settle()


@seed
def before_hello():
    """A PING before HELLO: HFX_E_STATE."""
    return header() + pings(0) + settle()


@seed
def hello_bad_version():
    return header() + hello(variant=5) + settle()


@seed
def hello_wide_version():
    return header() + hello(variant=4, caps=0x1f) + pings(0) + settle()


@seed
def hello_token():
    """The host has a token: the right one is welcome, a wrong one is
    HFX_E_AUTH."""
    return header(two=True, token=True) + hello(variant=6) + configure(1) + frame(1) \
        + hello(variant=7, conn=1, caps=3) + settle()


@seed
def hello_again():
    """A second HELLO on a live session starts over: its streams go, pending
    frames unanswered, and the new session is served."""
    return header() + hello() + configure(1, "fault-stall=2@fake") + settle() + frame(1) \
        + frame(1) + hello() + configure(1) + frame(1) + settle()


@seed
def bye_then_hello():
    """BYE, and the connection waits for the next client's HELLO."""
    return header() + hello() + configure(1) + frame(1) + settle() + bye() + settle() \
        + hello() + configure(2) + frame(2) + settle()


@seed
def bye_then_nothing():
    """After BYE, no HELLO within the (short) handshake timeout: closed
    without ERROR."""
    return header(short_handshake=True) + hello() + bye() + sleep() + sleep() + settle()


@seed
def handshake_timeout():
    """No HELLO within 5 ms: HFX_E_TIMEOUT."""
    return header(short_handshake=True) + sleep() + sleep() + settle()


@seed
def two_connections_one_bad():
    """Garbage on one connection (HFX_E_BAD_MAGIC) leaves the other's session
    encoding."""
    return header(two=True) + hello(conn=1) + configure(1, conn=1) + raw(b"NOPE" * 8) \
        + frame(1, conn=1) + settle() + frame(1, conn=1) + settle()


@seed
def session_limit():
    """One session allowed, two connections: the second HELLO is HFX_E_BUSY
    (sessions count from WELCOME)."""
    return header(two=True, sessions=1) + hello() + hello(conn=1) + settle()


@seed
def slow_consumer():
    """A 16 KiB send queue and thousands of PINGs: the server stops reading
    while its queue is full, or closes a connection that overflows it."""
    return header(small_queue=True) + hello() + pings(255) + pings(255) + settle()


@seed
def memory_budget():
    """A 25 MiB budget: two streams fit, the third CONFIGURE is ERROR
    HFX_E_TOO_MANY_STREAMS on its stream; closing one makes room."""
    return header(streams=3, small_memory=True) + hello() + configure(1) + configure(2) \
        + configure(3) + settle() + frame(1) + control("close", 2) + settle() \
        + configure(3) + frame(3) + settle()


@seed
def host_messages_from_client():
    """Messages only a host sends, each on its own connection: HFX_E_STATE;
    a RESOURCE frame: HFX_E_UNSUPPORTED."""
    return header(two=True) + hello() + host_msg(2) + hello(conn=1) + configure(1, conn=1) \
        + host_msg(6, conn=1) + settle()


@seed
def client_error_logged():
    """A client's ERROR is logged; the session goes on."""
    return header() + hello() + client_error(20) + pings(0) + settle()


@seed
def mutated_configure():
    """A CONFIGURE with its width's low byte flipped to 0x61 (odd):
    HFX_E_BAD_DIMENSIONS."""
    return header() + hello() + mutate(1, [(20, 0x71)]) + settle()


@seed
def mutated_frame_length():
    """A FRAME whose header length says one byte more than is sent, then the
    connection half-closed: HFX_E_TRUNCATED at the end of the stream."""
    return header() + hello() + configure(1) + mutate(2, [(12, 0x01)]) + disconnect(half=True) \
        + settle()


@seed
def raw_partial_header():
    """Half a header, then the connection closes."""
    return header() + hello() + raw(b"HFX1\x03\x00") + disconnect(half=True) + settle()


@seed
def half_close_with_frames():
    """Frames, then the client half-closes: the server handles what came and
    closes."""
    return header() + hello() + configure(1, "fault-stall=2@fake") + settle() + frame(1) \
        + frame(1) + disconnect(half=True) + settle()


@seed
def stop_with_frames_pending():
    """The server is stopped (as on SIGTERM) with frames waiting for a
    stalling encoder: BYE, then the end."""
    return header() + hello() + configure(1, "fault-stall=2@fake") + settle() + frame(1) \
        + frame(1) + frame(1) + stop()


CAPS_SCANOUT = 0x13  # INLINE, SHM_FD, SCANOUT
CAPS_INPUT = 0x33    # and INPUT


@seed
def scanout_subscribe():
    """A subscriber of scanout 0: want_picture, the harness publishes, and
    the stream gets CONFIGURED and an IDR; REQUEST_KEYFRAME, FLUSH (FLUSHED
    at once), a picture of another size and format (BUSY unless the rate
    allows it), CLOSE."""
    return header(scanouts=True, keyframe_now=True) + hello(caps=CAPS_SCANOUT) \
        + subscribe(1, fps=240, keepalive_byte=1) + settle() + control("keyframe", 1) \
        + publish(16, 16) + settle() + control("flush", 1) + publish(9, 7, fmt=2, pad=3) \
        + sleep() + settle() + control("close", 1) + settle()


@seed
def scanout_two_subscribers():
    """Two connections subscribe to scanout 1 (no want_picture: pictures
    come when the embedder publishes); a later subscriber gets the
    CONFIGURED the scanout has. A SUBSCRIBE over a configured stream with
    frames pending answers them CLOSED first; CONFIGURE and HELLO again end
    a subscription."""
    return header(scanouts=True, two=True) + hello(caps=CAPS_SCANOUT) \
        + configure(2, "fault-stall=2@fake") + settle() + frame(2) + frame(2) \
        + subscribe(1, scanout=1) + subscribe(2, scanout=1) + settle() \
        + publish(32, 18, scanout=1) + settle() + hello(conn=1, caps=CAPS_SCANOUT) \
        + subscribe(1, scanout=1, conn=1) + settle() + configure(2) + frame(2) + hello() \
        + settle()


@seed
def scanout_input():
    """Keys and the pointer from the listener's connection (WELCOME says
    INPUT): a pointer before the first picture is dropped, one past the
    picture moved inside, wheel steps and buttons."""
    return header(scanouts=True, listener=True) + hello(caps=CAPS_INPUT) \
        + subscribe(1) + pointer(1, 3, 3) + key(1, KEY_A) + settle() \
        + key(1, KEY_A, down=False) + key(1, 0x2ff) + pointer(1, 5, 7, buttons=1) \
        + pointer(1, 8128, 64 * 100, buttons=0, wheel=-16) + pointer(1, 0, 0, wheel=16) \
        + settle()


@seed
def scanout_input_refused():
    """INPUT from a connection added as a transport (no INPUT in its
    WELCOME: HFX_E_UNSUPPORTED), and on the listener's, to a stream that is
    configured, not subscribed (HFX_E_STATE)."""
    return header(scanouts=True, two=True, listener=True) + hello(caps=CAPS_INPUT) \
        + subscribe(1) + key(1) + hello(conn=1, caps=CAPS_INPUT) + configure(1, conn=1) \
        + key(1, conn=1) + settle()


@seed
def scanout_input_not_configured():
    """INPUT on a stream that is neither configured nor subscribed:
    HFX_E_NOT_CONFIGURED."""
    return header(scanouts=True, listener=True) + hello(caps=CAPS_INPUT) + key(2) + settle()


@seed
def scanout_input_takes_none():
    """INPUT to scanout 1, which takes no input: HFX_E_UNSUPPORTED."""
    return header(scanouts=True, listener=True) + hello(caps=CAPS_INPUT) \
        + subscribe(1, scanout=1) + settle() + pointer(1, 1, 1) + settle()


@seed
def scanout_failed_subscriptions():
    """SUBSCRIBE to a scanout the host lacks (ERROR HFX_E_NO_SOURCE on the
    stream, which is failed: INPUT there is ignored) and to scanout 2,
    whose encoder does not open (ERROR on the stream once a picture came);
    the connection stays."""
    return header(scanouts=True, listener=True) + hello(caps=CAPS_INPUT) \
        + subscribe(1, scanout=7) + key(1) + subscribe(2, scanout=2) + settle() \
        + publish(8, 8, scanout=2) + settle() + pointer(2, 1, 1) + pings(0) + settle()


@seed
def scanout_state_errors():
    """SET_BITRATE on a subscribed stream is HFX_E_STATE; a SUBSCRIBE
    without SCANOUT in the HELLO, HFX_E_UNSUPPORTED."""
    return header(scanouts=True, two=True) + hello() + subscribe(1) \
        + hello(conn=1, caps=CAPS_SCANOUT) + subscribe(1, conn=1) + settle() \
        + control("bitrate", 1, conn=1) + settle()


@seed
def scanout_frame_on_subscribed():
    """A FRAME on a subscribed stream: HFX_E_STATE."""
    return header(scanouts=True) + hello(caps=CAPS_SCANOUT) + subscribe(1, scanout=1) \
        + frame(1) + settle()


@seed
def scanout_none():
    """No scanouts: a SUBSCRIBE is HFX_E_UNSUPPORTED, the listener's
    connection gets no INPUT in WELCOME, and hfx_scanout_publish(NULL) is
    HFX_E_INVALID."""
    return header(two=True, listener=True) + publish() + hello(caps=CAPS_INPUT) \
        + subscribe(1) + hello(conn=1, caps=CAPS_INPUT) + configure(1, conn=1) \
        + key(1, conn=1) + settle()


@seed
def scanout_publish_refused():
    """Pictures hfx_scanout_publish refuses (a stride short of a row, NV12,
    width 1), and valid ones before anybody subscribes (HFX_OK, nothing
    copied)."""
    return header(scanouts=True) + publish(bend="stride") + publish(bend="format", scanout=1) \
        + publish(bend="width", scanout=2) + publish(3, 3) + hello(caps=CAPS_SCANOUT) \
        + subscribe(1, scanout=1, fps=1) + settle() + publish(31, 2, scanout=1) \
        + publish(31, 2, scanout=1) + settle()


# Regression inputs: a server with the bug crashes on them (most of the
# time: they race the stream's worker), a fixed one must pass them. Written
# with --regressions.
REGRESSIONS = {}


def regression(fn):
    REGRESSIONS["crash-" + fn.__name__.replace("_", "-")] = fn
    return fn


def open_fails_then(closer):
    """HELLO, a CONFIGURE on stream 1 whose encoder fails to open, twenty
    CONFIGUREs of stream 2 (each stops a worker and starts one: the I/O
    thread is busy while stream 1's worker posts its failure), then
    something that closes stream 1, all in one write: the stream goes before
    the I/O loop has passed on the failure. The server used to crash
    (close_stream -> forward_results -> close_stream again on the ERROR
    result, then stream_get_stats(NULL))."""
    delay = b"".join(configure(2, "fake") for _ in range(20))
    return header() + hello() + configure(1, "fault-open") + delay + closer


@regression
def close_before_forward_close():
    return open_fails_then(control("close", 1))


@regression
def close_before_forward_pings_close():
    """The lead's reproduction: 3201 PINGs between the CONFIGURE and the
    CLOSE."""
    return header() + hello() + configure(1, "fault-open") + pings(200) + control("close", 1)


@regression
def close_before_forward_reconfigure():
    return open_fails_then(configure(1, "fake"))


@regression
def close_before_forward_hello():
    return open_fails_then(hello())


@regression
def close_before_forward_bye():
    return open_fails_then(bye())


@regression
def close_before_forward_protocol_error():
    """The session ends on a protocol error (a WELCOME from the client):
    end_session closes the stream."""
    return open_fails_then(host_msg(0))


def step_then(closer):
    """The same in in-loop mode (the default), where the server runs only
    when the harness steps it: HELLO and a CONFIGURE whose encoder fails to
    open, one server step (it reads both and starts the stream), then
    something that closes stream 1. The next step opens the encoder, which
    fails, and handles the closer before that failure is passed on."""
    return header() + hello() + configure(1, "fault-open") + op(13, 0, 4) + closer


@regression
def step_close_before_forward_close():
    return step_then(control("close", 1))


@regression
def step_close_before_forward_reconfigure():
    return step_then(configure(1, "fake"))


@regression
def step_close_before_forward_hello():
    return step_then(hello())


@regression
def step_close_before_forward_bye():
    return step_then(bye())


@regression
def step_close_before_forward_protocol_error():
    return step_then(host_msg(0))


def main():
    args = [a for a in sys.argv[1:] if a != "--regressions"]
    table = REGRESSIONS if "--regressions" in sys.argv[1:] else SEEDS
    out = args[0] if args else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "server")
    os.makedirs(out, exist_ok=True)
    for name, fn in table.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(fn())
    print(f"{len(table)} inputs in {out}")


if __name__ == "__main__":
    main()
