"""`import meterlocal` stays light: it never imports the server, the CLI, or the CLI's libraries."""

from __future__ import annotations

import json
import subprocess
import sys


def imported(statement: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules starting with one of `prefixes` that a fresh interpreter has loaded after `statement`."""
    listing = f"sorted(m for m in sys.modules if m.startswith({prefixes!r}))"
    code = f"import json, sys; {statement}; print(json.dumps({listing}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return list(json.loads(result.stdout))


def test_import_meterlocal_imports_neither_server_nor_cli() -> None:
    assert imported("import meterlocal", ("click", "rich", "yaml", "meterlocal.server", "meterlocal.cli")) == []


def test_the_server_package_imports_without_the_cli() -> None:
    assert imported("import meterlocal.server", ("click", "rich", "yaml", "meterlocal.cli")) == []


def test_the_contract_models_import_without_aiohttp_web_server_or_cli() -> None:
    assert imported("import meterlocal.contract", ("aiohttp.web", "meterlocal.server", "meterlocal.cli")) == []
