"""Run every benchmark module (``bench/*_bench.py``) in turn; each prints its figures."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main() -> None:
    only = sys.argv[1:]
    for path in sorted(Path(__file__).parent.glob("*_bench.py")):
        if only and path.stem not in only:
            continue
        print(f"== {path.stem} ==", flush=True)
        importlib.import_module(f"bench.{path.stem}").main()


if __name__ == "__main__":
    main()
