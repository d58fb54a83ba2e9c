"""A blocking WebSocket client (RFC 6455), python3 stdlib only, for tests.

What a browser cannot do on demand: stop reading (a stuck viewer holds its
socket open and never calls recv()), shrink its receive buffer so that the
server feels it at once, or look at the raw messages and timing.

    c = WebSocketClient('ws://127.0.0.1:8080/ws?token=T', rcvbuf=4096)
    f = parse_message(c.recv_binary())      # bridgewire.parse_message
    c.send_json({'type': 'drawn', 'seq': f.seq, 'capture_us': f.capture_us, 'decode_ms': 1})
    ... stop calling recv() ...
    c.close()

A refused handshake raises HandshakeError with .status (e.g. 403).
"""

import base64
import hashlib
import json
import os
import socket
import struct
import urllib.parse

WS_GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'    # RFC 6455 1.3
MAX_HEAD = 16 * 1024
# Bounds what a broken server can make the test allocate.
DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def encode_frame(opcode, payload, mask=None):
    """One final frame; masked (client to server, RFC 6455 5.3) when mask is 4 bytes."""
    n = len(payload)
    b1 = 0x80 if mask else 0
    if n < 126:
        head = struct.pack('!BB', 0x80 | opcode, b1 | n)
    elif n < 1 << 16:
        head = struct.pack('!BBH', 0x80 | opcode, b1 | 126, n)
    else:
        head = struct.pack('!BBQ', 0x80 | opcode, b1 | 127, n)
    if not mask:
        return head + payload
    return head + mask + unmask(payload, mask)


def unmask(data, mask):
    """XOR with the 4-byte masking key (RFC 6455 5.3); masking and unmasking are one."""
    # One big-integer XOR instead of a Python loop per byte.
    n = len(data)
    if n == 0:
        return b''
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, 'big') ^ int.from_bytes(key, 'big')).to_bytes(n, 'big')


class HandshakeError(Exception):
    def __init__(self, status, head):
        super().__init__(f'WebSocket handshake answered {status}')
        self.status = status
        self.head = head


class ConnectionClosed(Exception):
    def __init__(self, code, reason=''):
        super().__init__(f'closed by the server: {code} {reason}'.strip())
        self.code = code
        self.reason = reason


class WebSocketClient:
    def __init__(self, url, timeout=10.0, rcvbuf=None, max_message=DEFAULT_MAX_MESSAGE):
        u = urllib.parse.urlsplit(url)
        if u.scheme != 'ws':
            raise ValueError(f'{url}: only ws:// URLs')
        self.max_message = max_message
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            # Before connect(): the window scale is agreed in the handshake.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect((u.hostname, u.port or 80))
            self._handshake(u)
        except BaseException:
            self.sock.close()
            raise
        self.texts = []     # text messages skipped by recv_binary()

    def _handshake(self, u):
        key = base64.b64encode(os.urandom(16)).decode()
        target = u.path or '/'
        if u.query:
            target += '?' + u.query
        self.sock.sendall((f'GET {target} HTTP/1.1\r\nHost: {u.netloc}\r\n'
                           'Upgrade: websocket\r\nConnection: Upgrade\r\n'
                           f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n'
                           '\r\n').encode())
        head = b''
        while b'\r\n\r\n' not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionClosed(1006, 'closed during the handshake')
            head += chunk
            if len(head) > MAX_HEAD:
                raise HandshakeError(0, head[:200])
        head, _, rest = head.partition(b'\r\n\r\n')
        lines = head.decode('latin-1').split('\r\n')
        status = int(lines[0].split(' ', 2)[1])
        if status != 101:
            raise HandshakeError(status, head.decode('latin-1'))
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(':') for line in lines[1:])}
        want = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
        if headers.get('sec-websocket-accept') != want:
            raise HandshakeError(status, 'bad Sec-WebSocket-Accept')
        self._pending = rest

    def _read(self, n):
        while len(self._pending) < n:
            chunk = self.sock.recv(max(65536, n - len(self._pending)))
            if not chunk:
                raise ConnectionClosed(1006, 'connection lost')
            self._pending += chunk
        out, self._pending = self._pending[:n], self._pending[n:]
        return out

    def recv(self, timeout=None):
        """Next data message as (opcode, bytes); answers pings; raises ConnectionClosed."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        parts, opcode = [], None
        while True:
            b0, b1 = self._read(2)
            fin, op = b0 & 0x80, b0 & 0x0f
            if b1 & 0x80:
                raise ConnectionClosed(1002, 'server frame masked (RFC 6455 5.1)')
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack('!H', self._read(2))[0]
            elif n == 127:
                n = struct.unpack('!Q', self._read(8))[0]
            if n + sum(map(len, parts)) > self.max_message:
                raise ConnectionClosed(1009, f'message over {self.max_message} bytes')
            payload = self._read(n)
            if op == OP_CLOSE:
                code = struct.unpack('!H', payload[:2])[0] if len(payload) >= 2 else 1005
                try:
                    self.sock.sendall(encode_frame(OP_CLOSE, payload[:2], os.urandom(4)))
                except OSError:
                    pass
                raise ConnectionClosed(code, payload[2:].decode('utf-8', 'replace'))
            if op == OP_PING:
                self.sock.sendall(encode_frame(OP_PONG, payload, os.urandom(4)))
                continue
            if op == OP_PONG:
                continue
            if op in (OP_TEXT, OP_BINARY):
                opcode, parts = op, [payload]
            elif op == OP_CONT and opcode is not None:
                parts.append(payload)
            else:
                raise ConnectionClosed(1002, f'unexpected opcode {op}')
            if fin:
                return opcode, b''.join(parts)

    def recv_binary(self, timeout=None):
        """Next binary message; text messages in between are kept in self.texts."""
        while True:
            op, data = self.recv(timeout)
            if op == OP_BINARY:
                return data
            self.texts.append(data.decode('utf-8', 'replace'))

    def send_text(self, text):
        self.sock.sendall(encode_frame(OP_TEXT, text.encode(), os.urandom(4)))

    def send_json(self, obj):
        self.send_text(json.dumps(obj))

    def close(self, code=1000):
        try:
            self.sock.sendall(encode_frame(OP_CLOSE, struct.pack('!H', code), os.urandom(4)))
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
