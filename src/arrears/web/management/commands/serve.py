"""arrears serve [--host 127.0.0.1] [--port 8000]

Serves the web app with Django's threaded WSGI server; static files come
from whitenoise. Fine for the demo and small installations. In production
run ``arrears.wsgi:application`` under gunicorn or uWSGI instead (e.g.
``gunicorn arrears.wsgi -w 4``), behind a reverse proxy that terminates TLS.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from arrears.web.serving import port_number, wsgi_serve


class Command(BaseCommand):
    help = "Serve the web app (threaded WSGI server; production uses gunicorn/uWSGI)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=port_number, default=8000, help="port (0: any free)")

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        self.check_migrations()

        def bound(actual_port: int) -> None:
            self.stdout.write(f"Serving Arrears on http://{host}:{actual_port}/ (Ctrl-C to stop)")
            self.stdout.flush()

        try:
            wsgi_serve(host=host, port=port, on_bind=bound)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        except KeyboardInterrupt:
            pass
