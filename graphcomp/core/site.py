"""Where the user built a node: the first stack frame outside graphcomp."""

from __future__ import annotations

import os
import sys

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def creation_site() -> str:
    """Return ``"file.py:LINE"`` of the innermost frame outside the graphcomp package.

    Gradient nodes made inside ``gc.grad`` therefore point at the user's
    ``gc.grad`` call, which is where the user asked for them.

    Example:
        >>> creation_site().startswith("<")  # doctest frames have pseudo-files
        True
    """
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIR):
            return f"{os.path.basename(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return "<graphcomp>"
