"""The domain core is pure Python: it must not import Django."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import arrears.domain

DOMAIN = Path(arrears.domain.__file__).parent


def _sources() -> list[Path]:
    return sorted(p for p in DOMAIN.glob("*.py"))


def test_the_domain_package_has_modules_to_check() -> None:
    names = {p.stem for p in _sources()}
    assert {"money", "allocation", "masterdata"} <= names


def test_no_domain_module_imports_django_in_its_source() -> None:
    offenders = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else []
            else:
                continue
            offenders += [
                f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] == "django"
            ]
    assert offenders == []


def test_importing_the_domain_loads_no_django_module() -> None:
    modules = ", ".join(f"arrears.domain.{p.stem}" for p in _sources() if p.stem != "__init__")
    code = (
        f"import sys, {modules}\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
