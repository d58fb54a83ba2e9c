"""docs/bridge.md's stream message header, and H.264 Annex-B access units.

Shared by the stand-in server (fixture.py), the raw client (wsclient.py) and
the tests, so all of them read the header one way.
"""

import struct
from dataclasses import dataclass

# docs/bridge.md "Stream messages".
WIRE_VERSION = 1
HEADER_SIZE = 32
FLAG_KEYFRAME = 0x01
_HEADER = struct.Struct('<BBHIHHIqq')
assert _HEADER.size == HEADER_SIZE


@dataclass
class Frame:
    key: bool
    header_size: int
    seq: int
    width: int
    height: int
    pts_us: int
    capture_us: int
    au: bytes


def pack_header(seq, width, height, pts_us, capture_us, key):
    """The 32-byte header, little-endian; the access unit follows it."""
    return _HEADER.pack(WIRE_VERSION, FLAG_KEYFRAME if key else 0, HEADER_SIZE,
                        seq & 0xffffffff, width, height, 0, pts_us, capture_us)


def parse_message(data):
    """A binary stream message -> Frame; ValueError for whatever the spec does not allow."""
    if len(data) < HEADER_SIZE:
        raise ValueError(f'{len(data)} bytes, shorter than the header')
    version, flags, header_size, seq, width, height, rsvd, pts, capture = \
        _HEADER.unpack_from(data)
    if version != WIRE_VERSION:
        raise ValueError(f'version {version}')
    if flags & ~FLAG_KEYFRAME:
        raise ValueError(f'unknown flags 0x{flags:02x}')
    if rsvd != 0:
        raise ValueError(f'rsvd 0x{rsvd:x}')
    if header_size < HEADER_SIZE or header_size > len(data):
        raise ValueError(f'header_size {header_size} in {len(data)} bytes')
    return Frame(bool(flags & FLAG_KEYFRAME), header_size, seq, width, height, pts, capture,
                 bytes(data[header_size:]))


def nal_units(data):
    """(offset of the start code, offset of the NAL header) for each NAL unit."""
    out = []
    i = data.find(b'\x00\x00\x01')
    while i >= 0:
        # A 4-byte start code's leading zero_byte belongs to this NAL (H.264 B.1.1).
        sc = i - 1 if i > 0 and data[i - 1] == 0 else i
        if i + 3 < len(data):
            out.append((sc, i + 3))
        i = data.find(b'\x00\x00\x01', i + 3)
    return out


def nal_types(au):
    return [au[h] & 0x1f for _, h in nal_units(au)]


def split_access_units(data):
    """Split an Annex-B byte stream into access units (H.264 7.4.1.2.3).

    A new AU starts at an access unit delimiter, at SEI / SPS / PPS / types
    14-18 after a slice, or at a slice whose first_mb_in_slice is 0 after a
    slice (ue(v) 0 is a single 1 bit: the top bit of the byte after the NAL
    header). Returns a list of (bytes, is_keyframe), keyframe meaning an IDR.
    """
    aus = []
    cur = None
    seen_vcl = False
    for sc, hdr in nal_units(data):
        t = data[hdr] & 0x1f
        vcl = t in (1, 5)
        first_slice = vcl and hdr + 1 < len(data) and data[hdr + 1] & 0x80
        if cur is None:
            cur = sc
        elif t == 9 or (seen_vcl and (t in (6, 7, 8) or 14 <= t <= 18 or first_slice)):
            aus.append(data[cur:sc])
            cur = sc
            seen_vcl = False
        if vcl:
            seen_vcl = True
    if cur is not None:
        aus.append(data[cur:])
    return [(au, 5 in nal_types(au)) for au in aus]
