"""The brand on portal pages: its name and a colour safe to put in CSS."""

from __future__ import annotations

import re
from typing import Any

from arrears.comms.rendering import brand_current

DEFAULT_COLOUR = "#1f4e79"


def brand_context() -> dict[str, Any]:
    """``brand`` and ``colour`` (the brand's primary colour when it is a
    plain hex colour: it is written into a style sheet, where HTML escaping
    does not protect)."""
    brand = brand_current()
    colour = brand.primary_colour or ""
    if not re.fullmatch(r"#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}", colour):
        colour = DEFAULT_COLOUR
    return {"brand": brand, "colour": colour}
