"""``python -m tests.standin.micromamba ARGS``: the stand-in run from the source tree (no
baked config). The zipapp has its own top-level ``__main__.py`` (tests.standin.fixtures)."""

from __future__ import annotations

import sys

from .main import main

sys.exit(main(sys.argv[1:]))
