"""tests/usr: the helpers module next to these tests is importable (pyproject's pytest
``pythonpath`` lists the other helper directories; this one adds its own)."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
