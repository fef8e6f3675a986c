"""``python -m p0f.broker``: the same as the ``p0f-broker`` command."""

from __future__ import annotations

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
