"""A loopback (127.0.0.1) HTTP server for tests, with per-path fault injection.

``server.files[path] = bytes`` serves a file; ``server.faults[path] = [...]`` consumes one
action per request: ``"404"``, ``"500"``, ``"truncate"`` (headers promise the full length,
half the body is sent, then the connection closes), ``"slow"`` (the body trickles), or
``"ok"``. ``server.redirects[path] = url`` answers GET and HEAD with a 302 to ``url``.
``server.hits[path]`` counts GET requests, ``server.heads[path]`` HEAD requests
(which answer 200 or 404 by whether the file exists, with no faults applied).
"""

from __future__ import annotations

import http.server
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class LoopbackServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, list[str]] = {}
        self.redirects: dict[str, str] = {}
        self.hits: Counter[str] = Counter()
        self.heads: Counter[str] = Counter()
        self.slow_delay = 0.05
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def next_action(self, path: str) -> str:
        with self._lock:
            self.hits[path] += 1
            plan = self.faults.get(path)
            return plan.pop(0) if plan else "ok"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: LoopbackServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _redirect(self, path: str) -> bool:
        target = self.server.redirects.get(path)
        if target is None:
            return False
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True

    def do_HEAD(self) -> None:
        path = self.path.split("?", 1)[0]
        if self._redirect(path):
            return
        with self.server._lock:
            self.server.heads[path] += 1
        body = self.server.files.get(path)
        self.send_response(404 if body is None else 200)
        self.send_header("Content-Length", str(0 if body is None else len(body)))
        self.end_headers()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if self._redirect(path):
            return
        action = self.server.next_action(path)
        body = self.server.files.get(path)
        if action in ("404", "500") or body is None:
            status = 500 if action == "500" else 404
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if action == "truncate":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            if action == "slow":
                step = max(1, len(body) // 200)
                for i in range(0, len(body), step):
                    self.wfile.write(body[i : i + step])
                    self.wfile.flush()
                    time.sleep(self.server.slow_delay)
                return
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


@contextmanager
def serve() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    # A short poll interval: shutdown() waits up to one interval, at every test's teardown.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
