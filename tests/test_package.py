"""The public API: one sorted, complete `__all__`, every module declaring its own, and no import side effects."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import meterlocal


def test_all_is_sorted_and_every_name_resolves() -> None:
    names = [n for n in meterlocal.__all__ if n != "__version__"]
    assert names == sorted(names)
    for name in meterlocal.__all__:
        assert hasattr(meterlocal, name), name


def test_every_public_class_and_function_of_the_core_modules_is_exported() -> None:
    # httpx's test_exported_members: a public name defined in these modules must be reachable from the package.
    for module_name in ("meterlocal.errors", "meterlocal.models", "meterlocal.settings", "meterlocal.manager"):
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if name in {"Clock", "DeliveryStatus", "Timestamp", "format_timestamp", "utcnow", "DEFAULT_USER_AGENT"}:
                continue  # helpers for the package's own modules
            assert name in meterlocal.__all__, f"{module_name}.{name} is not exported"


def test_every_module_declares_all() -> None:
    for info in pkgutil.walk_packages(meterlocal.__path__, "meterlocal."):
        if info.name.startswith(("meterlocal.server", "meterlocal.cli")) or info.name.endswith("__main__"):
            continue  # optional layers, checked by their own tests
        module = importlib.import_module(info.name)
        assert isinstance(getattr(module, "__all__", None), list), info.name


def test_importing_the_package_has_no_side_effects() -> None:
    code = (
        "import logging, threading; before = threading.active_count(); import meterlocal; "
        "assert threading.active_count() == before; assert not logging.getLogger().handlers; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.strip() == "ok", done.stderr
