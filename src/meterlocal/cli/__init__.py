"""The `meterlocal` command line (needs the `cli` extra: click, rich, pyyaml).

`main()` is the console script's entry point. Importing this package imports neither click nor rich, so the
script can say what to install when they are missing.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

_EXTRA_MODULES = frozenset({"click", "rich", "yaml"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `meterlocal` command with `argv` (default: sys.argv[1:]); return its exit code."""
    try:
        from meterlocal.cli.commands import cli
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in _EXTRA_MODULES:
            raise
        sys.stderr.write(
            f"meterlocal: the command line needs the {missing!r} package: install meterlocal[cli]\n"
            "    pip install 'meterlocal[cli]'\n"
        )
        return 1
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="meterlocal")
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
