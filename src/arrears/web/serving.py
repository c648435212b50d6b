"""Serving the WSGI application from the command line.

This is the embedded server for the demo and small installations: Django's
own threaded WSGI server, with static files served by whitenoise. Production
runs ``arrears.wsgi:application`` under gunicorn or uWSGI behind a proxy
instead, e.g. ``gunicorn arrears.wsgi -w 4 -b 127.0.0.1:8000``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.servers.basehttp import get_internal_wsgi_application, run
from django.db import connections


def port_number(text: str) -> int:
    """A TCP port from the command line (0 asks the system for a free one)."""
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(text)
    return port


def wsgi_serve(*, host: str, port: int, on_bind: Callable[[int], None] | None = None) -> None:
    """Serve until interrupted; ``on_bind`` is called with the port once it is bound.

    Raises OSError when the address cannot be bound (e.g. the port is taken).
    """
    handler = get_internal_wsgi_application()
    # Request threads open their own connections; don't share ours with them.
    connections.close_all()

    def bound(actual_port: int | str) -> None:
        if on_bind is not None:
            on_bind(int(actual_port))

    run(host, port, handler, ipv6=":" in host, threading=True, on_bind=bound)
