"""A fake SMS provider: a real HTTP server on a loopback port that speaks
the contract in ``arrears.comms.sms``.

It checks the bearer token, honours ``Idempotency-Key`` (a repeat answers
the first message's id and sends nothing), records every request, and can
be told to answer a status for a number or to be slow.

Use the ``sms_provider`` fixture (``from .sms_provider import
sms_provider_fixture  # noqa: F401`` in the test module), which points
``ARREARS_SMS_URL`` and ``ARREARS_SMS_TOKEN`` at the server, or the
``fake_sms_provider()`` context manager.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

TOKEN = "provider-token-for-tests"


@dataclass
class Request:
    """One request as the provider received it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeSmsProvider:
    url: str = ""
    token: str = TOKEN
    # Every request, repeats included.
    requests: list[Request] = field(default_factory=list)
    # The texts actually sent (a repeat of an idempotency key is not one).
    sent: list[dict[str, Any]] = field(default_factory=list)
    # number -> (status, JSON answer): answered instead of sending.
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    delay: float = 0.0
    _ids: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, number: str, status: int, **body: Any) -> None:
        """Answer ``status`` with ``body`` for texts to ``number``."""
        self.answers[number] = (status, body)

    def handle(self, request: Request) -> tuple[int, dict[str, Any]]:
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.requests.append(request)
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return 401, {"error": "invalid API token", "code": "unauthorized"}
            key = request.headers.get("idempotency-key", "")
            if key and key in self._ids:
                return 200, {"id": self._ids[key], "status": "queued", "repeat": True}
            to = request.body.get("to", "")
            if to in self.answers:
                return self.answers[to]
            provider_id = f"SM{len(self.sent) + 1:04d}"
            self.sent.append(request.body)
            if key:
                self._ids[key] = provider_id
            return 201, {"id": provider_id, "status": "queued"}


def _handler(provider: FakeSmsProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"_raw": raw.decode("utf-8", "replace")}
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, answer = provider.handle(Request(self.path, headers, body))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 429:
                self.send_header("Retry-After", "30")
            if 300 <= status < 400:
                self.send_header("Location", f"{provider.url}/elsewhere")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def fake_sms_provider() -> Iterator[FakeSmsProvider]:
    """A fake provider serving on a free loopback port until the block ends."""
    provider = FakeSmsProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    server.daemon_threads = True
    provider.url = f"http://127.0.0.1:{server.server_address[1]}/v1/messages"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(name="sms_provider")
def sms_provider_fixture(settings: Any) -> Iterator[FakeSmsProvider]:
    """A running fake provider; the settings point the SMS channel at it.
    Import ``sms_provider_fixture`` into a test module to use ``sms_provider``."""
    with fake_sms_provider() as provider:
        settings.ARREARS_SMS_URL = provider.url
        settings.ARREARS_SMS_TOKEN = provider.token
        settings.ARREARS_SMS_SENDER = "+15550100000"
        yield provider
