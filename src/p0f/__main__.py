"""``python -m p0f``: the same command line as ``p0f-query``."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
