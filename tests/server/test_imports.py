"""`import meterlocal` stays light: it never imports the server, the CLI, or the CLI's libraries."""

from __future__ import annotations

import json
import subprocess
import sys


def test_import_meterlocal_imports_neither_server_nor_cli() -> None:
    code = (
        "import json, sys, meterlocal; "
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('click', 'rich', 'yaml') or m.startswith(('meterlocal.server', 'meterlocal.cli')))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout) == []


def test_the_server_package_imports_without_the_cli() -> None:
    code = (
        "import json, sys, meterlocal.server; "
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('click', 'rich', 'yaml') or m.startswith('meterlocal.cli'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout) == []
