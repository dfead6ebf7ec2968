"""``python -m nftkit``: see ``nftkit.cli``."""

from __future__ import annotations

import sys

from .cli import main

__all__: list[str] = []

sys.exit(main())
