"""The ``arrears`` command: Django's management utility under our name.

Our own commands (demo, serve, worker, import, export, token, ...) are
management commands in the apps; anything else is passed through to Django.
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arrears.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["arrears", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
