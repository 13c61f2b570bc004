"""``python -m acs_emulator [options]``; see ``--help`` or :mod:`acs_emulator.config`."""

from __future__ import annotations

import sys

from .config import load_config
from .server import run


def main() -> int:
    return run(load_config())


if __name__ == "__main__":
    sys.exit(main())
