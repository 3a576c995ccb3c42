"""JSON-API strategies: call the endpoint behind a page and read its items with JMESPath.

```json
{"type": "api",
 "request": {"url": "https://example.com/api/products", "method": "GET",
             "headers": {"Accept": "application/json"}, "params": {"page": 1, "limit": 20}},
 "items": "data.products",
 "fields": {"name": "title", "price": "pricing.amount"}}
```
`params` (query) and, for POST, `json` (body) hold the default parameters; a job's `parameters` override them by
key, and a job's `url` replaces `request.url`. The final URL carries the merged query, so the job records exactly
what was asked for. The document's shape and checks are `ApiStrategyDocument` (`documents.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from jmespath.exceptions import JMESPathError

from meterlocal.errors import ExtractionError, ValidationError
from meterlocal.extract.base import CompiledStrategy, Extraction, Postprocess, empty_field_warnings
from meterlocal.extract.documents import ApiRequestTemplate, ApiStrategyDocument
from meterlocal.extract.limits import Run
from meterlocal.urls import merge_query

__all__ = ["ApiRequest", "ApiStrategy", "compile_api_strategy"]

# Media types that are certainly not JSON: the job fails with "Expected JSON ..." instead of a parse error.
_NOT_JSON = (
    "text/html",
    "application/xhtml+xml",
    "text/xml",
    "application/xml",
    "image/",
    "audio/",
    "video/",
)


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """The HTTP request one API job sends. `url` already carries the merged query parameters."""

    url: str
    method: str
    headers: dict[str, str]
    json: Any = None
    parameters: dict[str, Any] = field(default_factory=dict)


class ApiStrategy(CompiledStrategy):
    """A compiled JSON-API strategy."""

    kind = "api"

    def __init__(
        self,
        request: ApiRequestTemplate,
        items: Any,
        fields: dict[str, Any] | None,
        key: str | None,
        postprocess: tuple[Postprocess, ...] = (),
    ) -> None:
        super().__init__(postprocess)
        self._url = request.url
        self._method: str = request.method
        self._headers = {str(k): str(v) for k, v in (request.headers or {}).items()}
        self._params: dict[str, Any] = dict(request.params or {})
        self._body = None if request.json_ is None else dict(request.json_)
        self._items = items
        self._fields = fields
        self.key = key
        self.field_names = tuple(fields or ())

    @property
    def parameters(self) -> dict[str, Any]:
        """Declared parameters and their defaults: query params, then (for POST) body keys."""
        return {**self._params, **(self._body or {})}

    def request_for(self, url: str | None = None, parameters: Mapping[str, Any] | None = None) -> ApiRequest:
        """Build the request of one job. Raise `ValidationError` for a parameter the strategy does not declare."""
        overrides = dict(parameters or {})
        declared = self.parameters
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            listed = ", ".join(sorted(declared)) or "none"
            raise ValidationError(
                f"unknown parameter(s) {', '.join(map(repr, unknown))} for this API strategy; "
                f"declared parameters: {listed}"
            )
        target = url or self._url
        if not target:
            raise ValidationError("this API strategy has no request.url; give the job a url")
        query = {k: overrides.get(k, v) for k, v in self._params.items()}
        body = None
        if self._body is not None:
            body = {k: overrides.get(k, v) for k, v in self._body.items()}
        try:
            final = merge_query(target, query)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"cannot add the query parameters to {target!r}: {exc}") from exc
        merged = {**query, **(body or {})}
        return ApiRequest(final, self._method, dict(self._headers), body, merged)

    def run(
        self,
        document: bytes | str,
        *,
        url: str | None = None,
        charset: str | None = None,
        content_type: str | None = None,
        deadline: float | None = None,
        max_result_bytes: int | None = None,
    ) -> Extraction:
        run = Run(deadline=deadline, max_result_bytes=max_result_bytes)
        data = self.decode(document, url=url, content_type=content_type)
        items = self.items_of(data, url=url)
        fields = self._fields
        records: list[dict[str, Any]] = []
        with run.active():
            for item in items:
                run.check_time()
                if fields is None:
                    records.append(dict(item) if isinstance(item, dict) else {"value": item})
                    continue
                try:
                    record = {name: expr.search(item) for name, expr in fields.items()}
                except (JMESPathError, TypeError, ValueError, RecursionError) as exc:
                    # A valid expression meeting the wrong type: length() of a number, max() over mixed types.
                    raise ExtractionError(
                        f"A field's JMESPath failed on the JSON from {url or 'the response'}: {exc}"
                    ) from exc
                if max_result_bytes is not None:  # projections can repeat the input: count what they made
                    run.charge(_size(record))
                records.append(record)
            warnings = [] if fields is None else empty_field_warnings(records, tuple(fields))
            return Extraction(self._finish(records, warnings), root=data, warnings=warnings)

    def decode(self, document: bytes | str | Any, *, url: str | None, content_type: str | None) -> Any:
        """The decoded JSON of a response body. Raise `ExtractionError` saying why it is not JSON."""
        source = url or "the response"
        if not isinstance(document, bytes | bytearray | memoryview | str):
            return document  # already decoded (extract() called with a Python object)
        media = (content_type or "").split(";")[0].strip().lower()
        if media and media.startswith(_NOT_JSON):
            raise ExtractionError(f"Expected JSON from {source}, got {media}")
        if not (document.strip() if isinstance(document, str) else bytes(document).strip()):
            raise ExtractionError(f"Expected JSON from {source}, got an empty body")
        try:
            return orjson.loads(document)
        except orjson.JSONDecodeError as exc:
            raise ExtractionError(f"Invalid JSON from {source}: {exc}") from exc

    def items_of(self, data: Any, *, url: str | None) -> list[Any]:
        source = url or "the response"
        if self._items is None:
            if not isinstance(data, list):
                raise ExtractionError(
                    f"The JSON from {source} is {_kind(data)}, not a list; set 'items' to the path of the list"
                )
            return data
        try:
            found = self._items.search(data)
        except (JMESPathError, TypeError, ValueError, RecursionError) as exc:
            raise ExtractionError(
                f"The items path {self._items.expression!r} failed on the JSON from {source}: {exc}"
            ) from exc
        if found is None:
            raise ExtractionError(
                f"The items path {self._items.expression!r} matched nothing in the JSON from {source}"
            )
        if not isinstance(found, list):
            raise ExtractionError(
                f"The items path {self._items.expression!r} selected {_kind(found)}, not a list, "
                f"in the JSON from {source}"
            )
        return found


def _size(value: Any) -> int:
    """The size of a record's JSON, roughly (strings by length): what it adds to the results."""
    try:
        return len(orjson.dumps(value, default=str))
    except (TypeError, orjson.JSONEncodeError):  # nested too deep for JSON: the store refuses it later anyway
        return 0


def _kind(value: Any) -> str:
    return {dict: "an object", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def compile_api_strategy(document: ApiStrategyDocument, postprocess: tuple[Postprocess, ...] = ()) -> ApiStrategy:
    """Build the runnable strategy of a validated JSON-API document (its JMESPath is already compiled)."""
    strategy = ApiStrategy(
        document.request, document.items_expression, document.field_expressions, document.key, postprocess
    )
    strategy.pagination, strategy.max_pages = document.paginate, document.max_pages
    return strategy
