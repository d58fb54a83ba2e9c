"""A small W3C WebDriver client for headless Chromium, python3 stdlib only.

Browser tests drive Debian's chromium through chromedriver over plain HTTP +
JSON (https://www.w3.org/TR/webdriver2/), so they need neither selenium nor pip.

    from hfxtest.webdriver import Driver, require_browser
    require_browser()                       # exit 77 (meson: skipped) when missing
    with Driver(output_dir=out) as drv:
        a = drv.session()                   # one chromium per session
        b, c = drv.sessions(2)              # two more, started in parallel
        a.navigate('http://127.0.0.1:8080/')
        a.wait_for('window.hfxViewer && window.hfxViewer.framesDrawn >= 30', timeout=10)
        a.screenshot(out / 'a.png')
        a.canvas_pixels('canvas', [(10, 10), (100, 50)])

Everything started here is torn down on exit, on exceptions and on SIGTERM
(meson's timeout): chromedriver runs in its own process group, each session's
chromium has its own --user-data-dir under a private temporary directory, and
close() kills both the group and any process whose command line names that
directory (chromium's zygote and renderers leave chromedriver's group).

Environment: HFX_CHROMIUM (default /usr/bin/chromium), HFX_CHROMEDRIVER (default
chromedriver on PATH, then /usr/bin/chromedriver), HFX_BROWSER_ARGS (extra
chromium flags, space-separated), HFX_WEBDRIVER_DEBUG=1 (chromedriver --verbose).
"""

import atexit
import base64
import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

SKIP = 77

# Flags for a browser that runs under CI as root without a display or a GPU.
# --no-sandbox: chromium refuses to start as root with its sandbox.
# --disable-dev-shm-usage: containers often have a small /dev/shm.
# --autoplay-policy: media must not wait for a user gesture nobody will make.
# H.264 in WebCodecs needs nothing more on Debian's chromium (its FFmpeg has the
# proprietary codecs): the software decoder answers when there is no GPU.
CHROMIUM_ARGS = [
    '--headless=new',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--autoplay-policy=no-user-gesture-required',
    # A test machine must not call home, show first-run UI or throttle a page
    # that the test is watching from another session.
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-background-timer-throttling',
    '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
    '--window-size=1400,900',
]

# Every HTTP call to chromedriver has a deadline; a hung browser fails the test
# instead of hanging it until meson's timeout.
HTTP_TIMEOUT = 30.0
START_TIMEOUT = 20.0


class WebDriverError(Exception):
    """An error answer from chromedriver (W3C 'error' + 'message'), or no answer."""

    def __init__(self, error, message, data=None):
        super().__init__(f'{error}: {message}')
        self.error = error
        self.message = message
        self.data = data


class JavaScriptError(WebDriverError):
    """The page's script threw; .message has the exception text."""


def find_browser():
    """(chromium, chromedriver) paths, or raise LookupError saying which is missing."""
    chromium = os.environ.get('HFX_CHROMIUM', '/usr/bin/chromium')
    driver = os.environ.get('HFX_CHROMEDRIVER') or shutil.which('chromedriver') \
        or '/usr/bin/chromedriver'
    missing = []
    if not os.access(chromium, os.X_OK):
        missing.append(f'chromium ({chromium})')
    if not os.access(driver, os.X_OK):
        missing.append(f'chromedriver ({driver})')
    if missing:
        raise LookupError(' and '.join(missing) + ' not found'
                          ' (apt-get install chromium chromium-driver)')
    return chromium, driver


def require_browser():
    """Return (chromium, chromedriver), or print why not and exit 77 (skipped)."""
    try:
        return find_browser()
    except LookupError as e:
        print(f'skipped: {e}', flush=True)
        sys.exit(SKIP)


def free_port(host='127.0.0.1'):
    """A port that was free a moment ago; chromedriver insists on being told one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _kill_matching(token):
    """SIGKILL every process of ours whose command line contains token.

    token is a directory name made by mkdtemp for this Driver, so nothing else
    can match: this catches chromium helpers that moved to their own session.
    """
    me = os.getpid()
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f'/proc/{entry}/cmdline', 'rb') as f:
                cmd = f.read()
        except OSError:
            continue
        if token.encode() in cmd:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


class Driver:
    """One chromedriver process; sessions (each a chromium) are opened from it."""

    def __init__(self, output_dir=None, chromium=None, chromedriver=None, extra_args=()):
        found_chromium, found_driver = find_browser()
        self.chromium = chromium or found_chromium
        self.chromedriver = chromedriver or found_driver
        self.args = list(CHROMIUM_ARGS) + list(extra_args) + \
            os.environ.get('HFX_BROWSER_ARGS', '').split()
        self.tmp = tempfile.mkdtemp(prefix='hfx-webdriver-')
        self.output_dir = Path(output_dir) if output_dir else Path(self.tmp)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._sessions = []
        self.proc = None
        self._closed = False
        self._old_handlers = {}
        self._install_signal_handlers()
        # For a caller that forgot the with-block: never leave a browser behind.
        atexit.register(self.close)
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    # -- lifetime --------------------------------------------------------

    def _install_signal_handlers(self):
        # meson ends a test that runs over its timeout with SIGTERM; turning it
        # into SystemExit runs the with-blocks and finally-clauses that close us.
        def on_signal(signum, frame):
            raise SystemExit(128 + signum)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                self._old_handlers[sig] = signal.signal(sig, on_signal)
            except ValueError:
                pass    # not the main thread: the caller handles signals

    def _start(self):
        # free_port() can lose a race with another process binding the same
        # port: chromedriver then exits at once, and a new port is tried.
        for attempt in range(3):
            try:
                return self._start_on(free_port())
            except WebDriverError as e:
                if e.error != 'chromedriver exited' or attempt == 2:
                    raise

    def _start_on(self, port):
        self.port = port
        self.log_path = self.output_dir / 'chromedriver.log'
        cmd = [self.chromedriver, f'--port={self.port}', f'--log-path={self.log_path}']
        if os.environ.get('HFX_WEBDRIVER_DEBUG'):
            cmd.append('--verbose')
        self.base = f'http://127.0.0.1:{self.port}'
        # Its own process group, so close() can kill it with every child it made.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise WebDriverError('chromedriver exited',
                                     f'status {self.proc.returncode}; see {self.log_path}')
            try:
                status = self._http('GET', '/status', timeout=2)
                if status.get('ready'):
                    return
            except (WebDriverError, OSError):
                pass
            if time.monotonic() > deadline:
                raise WebDriverError('timeout', f'chromedriver not ready after '
                                     f'{START_TIMEOUT:.0f} s; see {self.log_path}')
            time.sleep(0.05)

    def close(self):
        """Close every session, stop chromedriver, kill what is left. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for s in list(self._sessions):
            try:
                s.close(timeout=5)
            except Exception:
                pass
        if self.proc is not None:
            # The whole group (chromedriver, chromium and its helpers):
            # politely, then not.
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)
                except OSError:
                    pass
                try:
                    self.proc.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    pass
        _kill_matching(self.tmp)
        shutil.rmtree(self.tmp, ignore_errors=True)
        for sig, handler in self._old_handlers.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, TypeError):
                pass
        atexit.unregister(self.close)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- protocol ----------------------------------------------------------

    def _http(self, method, path, body=None, timeout=HTTP_TIMEOUT):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={'Content-Type': 'application/json'})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                payload = r.read()
        except urllib.error.HTTPError as e:
            payload = e.read()
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as e:
            raise WebDriverError('no answer', f'{method} {path}: {e}') from None
        try:
            value = json.loads(payload)['value']
        except (ValueError, KeyError, TypeError):
            raise WebDriverError('bad answer', f'{method} {path}: {payload[:200]!r}') from None
        if isinstance(value, dict) and 'error' in value:
            cls = JavaScriptError if value['error'] == 'javascript error' else WebDriverError
            raise cls(value['error'], value.get('message', ''), value.get('data'))
        return value

    def session(self, extra_args=(), page_load_timeout=30, script_timeout=30):
        """Start a new chromium and return its Session."""
        profile = tempfile.mkdtemp(prefix='profile-', dir=self.tmp)
        args = self.args + list(extra_args) + [f'--user-data-dir={profile}']
        caps = {'capabilities': {'alwaysMatch': {
            'browserName': 'chrome',
            'goog:chromeOptions': {'binary': self.chromium, 'args': args},
            'goog:loggingPrefs': {'browser': 'ALL'},
            'timeouts': {'pageLoad': int(page_load_timeout * 1000),
                         'script': int(script_timeout * 1000), 'implicit': 0},
        }}}
        # Starting chromium on a loaded 2-core machine can take a while.
        value = self._http('POST', '/session', caps, timeout=60)
        s = Session(self, value['sessionId'], value.get('capabilities', {}))
        self._sessions.append(s)
        return s


    def sessions(self, n, **kwargs):
        """Start n browsers at once (each start is mostly waiting); return their Sessions."""
        with concurrent.futures.ThreadPoolExecutor(n) as pool:
            futures = [pool.submit(self.session, **kwargs) for _ in range(n)]
            return [f.result() for f in futures]


class Session:
    """One browser. Tabs are windows of the session: new_tab() / switch_to()."""

    def __init__(self, driver, sid, capabilities):
        self.driver = driver
        self.id = sid
        self.capabilities = capabilities
        self.closed = False

    def _cmd(self, method, path, body=None, timeout=HTTP_TIMEOUT):
        return self.driver._http(method, f'/session/{self.id}{path}', body, timeout)

    def close(self, timeout=HTTP_TIMEOUT):
        if self.closed:
            return
        self.closed = True
        if self in self.driver._sessions:
            self.driver._sessions.remove(self)
        self._cmd('DELETE', '', timeout=timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.close()
        except WebDriverError:
            pass
        return False

    # -- navigation and windows ---------------------------------------------

    def navigate(self, url, timeout=60):
        self._cmd('POST', '/url', {'url': url}, timeout=timeout)

    def new_tab(self, url=None):
        """Open a tab, switch to it and return its handle."""
        handle = self._cmd('POST', '/window/new', {'type': 'tab'})['handle']
        self.switch_to(handle)
        if url:
            self.navigate(url)
        return handle

    def switch_to(self, handle):
        self._cmd('POST', '/window', {'handle': handle})

    def set_window_size(self, width, height):
        """Resize the current window (outer size, CSS pixels)."""
        self._cmd('POST', '/window/rect', {'width': int(width), 'height': int(height)})

    # -- scripts -------------------------------------------------------------

    def execute(self, script, *args, timeout=HTTP_TIMEOUT):
        """Run script as a function body with arguments; return its return value."""
        return self._cmd('POST', '/execute/sync', {'script': script, 'args': list(args)},
                         timeout=timeout)

    def evaluate(self, expression):
        return self.execute(f'return ({expression});')

    def press_key(self, key):
        """Press and release one key (W3C key action: a character such as
        'a', or a WebDriver key code point), as a person would."""
        self._cmd('POST', '/actions', {'actions': [{
            'type': 'key', 'id': 'keyboard',
            'actions': [{'type': 'keyDown', 'value': key}, {'type': 'keyUp', 'value': key}]}]})
        self._cmd('DELETE', '/actions')

    def move_to(self, x, y):
        """Move the mouse to viewport pixel (x, y), no button."""
        self._cmd('POST', '/actions', {'actions': [{
            'type': 'pointer', 'id': 'mouse', 'parameters': {'pointerType': 'mouse'},
            'actions': [{'type': 'pointerMove', 'duration': 0, 'origin': 'viewport',
                         'x': int(x), 'y': int(y)}]}]})
        self._cmd('DELETE', '/actions')

    def click_at(self, x, y, button=0):
        """Move the mouse to viewport pixel (x, y), press and release button
        there (0 left, 1 middle, 2 right)."""
        self._cmd('POST', '/actions', {'actions': [{
            'type': 'pointer', 'id': 'mouse', 'parameters': {'pointerType': 'mouse'},
            'actions': [{'type': 'pointerMove', 'duration': 0, 'origin': 'viewport',
                         'x': int(x), 'y': int(y)},
                        {'type': 'pointerDown', 'button': button},
                        {'type': 'pointerUp', 'button': button}]}]})
        self._cmd('DELETE', '/actions')

    def wait_for(self, expression, timeout=10.0, interval=0.1):
        """Poll a JS expression until it is truthy; return its value or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        value = None
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f'{expression} still {value!r} after {timeout} s')
            time.sleep(interval)

    def add_init_script(self, source):
        """Run source in every new document of this session before its own scripts.

        Chromium-specific (DevTools Page.addScriptToEvaluateOnNewDocument through
        chromedriver): the way to simulate a browser that lacks an API, without
        a test hook in the page.
        """
        return self.cdp('Page.addScriptToEvaluateOnNewDocument', {'source': source})

    def cdp(self, cmd, params=None):
        return self._cmd('POST', '/goog/cdp/execute', {'cmd': cmd, 'params': params or {}})

    # -- output ---------------------------------------------------------------

    def screenshot(self, path):
        """Save the viewport as a PNG; returns the path."""
        png = base64.b64decode(self._cmd('GET', '/screenshot', timeout=60))
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        return path

    def canvas_pixels(self, selector, points):
        """RGBA of each (x, y) in canvas coordinates of the first canvas matching selector.

        Needs a 2d canvas that is not tainted (same origin); returns a list of
        [r, g, b, a], or raises JavaScriptError.
        """
        return self.execute('''
            const c = document.querySelector(arguments[0]);
            if (!c) throw new Error('no canvas matches ' + arguments[0]);
            const ctx = c.getContext('2d');
            return arguments[1].map(([x, y]) => Array.from(ctx.getImageData(x, y, 1, 1).data));
        ''', selector, [list(p) for p in points])

    def text(self, selector='body'):
        return self.execute('const e = document.querySelector(arguments[0]);'
                            'return e ? e.innerText : null;', selector)
