"""How parameters join a URL's query, for API strategies (`extract`) and fetchers (`fetch`) alike.

It sits at the bottom of the package with `errors` (it imports nothing of meterlocal), so both layers share one
implementation: yarl's, the URL type aiohttp sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yarl import URL

__all__ = ["merge_query"]


def _text(value: Any) -> str:
    # yarl refuses bools, and str(True) would send "True", which APIs rarely accept.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def merge_query(url: str, params: Mapping[str, Any] | None) -> str:
    """Return `url` with `params` in its query.

    A parameter replaces every same-named one already there and goes last, in the order given; `True`/`False`
    become `true`/`false`, a list or tuple repeats the key, `None` leaves the key out. Without parameters the
    URL is returned as it is. Raise `ValueError` or `TypeError` for a URL that cannot take a query.
    """
    if not params:
        return url
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, list | tuple) else () if value is None else (value,)
        pairs += [(str(key), _text(item)) for item in values]
    return str(URL(url).without_query_params(*map(str, params)).extend_query(pairs))
