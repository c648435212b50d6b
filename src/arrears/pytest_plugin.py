"""pytest plugin (``-p arrears.pytest_plugin`` in pyproject.toml).

Loaded while pytest reads its arguments, before pytest-django imports the
settings, so every test run keeps its files away from the demo's ./var/.
"""

import os
import tempfile

os.environ.setdefault("ARREARS_VAR_DIR", tempfile.mkdtemp(prefix="arrears-test-"))
