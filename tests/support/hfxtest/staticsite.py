"""A directory served over HTTP on loopback, for pages a test or a bench
opens in Chromium (tests/browser/sps-rewrite.py, bench/run-sps-delay.py)."""
import http.server
import threading

from hfxtest.webdriver import free_port


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """No access log on stderr: it would bury the caller's own output."""

    def log_message(self, *args):
        pass


def serve(directory):
    """An HTTP server for directory on a free 127.0.0.1 port, answering on a
    thread of its own; the caller stops it with .shutdown(). Its URL:
    f'http://127.0.0.1:{httpd.server_address[1]}/'."""
    httpd = http.server.ThreadingHTTPServer(
        ('127.0.0.1', free_port()), lambda *a, **k: QuietHandler(*a, directory=str(directory), **k))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd
