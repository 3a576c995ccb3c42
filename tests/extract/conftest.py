"""Every extraction test runs twice: with the C extension (`_native`) and on the pure-Python path.

The two must give identical results; running the same assertions on both is the first guard, and
test_native.py holds them against each other on the corpus and on generated documents.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from meterlocal.extract import native


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A test that compares the two paths itself (marked `compares_backends`) runs once.
    if "backend" in metafunc.fixturenames:
        once = metafunc.definition.get_closest_marker("compares_backends") is not None
        metafunc.parametrize("backend", ["native"] if once else ["native", "python"], indirect=True)


@pytest.fixture(autouse=True)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "python":
        with native.pure_python():
            yield "python"
        return
    if os.environ.get("METERLOCAL_PURE_PYTHON", "") not in ("", "0"):
        pytest.skip("METERLOCAL_PURE_PYTHON is set: the C extension is switched off on purpose")
    assert native.native_available(), f"the C extension is not in use: {native.IMPORT_ERROR}"
    yield "native"
