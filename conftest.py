"""Test-run setup shared by every test module."""

import os
import tempfile

# Keep test runs away from the demo database under ./var/.
os.environ.setdefault("ARREARS_VAR_DIR", tempfile.mkdtemp(prefix="arrears-test-"))
