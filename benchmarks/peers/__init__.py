"""The implementations the extraction benchmark compares, all doing the same extraction of the same pages."""

from __future__ import annotations

from benchmarks.peers.base import Implementation, Run
from benchmarks.peers.bs4_peer import BeautifulSoupPeer
from benchmarks.peers.engine import Meterlocal, MeterlocalPurePython
from benchmarks.peers.floor import LxmlFloor
from benchmarks.peers.parsel_peer import Parsel, ParselExtractor
from benchmarks.peers.selectolax_peer import Selectolax

__all__ = [
    "BeautifulSoupPeer",
    "Implementation",
    "LxmlFloor",
    "Meterlocal",
    "MeterlocalPurePython",
    "Parsel",
    "ParselExtractor",
    "Run",
    "Selectolax",
    "all_implementations",
]


def all_implementations() -> list[Implementation]:
    """The floor first, then meterlocal (with its C extension, then pure Python), then the peers."""
    return [LxmlFloor(), Meterlocal(), MeterlocalPurePython(), Parsel(), Selectolax(), BeautifulSoupPeer()]
