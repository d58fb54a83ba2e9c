// desktop-bridge viewer: H.264 access units over a WebSocket, decoded with
// WebCodecs and drawn to a canvas. The wire format is docs/bridge.md, "Stream
// messages" and "Viewer messages"; nothing here is loaded from elsewhere.
//
// Page parameters: token (passed on to /ws), render=drawimage|copy (how frames
// reach the canvas; chosen by timing when absent, see "drawing").
//
// window.hfxViewer is read by the browser tests (tests/browser/) and kept up to
// date: {framesDrawn, lastSeq, keyframesSeen, errors, state, width, height, ...}.
'use strict';

(() => {
    // docs/bridge.md "Stream messages".
    const WIRE_VERSION = 1;
    const HEADER_MIN = 32;
    const FLAG_KEYFRAME = 0x01;

    const BACKOFF_MIN_MS = 250;
    const BACKOFF_MAX_MS = 5000;
    const STATS_WINDOW_MS = 1000;
    const OVERLAY_PERIOD_MS = 250;
    // Bounds on what a misbehaving peer or decoder can make us keep.
    const MAX_ERRORS = 50;
    const MAX_PENDING = 256;

    const NO_WEBCODECS = 'This browser cannot decode H.264 with WebCodecs: ';

    const canvas = document.getElementById('screen');
    const overlay = document.getElementById('overlay');
    const messageBox = document.getElementById('message');
    // alpha: false lets the compositor skip blending a picture that is opaque.
    const ctx = canvas.getContext('2d', { alpha: false });

    const viewer = {
        state: 'connecting',    // connecting | streaming | reconnecting | unsupported
        framesDrawn: 0,
        lastSeq: null,
        keyframesSeen: 0,
        errors: [],
        width: 0,
        height: 0,
        codec: null,
        messagesReceived: 0,
        bytesReceived: 0,       // access-unit bytes, headers not counted
        framesSkipped: 0,       // not decoded: waiting for a keyframe
        // Where a late joiner's first picture spends its time, ms since navigation
        // (performance.now()) on the latest connection: open, first message, first draw.
        openMs: null,
        firstMessageMs: null,
        firstFrameMs: null,
        keyframeRequests: 0,
        connections: 0,
        reconnectInMs: 0,
        bridgeStats: null,      // the last {"type":"stats"} text message, if any
        unsupportedReason: null,
        drawPath: 'probe',      // probe | drawImage | copy: see "drawing" below
        inputAllowed: false,    // the bridge's {"type":"input"} on this connection
        inputsSent: 0,          // key and pointer messages sent
        resizeAllowed: false,   // the bridge's {"type":"resize"} on this connection
        sizeSent: null,         // [width, height] last asked for, on this connection
        cursor: null,           // the machine's pointer: {visible, width, height, hotX, hotY}
    };
    window.hfxViewer = viewer;

    function fail(where, err) {
        const text = `${where}: ${err && err.message ? err.message : err}`;
        viewer.errors.push(text);
        if (viewer.errors.length > MAX_ERRORS)
            viewer.errors.splice(0, viewer.errors.length - MAX_ERRORS);
        console.warn('hfx viewer:', text);
    }

    // ---- wire ---------------------------------------------------------------

    // Throws on anything docs/bridge.md does not allow; the caller drops the
    // message and waits for a keyframe, since the frames after it cannot decode.
    function parseHeader(buf) {
        if (buf.byteLength < HEADER_MIN)
            throw new Error(`message of ${buf.byteLength} bytes, shorter than the header`);
        const v = new DataView(buf);
        const version = v.getUint8(0);
        if (version !== WIRE_VERSION)
            throw new Error(`wire version ${version}, this viewer knows ${WIRE_VERSION}`);
        const flags = v.getUint8(1);
        if (flags & ~FLAG_KEYFRAME)
            throw new Error(`unknown flags 0x${flags.toString(16)}`);
        // A later version may grow the header; the access unit starts at header_size.
        const headerSize = v.getUint16(2, true);
        if (headerSize < HEADER_MIN || headerSize > buf.byteLength)
            throw new Error(`header_size ${headerSize} in a message of ${buf.byteLength} bytes`);
        return {
            key: (flags & FLAG_KEYFRAME) !== 0,
            seq: v.getUint32(4, true),
            width: v.getUint16(8, true),
            height: v.getUint16(10, true),
            ptsUs: v.getBigInt64(16, true),
            captureUs: v.getBigInt64(24, true),
            au: new Uint8Array(buf, headerSize),
        };
    }

    // The SPS NAL (type 7) of an Annex-B access unit, without its start code,
    // or null. Only the bytes up to the next start code are returned.
    function findSps(au) {
        const n = au.length;
        for (let i = 0; i + 3 < n; i++) {
            if (au[i] !== 0 || au[i + 1] !== 0 || au[i + 2] !== 1)
                continue;
            const start = i + 3;
            const type = au[start] & 0x1f;
            // Parameter sets come before the first slice (H.264 7.4.1.2.3).
            if (type >= 1 && type <= 5)
                return null;
            if (type !== 7)
                continue;
            let end = start + 1;
            while (end + 2 < n && !(au[end] === 0 && au[end + 1] === 0 &&
                                    (au[end + 2] === 1 || au[end + 2] === 0)))
                end++;
            if (end + 2 >= n)
                end = n;
            return au.subarray(start, end);
        }
        return null;
    }

    // RFC 6381 avc1.PPCCLL: profile_idc, the constraint flags byte and
    // level_idc, the three bytes after the SPS's NAL header (H.264 7.3.2.1.1).
    function codecFromSps(sps) {
        if (sps.length < 4)
            return null;
        const hex = (b) => b.toString(16).padStart(2, '0');
        return `avc1.${hex(sps[1])}${hex(sps[2])}${hex(sps[3])}`;
    }

    function spsKey(sps) {
        let s = '';
        for (const b of sps)
            s += b.toString(16).padStart(2, '0');
        return s;
    }

    // ---- decoding -------------------------------------------------------------

    let decoder = null;
    let configKey = null;       // codec, size and SPS the decoder was configured for
    let needKeyframe = true;
    let keyframeAsked = false;  // one request per wait, the bridge coalesces anyway
    let generation = 0;         // bumped per connection: late work of an old one is ignored
    let socket = null;
    const inbox = [];
    let pumping = false;
    // Frame timestamp -> what the drawn report needs. A list per timestamp, so
    // a stream with repeated pts still matches frames in decode order.
    const pending = new Map();

    function send(obj) {
        if (socket && socket.readyState === WebSocket.OPEN)
            socket.send(JSON.stringify(obj));
    }

    function requestKeyframe() {
        if (keyframeAsked)
            return;
        keyframeAsked = true;
        viewer.keyframeRequests++;
        send({ type: 'keyframe' });
    }

    function waitForKeyframe() {
        needKeyframe = true;
        keyframeAsked = false;
        pending.clear();
    }

    function onDecoderError(err) {
        // A decoder that failed is closed (WebCodecs does that itself after an
        // error callback; a decode() that threw leaves it to us): a new one is
        // made at the next keyframe.
        fail('decoder', err);
        if (decoder && decoder.state !== 'closed')
            decoder.close();
        decoder = null;
        configKey = null;
        waitForKeyframe();
        requestKeyframe();
    }

    function unsupported(reason) {
        viewer.unsupportedReason = reason;
        setState('unsupported');
        messageBox.textContent = NO_WEBCODECS + reason;
        messageBox.classList.add('shown');
        canvas.style.display = 'none';
        // Nothing this page can do with the stream: leave the bridge alone.
        generation++;
        if (socket) {
            const s = socket;
            socket = null;
            s.close(1000, 'cannot decode');
        }
        if (decoder && decoder.state !== 'closed')
            decoder.close();
        decoder = null;
    }

    async function configure(codec, width, height) {
        const config = { codec, optimizeForLatency: true, hardwareAcceleration: 'no-preference' };
        // Hints only; the SPS is what the decoder goes by. Annex-B: no description.
        if (width && height) {
            config.codedWidth = width;
            config.codedHeight = height;
        }
        let support;
        try {
            support = await VideoDecoder.isConfigSupported(config);
        } catch (e) {
            unsupported(`${codec} rejected by VideoDecoder.isConfigSupported (${e.message})`);
            return false;
        }
        if (!support.supported) {
            unsupported(`VideoDecoder.isConfigSupported says ${codec} ${width}x${height} ` +
                        'is not supported');
            return false;
        }
        if (!decoder || decoder.state === 'closed') {
            // Errors arrive asynchronously: one from a decoder already given up
            // on must not tear down its successor.
            const d = new VideoDecoder({
                output: onFrame,
                error: (e) => (d === decoder ? onDecoderError(e) : fail('old decoder', e)),
            });
            decoder = d;
        }
        decoder.configure(config);
        viewer.codec = codec;
        return true;
    }

    async function handleMessage(msg) {
        let h;
        try {
            h = parseHeader(msg.buf);
        } catch (e) {
            fail('header', e);
            waitForKeyframe();
            requestKeyframe();
            return;
        }
        viewer.bytesReceived += h.au.length;
        recvWindow.push([msg.arrival, h.au.length]);
        if (h.key)
            viewer.keyframesSeen++;

        if (!h.key && needKeyframe) {
            viewer.framesSkipped++;
            requestKeyframe();
            return;
        }
        if (h.key) {
            const sps = findSps(h.au);
            const codec = sps && codecFromSps(sps);
            if (codec) {
                const key = `${codec} ${h.width}x${h.height} ${spsKey(sps)}`;
                if (key !== configKey || !decoder || decoder.state !== 'configured') {
                    if (!await configure(codec, h.width, h.height))
                        return;
                    if (msg.generation !== generation)
                        return;
                    configKey = key;
                }
            } else if (!configKey) {
                fail('stream', `keyframe ${h.seq} has no SPS`);
                waitForKeyframe();
                requestKeyframe();
                return;
            }
        }
        if (!decoder || decoder.state !== 'configured') {
            viewer.framesSkipped++;
            return;
        }

        const timestamp = Number(h.ptsUs);
        let list = pending.get(timestamp);
        if (!list)
            pending.set(timestamp, list = []);
        list.push({ seq: h.seq, captureUs: h.captureUs, arrival: msg.arrival,
                    generation: msg.generation });
        // Frames the decoder never outputs must not pile up here.
        while (pending.size > MAX_PENDING)
            pending.delete(pending.keys().next().value);
        try {
            decoder.decode(new EncodedVideoChunk({
                type: h.key ? 'key' : 'delta', timestamp, data: h.au }));
        } catch (e) {
            onDecoderError(e);
            return;
        }
        if (h.key) {
            needKeyframe = false;
            keyframeAsked = false;
        }
    }

    // Messages are handled one at a time and in order: a keyframe may have to
    // wait for isConfigSupported, and the frames after it must wait too.
    async function pump() {
        if (pumping)
            return;
        pumping = true;
        try {
            while (inbox.length) {
                const msg = inbox.shift();
                if (msg.generation !== generation)
                    continue;
                try {
                    await handleMessage(msg);
                } catch (e) {
                    fail('message', e);
                }
            }
        } finally {
            pumping = false;
        }
    }

    // ---- drawing ----------------------------------------------------------------

    // drawImage(VideoFrame) is the fast path where canvases are GPU-backed. In a
    // browser that rasterizes in software (headless, no GPU, blocklisted
    // drivers) it cost 16-31 ms per 720p frame in Chromium 156, Skia converting
    // BT.709 YUV pixel by pixel, while copyTo(RGBX) + putImageData took under
    // 1 ms with the same pixels. So the first frames are timed and a slow
    // drawImage is replaced; ?render=drawimage or ?render=copy forces one.
    const PROBE_FRAMES = 4;
    const SLOW_DRAW_MS = 4;
    const forcedRender = new URLSearchParams(location.search).get('render');
    let drawPath = forcedRender === 'copy' ? 'copy'
                 : forcedRender === 'drawimage' ? 'drawImage' : 'probe';
    viewer.drawPath = drawPath;
    const drawSamples = [];
    let rgbx = null;            // ImageData reused by the copy path
    let firstDrawPending = true;    // the next draw is the connection's first
    // Draws run one after another, in output order: the copy path is async.
    let drawQueue = Promise.resolve();

    function chooseDrawPath(ms) {
        drawSamples.push(ms);
        if (drawSamples.length < PROBE_FRAMES)
            return;
        const sorted = drawSamples.slice().sort((a, b) => a - b);
        const median = sorted[sorted.length >> 1];
        drawPath = median > SLOW_DRAW_MS && typeof VideoFrame.prototype.copyTo === 'function'
                 ? 'copy' : 'drawImage';
        viewer.drawPath = drawPath;
        console.info(`hfx viewer: drawImage takes ${median.toFixed(1)} ms, drawing with ` +
                     drawPath);
    }

    async function drawFrame(frame) {
        const w = frame.displayWidth, h = frame.displayHeight;
        if (canvas.width !== w || canvas.height !== h) {
            canvas.width = w;
            canvas.height = h;
            viewer.width = w;
            viewer.height = h;
        }
        const visible = frame.visibleRect;
        // copyTo copies the visible rectangle unscaled: only for square pixels.
        if (drawPath === 'copy' && visible && visible.width === w && visible.height === h) {
            try {
                if (!rgbx || rgbx.width !== w || rgbx.height !== h)
                    rgbx = new ImageData(w, h);
                await frame.copyTo(rgbx.data, { format: 'RGBX', colorSpace: 'srgb' });
                ctx.putImageData(rgbx, 0, 0);
                return;
            } catch (e) {
                // Browsers before RGB output of copyTo (Chromium < 127) throw.
                console.warn('hfx viewer: copyTo(RGBX) failed, drawing with drawImage:', e);
                drawPath = 'drawImage';
                viewer.drawPath = drawPath;
            }
        }
        const t = performance.now();
        ctx.drawImage(frame, 0, 0, w, h);
        // The very first draw sets things up; time the ones after it.
        if (drawPath === 'probe' && viewer.framesDrawn > 0)
            chooseDrawPath(performance.now() - t);
    }

    function frameDrawn(meta) {
        const now = performance.now();
        viewer.framesDrawn++;
        if (firstDrawPending) {
            firstDrawPending = false;
            viewer.firstFrameMs = now;
        }
        if (!meta)
            return;
        viewer.lastSeq = meta.seq;
        const decodeMs = now - meta.arrival;
        drawWindow.push([now, decodeMs]);
        if (meta.generation === generation) {
            send({ type: 'drawn', seq: meta.seq, capture_us: Number(meta.captureUs),
                   decode_ms: Math.round(decodeMs * 1000) / 1000 });
        }
    }

    function onFrame(frame) {
        let meta;
        const list = pending.get(frame.timestamp);
        if (list) {
            meta = list.shift();
            if (!list.length)
                pending.delete(frame.timestamp);
        }
        drawQueue = drawQueue.then(async () => {
            try {
                await drawFrame(frame);
                frameDrawn(meta);
            } catch (e) {
                fail('draw', e);
            } finally {
                // Decoders have few output buffers; a frame kept open stalls them.
                frame.close();
            }
        });
    }

    // ---- connection -------------------------------------------------------------

    let backoffMs = BACKOFF_MIN_MS;
    let retryAt = 0;

    function setState(state) {
        viewer.state = state;
        renderOverlay();
    }

    function streamUrl() {
        // Relative to the page, so a proxy that serves the viewer under a path works.
        const url = new URL('ws', location.href);
        url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
        const token = new URLSearchParams(location.search).get('token');
        url.search = token !== null ? `?token=${encodeURIComponent(token)}` : '';
        url.hash = '';
        return url.href;
    }

    function connect() {
        if (viewer.state === 'unsupported')
            return;
        const gen = ++generation;
        viewer.connections++;
        viewer.bridgeStats = null;
        viewer.inputAllowed = false;
        viewer.resizeAllowed = false;
        viewer.sizeSent = null;
        setCursor(null);
        viewer.openMs = viewer.firstMessageMs = viewer.firstFrameMs = null;
        firstDrawPending = true;
        inbox.length = 0;
        waitForKeyframe();
        // The decoder may hold chunks of the old connection: drop them. A new
        // configure follows at the first keyframe.
        if (decoder && decoder.state === 'configured')
            decoder.reset();
        configKey = null;
        setState('connecting');

        let s;
        try {
            s = new WebSocket(streamUrl());
        } catch (e) {
            fail('connect', e);
            scheduleReconnect();
            return;
        }
        s.binaryType = 'arraybuffer';
        socket = s;
        s.onopen = () => {
            if (gen !== generation)
                return;
            viewer.openMs = performance.now();
            setState('streaming');
        };
        s.onmessage = (ev) => {
            if (gen !== generation)
                return;
            if (typeof ev.data === 'string') {
                onText(ev.data);
                return;
            }
            // Only a peer that sends a stream resets the backoff, so one that
            // accepts and hangs up at once is not hammered every 250 ms.
            backoffMs = BACKOFF_MIN_MS;
            const arrival = performance.now();
            if (viewer.firstMessageMs === null)
                viewer.firstMessageMs = arrival;
            viewer.messagesReceived++;
            inbox.push({ buf: ev.data, arrival, generation: gen });
            pump();
        };
        s.onclose = (ev) => {
            if (gen !== generation)
                return;
            socket = null;
            if (ev.code !== 1000 && ev.code !== 1001 && ev.code !== 1005)
                fail('socket', `closed with code ${ev.code}${ev.reason ? ' ' + ev.reason : ''}`);
            scheduleReconnect();
        };
        // An error is always followed by close, which does the work.
        s.onerror = () => {};
    }

    function scheduleReconnect() {
        generation++;
        const delay = backoffMs;
        backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
        retryAt = performance.now() + delay;
        setState('reconnecting');
        setTimeout(connect, delay);
    }

    function onText(text) {
        let msg;
        try {
            msg = JSON.parse(text);
        } catch (e) {
            fail('text message', e);
            return;
        }
        // The bridge may send its own view of latency and whether it takes
        // input; other types are for later versions and are ignored.
        if (msg && msg.type === 'stats')
            viewer.bridgeStats = msg;
        else if (msg && msg.type === 'input')
            viewer.inputAllowed = msg.allowed === true;
        else if (msg && msg.type === 'resize') {
            viewer.resizeAllowed = msg.allowed === true;
            sendSize();
        } else if (msg && msg.type === 'cursor')
            setCursor(msg);
    }

    // ---- the machine's size and pointer --------------------------------------
    //
    // docs/bridge.md "Viewer messages": while the bridge allows it, the
    // viewer asks for a display the size of its window in device pixels,
    // down to multiples of 8 (what a guest's driver gives back exactly).

    const SIZE_MIN = 64;
    const SIZE_MAX = 8192;
    const RESIZE_SETTLE_MS = 200;   // one request when a drag ends, not one per step
    let resizeTimer = null;

    function sendSize() {
        if (!viewer.resizeAllowed)
            return;
        const dpr = window.devicePixelRatio || 1;
        const fit = (v) => Math.max(SIZE_MIN, Math.min(SIZE_MAX, Math.floor(v * dpr / 8) * 8));
        const width = fit(window.innerWidth);
        const height = fit(window.innerHeight);
        if (viewer.sizeSent && viewer.sizeSent[0] === width && viewer.sizeSent[1] === height)
            return;
        viewer.sizeSent = [width, height];
        send({ type: 'size', width, height });
    }

    window.addEventListener('resize', () => {
        clearTimeout(resizeTimer);
        resizeTimer = setTimeout(sendSize, RESIZE_SETTLE_MS);
    });

    // The machine's pointer as a CSS cursor over the picture: the browser
    // moves it with no round trip. Without one, the browser's own pointer.
    const cursorCanvas = document.createElement('canvas');
    const MAX_CURSOR = 256;

    function setCursor(msg) {
        if (!msg) {
            viewer.cursor = null;
            canvas.style.cursor = '';
            return;
        }
        if (msg.visible !== true) {
            viewer.cursor = { visible: false };
            canvas.style.cursor = 'none';
            return;
        }
        const { width, height } = msg;
        const ok = (v, max) => Number.isInteger(v) && v >= 0 && v < max;
        let bytes = null;
        try {
            bytes = Uint8ClampedArray.from(atob(msg.rgba), (c) => c.charCodeAt(0));
        } catch (e) {
            bytes = null;
        }
        if (!ok(width - 1, MAX_CURSOR) || !ok(height - 1, MAX_CURSOR) ||
            !ok(msg.hot_x, width) || !ok(msg.hot_y, height) || !bytes ||
            bytes.length !== width * height * 4) {
            fail('cursor', `a bad cursor message (${width}x${height})`);
            return;
        }
        cursorCanvas.width = width;
        cursorCanvas.height = height;
        cursorCanvas.getContext('2d').putImageData(new ImageData(bytes, width, height), 0, 0);
        canvas.style.cursor = `url(${cursorCanvas.toDataURL('image/png')}) ` +
            `${msg.hot_x} ${msg.hot_y}, auto`;
        viewer.cursor = { visible: true, width, height, hotX: msg.hot_x, hotY: msg.hot_y };
    }

    // For tests: a pixel of the cursor image in use, [r, g, b, a].
    viewer.cursorPixel = (x, y) =>
        Array.from(cursorCanvas.getContext('2d').getImageData(x, y, 1, 1).data);

    // ---- input -------------------------------------------------------------
    //
    // docs/bridge.md "Viewer messages": while the bridge allows input, keys go
    // as Linux evdev codes (KeyboardEvent.code names the physical key, whatever
    // the layout: the guest applies its own) and the pointer as picture pixels.

    // KeyboardEvent.code -> linux/input-event-codes.h KEY_*.
    const KEY_CODES = {
        Escape: 1, Digit1: 2, Digit2: 3, Digit3: 4, Digit4: 5, Digit5: 6, Digit6: 7,
        Digit7: 8, Digit8: 9, Digit9: 10, Digit0: 11, Minus: 12, Equal: 13, Backspace: 14,
        Tab: 15, KeyQ: 16, KeyW: 17, KeyE: 18, KeyR: 19, KeyT: 20, KeyY: 21, KeyU: 22,
        KeyI: 23, KeyO: 24, KeyP: 25, BracketLeft: 26, BracketRight: 27, Enter: 28,
        ControlLeft: 29, KeyA: 30, KeyS: 31, KeyD: 32, KeyF: 33, KeyG: 34, KeyH: 35,
        KeyJ: 36, KeyK: 37, KeyL: 38, Semicolon: 39, Quote: 40, Backquote: 41,
        ShiftLeft: 42, Backslash: 43, KeyZ: 44, KeyX: 45, KeyC: 46, KeyV: 47, KeyB: 48,
        KeyN: 49, KeyM: 50, Comma: 51, Period: 52, Slash: 53, ShiftRight: 54,
        NumpadMultiply: 55, AltLeft: 56, Space: 57, CapsLock: 58, F1: 59, F2: 60, F3: 61,
        F4: 62, F5: 63, F6: 64, F7: 65, F8: 66, F9: 67, F10: 68, NumLock: 69,
        ScrollLock: 70, Numpad7: 71, Numpad8: 72, Numpad9: 73, NumpadSubtract: 74,
        Numpad4: 75, Numpad5: 76, Numpad6: 77, NumpadAdd: 78, Numpad1: 79, Numpad2: 80,
        Numpad3: 81, Numpad0: 82, NumpadDecimal: 83, IntlBackslash: 86, F11: 87, F12: 88,
        IntlRo: 89, NumpadEnter: 96, ControlRight: 97, NumpadDivide: 98, PrintScreen: 99,
        AltRight: 100, Home: 102, ArrowUp: 103, PageUp: 104, ArrowLeft: 105,
        ArrowRight: 106, End: 107, ArrowDown: 108, PageDown: 109, Insert: 110,
        Delete: 111, NumpadEqual: 117, Pause: 119, IntlYen: 124, MetaLeft: 125,
        MetaRight: 126, ContextMenu: 127,
    };
    const MAX_COORD = 8191;
    const MAX_WHEEL = 16;
    const BUTTONS = 0x7;        // left, right, middle: DOM's bits are the wire's
    let pointerX = 0;
    let pointerY = 0;

    // Client coordinates -> picture pixels: the canvas is scaled to fit
    // (object-fit: contain), so the picture may have bars on two sides.
    function picturePoint(ev) {
        const w = canvas.width;
        const h = canvas.height;
        const r = canvas.getBoundingClientRect();
        if (!w || !h || !r.width || !r.height)
            return null;
        const scale = Math.min(r.width / w, r.height / h);
        const x = (ev.clientX - r.left - (r.width - w * scale) / 2) / scale;
        const y = (ev.clientY - r.top - (r.height - h * scale) / 2) / scale;
        const clamp = (v, n) => Math.max(0, Math.min(Math.min(n, MAX_COORD + 1) - 1, Math.floor(v)));
        return [clamp(x, w), clamp(y, h)];
    }

    function sendInput(obj) {
        if (!viewer.inputAllowed)
            return false;
        send(obj);
        viewer.inputsSent++;
        return true;
    }

    function onKey(ev, down) {
        const code = KEY_CODES[ev.code];
        if (code === undefined || !viewer.inputAllowed)
            return;
        // The page has nothing of its own to do with keys: Tab, Backspace and
        // the like belong to the remote machine. Repeats are the machine's.
        ev.preventDefault();
        if (!ev.repeat)
            sendInput({ type: 'key', code, down });
    }

    function onPointer(ev) {
        const p = picturePoint(ev);
        if (!p || !viewer.inputAllowed)
            return;
        [pointerX, pointerY] = p;
        if (ev.type === 'pointerdown' && canvas.setPointerCapture)
            canvas.setPointerCapture(ev.pointerId);
        sendInput({ type: 'pointer', x: pointerX, y: pointerY, buttons: ev.buttons & BUTTONS });
        if (ev.type !== 'pointermove')
            ev.preventDefault();
    }

    function onWheel(ev) {
        if (!viewer.inputAllowed)
            return;
        ev.preventDefault();
        // Pixels (about 100 a notch), lines (3 a notch) or pages.
        const per = ev.deltaMode === 0 ? 100 : ev.deltaMode === 1 ? 3 : 1;
        let steps = Math.round(ev.deltaY / per);
        if (steps === 0 && ev.deltaY !== 0)
            steps = Math.sign(ev.deltaY);
        steps = Math.max(-MAX_WHEEL, Math.min(MAX_WHEEL, steps));
        if (steps)
            sendInput({ type: 'pointer', x: pointerX, y: pointerY,
                        buttons: ev.buttons & BUTTONS, wheel: steps });
    }

    window.addEventListener('keydown', (ev) => onKey(ev, true));
    window.addEventListener('keyup', (ev) => onKey(ev, false));
    canvas.addEventListener('pointermove', onPointer);
    canvas.addEventListener('pointerdown', onPointer);
    canvas.addEventListener('pointerup', onPointer);
    canvas.addEventListener('wheel', onWheel, { passive: false });
    canvas.addEventListener('contextmenu', (ev) => {
        if (viewer.inputAllowed)
            ev.preventDefault();
    });

    // ---- overlay -------------------------------------------------------------

    const recvWindow = [];      // [arrival ms, access-unit bytes]
    const drawWindow = [];      // [draw ms, decode-and-draw ms]

    function trim(list, now) {
        while (list.length && now - list[0][0] > STATS_WINDOW_MS)
            list.shift();
    }

    function renderOverlay() {
        const now = performance.now();
        trim(recvWindow, now);
        trim(drawWindow, now);
        let text;
        if (viewer.state === 'reconnecting') {
            viewer.reconnectInMs = Math.max(0, retryAt - now);
            text = `reconnecting in ${(viewer.reconnectInMs / 1000).toFixed(1)} s`;
        } else {
            viewer.reconnectInMs = 0;
            text = viewer.state;
        }
        if (viewer.state === 'streaming' || drawWindow.length) {
            let bytes = 0;
            for (const [, b] of recvWindow)
                bytes += b;
            let ms = 0;
            for (const [, d] of drawWindow)
                ms += d;
            const size = viewer.width ? `  ${viewer.width}x${viewer.height} ${viewer.codec}` : '';
            text += `${size}\n${drawWindow.length} fps  ${Math.round(bytes * 8 / 1000)} kbit/s`;
            text += drawWindow.length ? `\ndecode+draw ${(ms / drawWindow.length).toFixed(1)} ms`
                                      : '\ndecode+draw -';
            const p50 = viewer.bridgeStats && viewer.bridgeStats.latency_p50_ms;
            if (typeof p50 === 'number')
                text += `  latency p50 ${p50.toFixed(1)} ms`;
        }
        overlay.textContent = text;
    }

    // ---- start --------------------------------------------------------------

    setInterval(renderOverlay, OVERLAY_PERIOD_MS);
    if (typeof window.VideoDecoder !== 'function' || typeof window.EncodedVideoChunk !== 'function') {
        // Browsers hide WebCodecs outside secure contexts: the usual cause when
        // the bridge is opened over plain http from another machine.
        unsupported(window.isSecureContext
            ? 'VideoDecoder is not available.'
            : `WebCodecs needs a secure context (https:// or http://localhost), ` +
              `and ${location.origin} is not one.`);
    } else {
        connect();
    }
})();
