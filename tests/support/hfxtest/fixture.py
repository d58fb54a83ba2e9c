"""A stand-in for desktop-bridge's HTTP + WebSocket side, for viewer tests.

A test fixture, not a server: python3 stdlib only (asyncio, hand-rolled RFC 6455
framing), bound to 127.0.0.1, serving a directory (the viewer) at / and a
recorded H.264 stream at /ws with the message header of docs/bridge.md. It runs
its event loop in a thread so tests can drive browsers synchronously.

    aus = split_access_units(Path('stream.h264').read_bytes())   # bridgewire
    with StreamServer(web_dir, aus, 1280, 720, fps=30, token=None) as srv:
        srv.plans = [Plan(close_after=45), Plan()]   # per connection, in order
        ...  srv.url, srv.connections[0].drawn, ...
"""

import asyncio
import base64
import hashlib
import json
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from .bridgewire import pack_header
from .wsclient import WS_GUID, encode_frame, unmask

MAX_REQUEST = 16 * 1024         # an HTTP request head
MAX_CLIENT_MESSAGE = 64 * 1024  # viewer messages are small JSON

MIME = {'.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
        '.css': 'text/css; charset=utf-8'}


# ---- what a connection does and saw ------------------------------------------

@dataclass
class Plan:
    """What the server does on one WebSocket connection."""
    start: int = 0              # first access unit sent (should be a keyframe)
    count: int = None           # how many to send; None: to the end of the stream
    close_after: int = None     # close the connection after this many messages
    stats: bool = False         # send {"type":"stats","latency_p50_ms":...} every second
    # Instead of the server's recording: (access unit, is_keyframe, width,
    # height) per message, e.g. two recordings back to back for a size change.
    frames: list = None


@dataclass
class Connection:
    index: int
    path: str
    query: dict
    opened: float               # time.monotonic()
    closed: float = None
    sent: list = field(default_factory=list)        # (seq, capture_us, key, time sent)
    received: list = field(default_factory=list)    # (time, parsed JSON or raw text)

    def messages(self, type_):
        return [m for _, m in self.received if isinstance(m, dict) and m.get('type') == type_]

    @property
    def drawn(self):
        return self.messages('drawn')


def _monotonic_us():
    return time.monotonic_ns() // 1000


class StreamServer:
    """HTTP: GET / and the files of web_dir; WebSocket: GET /ws streams `aus`."""

    def __init__(self, web_dir, aus, width, height, fps=30, token=None, host='127.0.0.1'):
        self.web_dir = Path(web_dir)
        self.aus = aus
        self.width = width
        self.height = height
        self.fps = fps
        self.token = token
        self.host = host
        self.plans = []             # consumed one per /ws connection; then Plan()
        self.connections = []
        self.lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name='stream-server', daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError('stream server did not start')
        if self._error:
            raise self._error

    @property
    def url(self):
        return f'http://{self.host}:{self.port}/'

    def _run(self):
        asyncio.set_event_loop(self._loop)
        self._error = None
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._client, self.host, 0, limit=MAX_REQUEST))
            self.port = self._server.sockets[0].getsockname()[1]
        except Exception as e:  # reported to the constructor
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        tasks = asyncio.all_tasks(self._loop)
        for t in tasks:
            t.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.close()

    def close(self):
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- HTTP ------------------------------------------------------------------

    async def _client(self, reader, writer):
        try:
            head = await reader.readuntil(b'\r\n\r\n')
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        try:
            lines = head.decode('latin-1').split('\r\n')
            method, target, _ = lines[0].split(' ', 2)
            headers = {}
            for line in lines[1:]:
                if ':' in line:
                    k, v = line.split(':', 1)
                    headers[k.strip().lower()] = v.strip()
        except ValueError:
            await self._respond(writer, 400, 'bad request')
            return
        url = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(url.query))
        if method != 'GET':
            await self._respond(writer, 405, 'GET only')
        elif url.path == '/ws':
            if self.token is not None and query.get('token') != self.token:
                await self._respond(writer, 403, 'bad token')
            elif headers.get('upgrade', '').lower() != 'websocket' or \
                    headers.get('sec-websocket-version') != '13' or \
                    'sec-websocket-key' not in headers:
                await self._respond(writer, 400, 'not a WebSocket handshake')
            else:
                await self._websocket(reader, writer, url.path, query,
                                      headers['sec-websocket-key'])
        else:
            await self._static(writer, url.path)

    async def _respond(self, writer, status, body, ctype='text/plain; charset=utf-8'):
        reason = {200: 'OK', 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found',
                  405: 'Method Not Allowed'}[status]
        if isinstance(body, str):
            body = body.encode()
        writer.write(f'HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n'
                     f'Content-Length: {len(body)}\r\nCache-Control: no-store\r\n'
                     f'Connection: close\r\n\r\n'.encode() + body)
        try:
            await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    async def _static(self, writer, path):
        name = 'index.html' if path == '/' else path.lstrip('/')
        f = self.web_dir / name
        # Only plain names: nothing outside web_dir.
        if '/' in name or name.startswith('.') or not f.is_file():
            await self._respond(writer, 404, 'not found')
            return
        await self._respond(writer, 200, f.read_bytes(),
                            MIME.get(f.suffix, 'application/octet-stream'))

    # -- WebSocket (RFC 6455) -------------------------------------------------------

    async def _websocket(self, reader, writer, path, query, key):
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
        writer.write(('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'
                      f'Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n').encode())
        with self.lock:
            conn = Connection(len(self.connections), path, query, time.monotonic())
            self.connections.append(conn)
            plan = self.plans[conn.index] if conn.index < len(self.plans) else Plan()
        sender = asyncio.ensure_future(self._send_stream(writer, conn, plan))
        try:
            await self._read_messages(reader, writer, conn)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            conn.closed = time.monotonic()
            writer.close()

    async def _read_messages(self, reader, writer, conn):
        parts = []
        opcode_of_message = None
        while True:
            b0, b1 = await reader.readexactly(2)
            fin, opcode = b0 & 0x80, b0 & 0x0f
            if not b1 & 0x80:
                raise ConnectionError('client frame not masked (RFC 6455 5.1)')
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack('!H', await reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack('!Q', await reader.readexactly(8))[0]
            if n > MAX_CLIENT_MESSAGE or sum(map(len, parts)) + n > MAX_CLIENT_MESSAGE:
                raise ConnectionError(f'client message over {MAX_CLIENT_MESSAGE} bytes')
            mask = await reader.readexactly(4)
            data = await reader.readexactly(n)
            payload = unmask(data, mask)
            if opcode == 0x8:           # close: answer and end
                writer.write(encode_frame(0x8, payload[:2]))
                await writer.drain()
                return
            if opcode == 0x9:           # ping
                writer.write(encode_frame(0xA, payload))
                continue
            if opcode == 0xA:
                continue
            if opcode in (0x1, 0x2):
                opcode_of_message = opcode
                parts = [payload]
            elif opcode == 0x0:
                parts.append(payload)
            if fin and opcode_of_message is not None:
                message = b''.join(parts)
                parts = []
                try:
                    parsed = json.loads(message) if opcode_of_message == 0x1 else message
                except ValueError:
                    parsed = message.decode('utf-8', 'replace')
                with self.lock:
                    conn.received.append((time.monotonic(), parsed))
                opcode_of_message = None

    async def _send_stream(self, writer, conn, plan):
        frames = plan.frames or [(au, key, self.width, self.height) for au, key in self.aus]
        end = len(frames) if plan.count is None else min(len(frames), plan.start + plan.count)
        period = 1.0 / self.fps
        t0 = time.monotonic()
        sent = 0
        last_stats = t0
        i = plan.start
        while True:
            if i >= end:
                return          # keep the connection open, like an idle desktop
            if plan.close_after is not None and sent >= plan.close_after:
                writer.write(encode_frame(0x8, struct.pack('!H', 1001)))
                await writer.drain()
                writer.close()
                return
            delay = t0 + sent * period - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            au, key, width, height = frames[i]
            seq = sent
            capture = _monotonic_us()
            pts = round(seq * 1e6 / self.fps)
            writer.write(encode_frame(0x2, pack_header(seq, width, height, pts, capture, key)
                                      + au))
            with self.lock:
                conn.sent.append((seq, capture, key, time.monotonic()))
            await writer.drain()
            sent += 1
            i += 1
            if plan.stats and time.monotonic() - last_stats >= 1.0:
                last_stats = time.monotonic()
                writer.write(encode_frame(0x1, json.dumps(self._stats(conn)).encode()))

    def _stats(self, conn):
        """The bridge's latency, as it would compute it: capture to drawn report."""
        with self.lock:
            lat = sorted((t * 1e6 - m['capture_us']) / 1000 for t, m in conn.received
                         if isinstance(m, dict) and m.get('type') == 'drawn'
                         and isinstance(m.get('capture_us'), (int, float)))
        p50 = lat[len(lat) // 2] if lat else None
        return {'type': 'stats', 'latency_p50_ms': p50, 'frames_drawn': len(lat)}
