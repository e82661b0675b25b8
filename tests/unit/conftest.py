"""Unit tests run from any directory without PYTHONPATH: the repository root (for `tb`, `sim`) and fw/ (for
the `imsdev` package) are put on sys.path here, as the Makefile's PYTHONPATH does for `make unit`."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for p in (ROOT / "fw", ROOT):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
