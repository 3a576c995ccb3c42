"""Strategy documents as pydantic models: their shape, their checks, their refusals and their JSON Schema, once.

A strategy document is a `CssStrategyDocument` (`"type": "css"`, the default) or an `ApiStrategyDocument`
(`"type": "api"`); a stored strategy may add an `OutputSchemaDocument` and a `FilterConfigDocument`.
Validating one compiles every selector, regex and JMESPath expression in it, so a document that validates is one
that runs; the compiled forms stay on the models (`CssField.query`, ...) for `html.py` and `api.py`, which build
the hot path from them. `parse_strategy`, `parse_output_schema` and `parse_filter_config` refuse a document with
one `StrategyError` sentence naming the field and the selector (see `refusals.py`). `strategy_json_schema()` is
the same models' JSON Schema: editors validate and complete strategy files with it, and the OpenAPI document
embeds its definitions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, get_args
from urllib.parse import urlsplit

import jmespath
from annotated_types import Len
from jmespath.exceptions import JMESPathError
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    PrivateAttr,
    RootModel,
    StringConstraints,
    Tag,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic.json_schema import DEFAULT_REF_TEMPLATE
from typing_extensions import TypeAliasType

from meterlocal.errors import StrategyError
from meterlocal.extract.coerce import SCALARS, coerce_number
from meterlocal.extract.limits import quoted
from meterlocal.extract.patterns import Pattern, PatternError, compile_re2
from meterlocal.extract.refusals import Document, Expect, Loc, Place, first_refusal, refuse
from meterlocal.extract.selectors import Query, compile_css, compile_xpath

__all__ = [
    "MAX_PAGES",
    "ApiPagination",
    "ApiRequestTemplate",
    "ApiStrategyDocument",
    "CssField",
    "CssStrategyDocument",
    "FilterCondition",
    "FilterConfigDocument",
    "NextPageLink",
    "Operator",
    "OutputSchemaDocument",
    "StrategyDocument",
    "StrategyRecord",
    "TypeSpec",
    "compile_pattern",
    "parse_filter_config",
    "parse_output_schema",
    "parse_strategy",
    "strategy_json_schema",
]

_NOT_BLANK = StringConstraints(pattern=r"\S")


def compile_pattern(pattern: str, *, ignore_case: bool = False, capture: bool = True) -> Pattern:
    """Compile a user's regular expression (a `regex` field, a `regex_match` filter) for RE2, in linear time.

    Raise `PatternError` naming the pattern and what RE2 cannot run in it (see `patterns.py`).
    """
    return compile_re2(pattern, ignore_case=ignore_case, capture=capture)


ItemKey = Annotated[
    str | None,
    Expect("key {input} must name one of the fields"),
    Field(description="The field that identifies an item across runs (compare aligns items by it)"),
]


# Pagination (README, "Crawling") ------------------------------------------------------------------------------
MAX_PAGES = 100
"""The most pages one job walks (`max_pages`); past it, discover the URLs and run a batch."""

MaxPages = Annotated[
    int,
    Field(ge=1, le=MAX_PAGES),
    Expect("{subject} must be a whole number from 1 to " + str(MAX_PAGES) + " (pages one job walks), not {input}"),
]


def _next_page(value: Any) -> Any:
    return {"css": value} if isinstance(value, str) else value


class NextPageLink(Document):
    """Where the next page's URL is on a page: a selector and the attribute to read (`href`)."""

    unknown_keys = "unknown next_page key(s) {keys}; allowed: {allowed}"

    css: Annotated[str | None, Expect("next_page css must be a CSS selector string, not {input}")] = Field(
        None, description="CSS selector of the link to the next page (the first match counts)"
    )
    xpath: Annotated[str | None, Expect("next_page xpath must be an XPath expression string, not {input}")] = Field(
        None, description="XPath of the link to the next page (instead of css)"
    )
    attr: Annotated[Annotated[str, _NOT_BLANK], Expect("next_page attr must be an attribute name, not {input}")] = (
        Field("href", description="The attribute holding the URL")
    )

    _query: Query | None = PrivateAttr(None)

    @property
    def query(self) -> Query:
        """The compiled selector."""
        assert self._query is not None
        return self._query

    @model_validator(mode="after")
    def _compile(self) -> Self:
        if (self.css is None) == (self.xpath is None):
            raise StrategyError("next_page needs one of 'css' or 'xpath'", field="next_page")
        if self.css is not None:
            self._query = compile_css(self.css, field="next_page")
        else:
            assert self.xpath is not None
            self._query = compile_xpath(self.xpath, field="next_page")
        return self


NextPageValue = Annotated[
    NextPageLink,
    BeforeValidator(_next_page, json_schema_input_type=str | NextPageLink),
    Expect('next_page must be a CSS selector string or {"css"|"xpath": ..., "attr": "href"}, not {input}'),
]


class ApiPagination(Document):
    """How an API strategy asks for its next page: a counting parameter, or a cursor read from each response."""

    unknown_keys = "unknown paginate key(s) {keys}; allowed: {allowed}"

    param: Annotated[str | None, Expect("paginate param must be a parameter name, not {input}")] = Field(
        None, description="The request parameter that carries the page number or the cursor"
    )
    start: Annotated[int, Expect("paginate start must be a whole number, not {input}")] = Field(
        1, description="The first page's number (counting mode)"
    )
    step: Annotated[int, Field(ge=1), Expect("paginate step must be a whole number of at least 1, not {input}")] = (
        Field(1, description="Added to the page number for each next page (counting mode)")
    )
    stop_when: Annotated[Literal["empty"], Expect("paginate stop_when must be 'empty', not {input}")] = Field(
        "empty", description="Stop at the first page with no items"
    )
    next: Annotated[Annotated[str, _NOT_BLANK] | None, Expect("paginate next must be a JMESPath, not {input}")] = Field(
        None,
        description="JMESPath of the next cursor in each response (cursor mode): sent as `param`, or "
        "followed as a URL when there is no param; null or missing ends the walk",
    )

    _next: Any = PrivateAttr(None)

    @property
    def next_expression(self) -> Any:
        """The compiled `next` (cursor mode), or None (counting mode)."""
        return self._next

    @model_validator(mode="after")
    def _compile(self) -> Self:
        if self.next is not None:
            _jmespath(self.next, "paginate next", field="paginate")
            self._next = jmespath.compile(self.next)
        elif self.param is None:
            raise StrategyError(
                "paginate needs 'param' (a page counter) or 'next' (a cursor JMESPath)", field="paginate"
            )
        return self


def _paginate(value: Any) -> Any:
    return {"next": value} if isinstance(value, str) else value


PaginateValue = Annotated[
    ApiPagination,
    BeforeValidator(_paginate, json_schema_input_type=str | ApiPagination),
    Expect('paginate must be a JMESPath to the next cursor or {"param": ..., "start": ..., ...}, not {input}'),
]


# CSS/XPath strategies -------------------------------------------------------------------------------------------
FieldName = Annotated[str, _NOT_BLANK, Expect("field names must be non-empty strings, got {input}")]


class CssSelector(Document):
    """A container given as `{"css": "..."}`."""

    css: str


class XPathSelector(Document):
    """A container given as `{"xpath": "..."}`."""

    xpath: str


def _css_field(value: Any) -> Any:
    return {"css": value} if isinstance(value, str) else value


class CssField(Document):
    """One field: what to select inside the container and how to read it. A string is short for `{"css": ...}`."""

    css: Annotated[str | None, Expect("{subject} must be a CSS selector string, not {input}")] = Field(
        None, description="CSS selector relative to the container; Scrapy's ::text and ::attr(name) work"
    )
    xpath: Annotated[str | None, Expect("{subject} must be an XPath expression string, not {input}")] = Field(
        None, description="XPath 1.0 expression relative to the container (instead of css)"
    )
    attr: Annotated[Annotated[str, _NOT_BLANK] | None, Expect("{subject} must be an attribute name, not {input}")] = (
        Field(None, description="Read this attribute (of the container itself when there is no selector)")
    )
    all: Annotated[bool, Expect("{subject} must be true or false")] = Field(
        False, description="Every match as a list instead of the first"
    )
    html: Annotated[bool, Expect("{subject} must be true or false")] = Field(
        False, description="The first match's outer HTML instead of its text"
    )
    regex: Annotated[Annotated[str, Len(1)] | None, Expect("{subject} must be a non-empty string")] = Field(
        None, description="Keep group 1 of the first match (or the whole match when the pattern has no group)"
    )
    default: Any = Field(None, description="The value when nothing matched (instead of null)")
    column: Annotated[
        Annotated[str, _NOT_BLANK] | None, Expect("{subject} must be the text of a table header, not {input}")
    ] = Field(None, description="Read inside the cell under the table header with this text")
    fields: Annotated[
        Annotated[dict[FieldName, CssFieldValue], Len(1)] | None,
        Expect("{subject} must be a non-empty object mapping field names to selectors"),
    ] = Field(None, description="Nested records: field names mapped to selectors inside each match")

    _query: Query | None = PrivateAttr(None)
    _regex: Pattern | None = PrivateAttr(None)

    @property
    def query(self) -> Query | None:
        """The compiled `css` or `xpath` (None: the container itself)."""
        return self._query

    @property
    def pattern(self) -> Pattern | None:
        """The compiled `regex`."""
        return self._regex

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.css is not None and self.xpath is not None:
            raise refuse("{subject} gives both 'css' and 'xpath'; use one")
        if self.html and self.attr is not None:
            raise refuse("{subject} gives both 'attr' and 'html'; use one")
        if self.fields is not None and (self.attr is not None or self.html or self.regex is not None):
            raise refuse("{subject}: nested 'fields' cannot be combined with attr, html or regex")
        if self.regex is not None:
            try:
                self._regex = compile_pattern(self.regex)
            except PatternError as exc:
                raise refuse("{subject}: {error}", error=str(exc)) from exc
        return self

    def compile_selector(self, path: str) -> None:
        """Compile the selector of this field and of its nested fields; `path` names it in messages."""
        query = None
        if self.css is not None:
            query = compile_css(self.css, field=path)
        elif self.xpath is not None:
            query = compile_xpath(self.xpath, field=path)
        if query is not None and query.pseudo is not None and (self.attr is not None or self.html):
            raise StrategyError(
                f"field {path!r}: selector {query.source!r} already ends in ::{query.pseudo}; drop 'attr'/'html'",
                field=path,
                selector=query.source,
            )
        self._query = query
        for name, nested in (self.fields or {}).items():
            nested.compile_selector(_field_path(name, prefix=path + "."))


def _field_path(name: str, *, prefix: str) -> str:
    """The dotted path of field `name`; refuse a name holding NUL."""
    if "\x00" in name:  # it would end the name early in C code and in most consumers of the results
        raise StrategyError(f"field name {name!r} contains a NUL character", field=prefix + name)
    return prefix + name


CssFieldValue = Annotated[
    CssField,
    BeforeValidator(_css_field, json_schema_input_type=str | CssField),
    Expect("{subject} must be a CSS selector string or an object with css/xpath/attr/..., not {input}"),
]
CssField.model_rebuild()  # its nested `fields` hold CssFieldValue, defined just above


class CssStrategyDocument(Document):
    """A CSS/XPath strategy: a container selector for the repeated item, and named field selectors inside it."""

    unknown_keys = "unknown strategy key(s) {keys}; a CSS strategy takes {allowed}"

    type: Annotated[Literal["css"], Expect("strategy type must be 'css' or 'api', not {input}")] = Field(
        "css", description="css (the default) or api"
    )
    container: Annotated[
        str | CssSelector | XPathSelector | None,
        Expect('container must be a CSS selector string, {"css": "..."} or {"xpath": "..."}, not {input}', whole=True),
    ] = Field(None, description="The repeated item: one result per match (none: the page is one item)")
    fields: Annotated[
        dict[FieldName, CssFieldValue],
        Len(1),
        Expect("{subject} must be a non-empty object mapping field names to selectors"),
    ] = Field(description="Field names mapped to a CSS selector string or a field object")
    key: ItemKey = None
    next_page: NextPageValue | None = Field(
        None, description="The link to the next page of a listing; one job then walks up to max_pages pages"
    )
    max_pages: MaxPages = Field(1, description=f"Pages one job walks through next_page (1 to {MAX_PAGES})")

    _container: Query | None = PrivateAttr(None)

    @property
    def container_query(self) -> Query | None:
        """The compiled container (None: the page is one item)."""
        return self._container

    @field_validator("container")
    @classmethod
    def _valid_container(cls, container: str | CssSelector | XPathSelector | None) -> Any:
        # Checked in field order, so a bad container is reported before a problem in the fields (as it reads).
        _container_query(container)
        return container

    @model_validator(mode="after")
    def _compile(self) -> Self:
        self._container = _container_query(self.container)  # again, to keep it: one selector, once per document
        for name, field in self.fields.items():
            field.compile_selector(_field_path(name, prefix=""))
        if self.key is not None and self.key not in self.fields:
            raise StrategyError(
                f"key {self.key!r} must name one of the fields: {', '.join(self.fields)}", field=self.key
            )
        return self


def _container_query(container: str | CssSelector | XPathSelector | None) -> Query | None:
    if container is None:
        return None
    if isinstance(container, XPathSelector):
        query = compile_xpath(container.xpath)
    else:
        query = compile_css(container if isinstance(container, str) else container.css)
    if query.pseudo is not None:
        raise StrategyError(
            f"container selector {query.source!r} must select elements; remove the ::{query.pseudo} pseudo-element",
            selector=query.source,
        )
    return query


# JSON-API strategies --------------------------------------------------------------------------------------------
def _http_url(url: str | None) -> str | None:
    if url is not None and urlsplit(url).scheme not in ("http", "https"):
        raise ValueError("not an absolute http(s) URL")
    return url


def _upper(method: Any) -> Any:
    return method.upper() if isinstance(method, str) else method


JsonScalar = Annotated[
    str | int | float | bool | None, Expect("{subject} must be a string, number or boolean, not {input}", whole=True)
]
JMESPathExpression = Annotated[
    str, _NOT_BLANK, Expect("{subject} must be a non-empty JMESPath expression, not {input}")
]


class ApiRequestTemplate(Document):
    """The request an API strategy sends; a job's `url` replaces `url` and its `parameters` override by key."""

    unknown_keys = "unknown request key(s) {keys}; allowed: {allowed}"

    url: Annotated[
        str | None, AfterValidator(_http_url), Expect("{subject} must be an absolute http(s) URL, not {input}")
    ] = Field(None, description="The endpoint (absolute http or https); a job's url replaces it")
    method: Annotated[
        Literal["GET", "POST"], BeforeValidator(_upper), Expect("{subject} must be GET or POST, not {input}")
    ] = Field("GET", description="GET (the default) or POST")
    headers: Annotated[dict[str, Any] | None, Expect("{subject} must be an object")] = Field(
        None, description="Request headers (values are sent as strings)"
    )
    params: Annotated[dict[str, JsonScalar] | None, Expect("{subject} must be an object")] = Field(
        None, description="Query parameters and their defaults (null leaves one out)"
    )
    json_: Annotated[
        dict[str, Any] | None, Expect("{subject} must be an object (its keys are the body parameters)")
    ] = Field(None, alias="json", description="The JSON body of a POST; its keys are parameters too")

    @model_validator(mode="after")
    def _body_needs_post(self) -> Self:
        if self.json_ is not None and self.method != "POST":
            raise refuse("{subject} (a body) needs method POST", at=("json",))
        return self


class ApiStrategyDocument(Document):
    """A JSON-API strategy: the request to send, the JMESPath of the item list and a JMESPath per field."""

    unknown_keys = "unknown strategy key(s) {keys}; an API strategy takes {allowed}"

    type: Literal["api"] = Field(description="api")
    request: Annotated[ApiRequestTemplate, Expect("an API strategy needs a 'request' object with at least 'url'")]
    items: Annotated[
        Annotated[str, _NOT_BLANK] | None, Expect("items path must be a non-empty JMESPath expression, not {input}")
    ] = Field(None, description="JMESPath of the list of items in the response (none: the response is the list)")
    fields: Annotated[
        Annotated[dict[str, JMESPathExpression], Len(1)] | None,
        Expect("{subject} must be a non-empty object mapping field names to JMESPath expressions"),
    ] = Field(None, description="Field names mapped to JMESPath relative to an item (none: items as they are)")
    key: ItemKey = None
    paginate: PaginateValue | None = Field(
        None, description="How to ask for the next page; one job then walks up to max_pages pages"
    )
    max_pages: MaxPages = Field(1, description=f"Pages one job walks through paginate (1 to {MAX_PAGES})")

    _items: Any = PrivateAttr(None)
    _fields: dict[str, Any] | None = PrivateAttr(None)

    @property
    def items_expression(self) -> Any:
        """The compiled `items` (a jmespath ParsedResult), or None."""
        return self._items

    @property
    def field_expressions(self) -> dict[str, Any] | None:
        """The compiled `fields`, or None."""
        return self._fields

    # Checked in field order, so the first problem reported is the first one a person reads.
    @field_validator("items")
    @classmethod
    def _valid_items(cls, items: str | None) -> str | None:
        if items is not None:
            _jmespath(items, "items path", field="items")
        return items

    @field_validator("fields")
    @classmethod
    def _valid_fields(cls, fields: dict[str, str] | None) -> dict[str, str] | None:
        for name, expression in (fields or {}).items():
            _jmespath(expression, "{subject}:", field=name, at=(name,))
        return fields

    @model_validator(mode="after")
    def _compile(self) -> Self:
        # jmespath caches what it parsed, so keeping the compiled forms costs a lookup each.
        self._items = None if self.items is None else jmespath.compile(self.items)
        if self.fields is not None:
            self._fields = {name: jmespath.compile(expression) for name, expression in self.fields.items()}
        if self.key is not None and self.fields is not None and self.key not in self.fields:
            raise StrategyError(f"key {self.key!r} must name one of the fields", field=self.key)
        return self


def _jmespath(expression: str, what: str, *, field: str, at: Loc = ()) -> None:
    try:
        jmespath.compile(expression)
    except RecursionError:  # `!!!...!a`: jmespath's parser recurses once per operator
        raise refuse(
            "{what} {expression} nests too deeply to be compiled",
            at=at,
            what=what,
            expression=quoted(expression),
            field=field,
            selector=expression,
        ) from None
    except JMESPathError as exc:
        message = " ".join(str(exc).split())
        raise refuse(
            "{what} {expression} is not valid JMESPath: {message}",
            at=at,
            what=what,
            expression=repr(expression),
            message=message,
            field=field,
            selector=expression,
        ) from exc


def _kind(document: Any) -> str | None:
    # Anything but "api" is validated as CSS, whose `type` then names what it got.
    if not isinstance(document, dict):
        return None
    return "api" if document.get("type", "css") == "api" else "css"


class StrategyDocument(RootModel[CssStrategyDocument | ApiStrategyDocument]):
    """A strategy document: CSS/XPath (`"type": "css"`, the default) or JSON API (`"type": "api"`)."""

    root: Annotated[
        Annotated[CssStrategyDocument, Tag("css")] | Annotated[ApiStrategyDocument, Tag("api")],
        Discriminator(_kind),
    ]


def _strategy_place(loc: Loc, document: Any) -> tuple[str, str | None]:
    """`field 'offers.price': 'attr'`, `'request.url'`, ... and the field path."""
    if loc and loc[0] in ("css", "api"):
        loc = loc[1:]  # the tag of the discriminated union
    names: list[str] = []
    while len(loc) >= 2 and loc[0] == "fields":
        names.append(str(loc[1]))
        loc = loc[2:]
    if names:
        path = ".".join(names)
        return f"field {path!r}" + (f": {'.'.join(map(str, loc))!r}" if loc else ""), path
    if len(loc) == 1:
        return repr(loc[0]), None
    # request.url, request.params['page']: a key of a mapping is written the way Python indexes it
    words = ".".join(map(str, loc[:2])) + "".join(f"[{part!r}]" for part in loc[2:])
    return (words or "the strategy"), None


# output_schema --------------------------------------------------------------------------------------------------
_SHAPE = "{subject} must be a type name, a nested object or a one-element list, not {input}"


def _type_name(name: str) -> str:
    normal = name.strip().lower()
    if normal not in SCALARS:
        raise ValueError("unknown type")
    return normal


TypeName = Annotated[
    str,
    AfterValidator(_type_name),
    Expect(f"{{subject}} has unknown type {{input}}; use one of: {', '.join(SCALARS)}, or a nested object"),
    WithJsonSchema({"enum": list(SCALARS), "description": "A type name"}),
]


def _spec_kind(spec: Any) -> str | None:
    if isinstance(spec, str):
        return "name"
    if isinstance(spec, list):
        return "list"
    return "object" if isinstance(spec, dict) else None


if TYPE_CHECKING:  # mypy reads the recursive alias; pydantic needs TypeAliasType to name it in the JSON Schema
    TypeSpec = str | list["TypeSpec"] | dict[str, "TypeSpec"]
else:
    TypeSpec = TypeAliasType(
        "TypeSpec",
        Annotated[
            Annotated[TypeName, Tag("name")]
            | Annotated[list["TypeSpec"], Len(1, 1), Expect(_SHAPE), Tag("list")]
            | Annotated[dict[str, "TypeSpec"], Len(1), Expect(_SHAPE), Tag("object")],
            Discriminator(_spec_kind),
            Expect(_SHAPE),
        ],
    )


class OutputSchemaDocument(RootModel[dict[str, TypeSpec]]):
    """output_schema: field names mapped to the type their values are coerced to (a name, `[type]`, an object)."""

    root: Annotated[
        dict[str, TypeSpec], Expect("output_schema must be an object mapping field names to types, not {input}")
    ]


def _schema_place(loc: Loc, schema: Any) -> tuple[str, str | None]:
    path = ""
    for part in loc[::2]:  # keys (and list indexes) alternate with the tags of the type union
        path = f"{path}[]" if isinstance(part, int) else f"{path}.{part}" if path else str(part)
    return (f"output_schema field {path!r}" if path else "output_schema"), path or None


# filter_config --------------------------------------------------------------------------------------------------
Operator = Literal[
    "contains", "not_contains", "equals", "not_equals", "regex_match", "exists", "not_exists", "gt", "lt"
]


class FilterCondition(Document):
    """One condition an item must pass: `field` (a dotted path), `operator`, `value`, `case_sensitive`."""

    field: Annotated[str, Len(1), Expect("{owner} needs a 'field' naming the field to test")] = Field(
        description="The field to test (a dotted path reaches into nested records)"
    )
    operator: Annotated[
        Operator, Expect(f"{{owner}} has unknown operator {{input}}; use one of: {', '.join(get_args(Operator))}")
    ]
    value: Any = Field(None, description="What to compare with (not for exists / not_exists)")
    case_sensitive: Annotated[bool, Expect("{owner}: case_sensitive must be true or false")] = Field(
        False, description="Compare strings with case (they ignore it by default)"
    )

    _pattern: Pattern | None = PrivateAttr(None)
    _limit: float | None = PrivateAttr(None)

    @property
    def pattern(self) -> Pattern | None:
        """The compiled `value` of a regex_match."""
        return self._pattern

    @property
    def limit(self) -> float | None:
        """The number a gt / lt compares with."""
        return self._limit

    @model_validator(mode="after")
    def _value_fits(self) -> Self:
        operator, value = self.operator, self.value
        if operator in ("exists", "not_exists"):
            return self
        if value is None:
            raise refuse("{subject}: operator {operator} needs a 'value'", operator=repr(operator))
        if operator in ("gt", "lt"):
            self._limit = coerce_number(value)
            if self._limit is None:
                raise refuse(
                    "{subject}: operator {operator} needs a numeric value, not {input}",
                    operator=repr(operator),
                    input=repr(value),
                )
        elif operator == "regex_match":
            if not isinstance(value, str):
                raise refuse("{subject}: regex_match needs a regular expression string, not {input}", input=repr(value))
            try:  # no groups: a filter only asks whether it matches, which RE2 answers faster without them
                self._pattern = compile_pattern(value, ignore_case=not self.case_sensitive, capture=False)
            except PatternError as exc:
                raise refuse("{subject}: {error}", error=str(exc)) from exc
        return self


class FilterConfigDocument(Document):
    """filter_config: keep the items that pass `all` (or `any`) of the conditions."""

    mode: Annotated[Literal["all", "any"], Expect("{owner} mode must be 'all' or 'any', not {input}")] = Field(
        "all", description="all (the default): every condition; any: at least one"
    )
    conditions: Annotated[
        list[
            Annotated[
                FilterCondition, Expect("{subject} must be an object with field, operator and value, not {input}")
            ]
        ],
        Len(1),
        Expect("{owner} needs a non-empty 'conditions' list"),
    ]


def _filter_place(loc: Loc, config: Any) -> tuple[str, str | None]:
    if len(loc) < 2 or loc[0] != "conditions" or not isinstance(loc[1], int):
        return "filter_config", None
    index = loc[1]
    words = f"filter_config condition {index + 1}"
    conditions = config.get("conditions") if isinstance(config, dict) else None
    condition = conditions[index] if isinstance(conditions, list) and index < len(conditions) else None
    field = condition.get("field") if isinstance(condition, dict) else None
    if isinstance(field, str) and field:
        words += f" (field {field!r})"
    rest = ".".join(map(str, loc[2:]))
    return words + (f": {rest!r}" if rest else ""), None


# Parsing and the JSON Schema ------------------------------------------------------------------------------------
_STRATEGY = TypeAdapter(StrategyDocument)
_OUTPUT_SCHEMA = TypeAdapter(OutputSchemaDocument)
_FILTER_CONFIG = TypeAdapter(
    Annotated[FilterConfigDocument, Expect("filter_config must be an object with 'mode' and 'conditions', not {input}")]
)


def _parse(adapter: TypeAdapter[Any], data: Any, place: Place) -> Any:
    try:
        return adapter.validate_python(data)
    except PydanticValidationError as exc:
        refusal = first_refusal(exc, place, data)
    raise refusal  # outside the except: a passed-through selector error keeps its own cause


def parse_strategy(document: Any) -> CssStrategyDocument | ApiStrategyDocument:
    """Validate and compile a strategy document. Raise `StrategyError` naming the field and the selector."""
    parsed: StrategyDocument = _parse(_STRATEGY, document, _strategy_place)
    return parsed.root


def parse_output_schema(schema: Any) -> OutputSchemaDocument | None:
    """Validate an output_schema (None: there is none). Raise `StrategyError` naming the field."""
    return None if schema is None else _parse(_OUTPUT_SCHEMA, schema, _schema_place)


def parse_filter_config(config: Any) -> FilterConfigDocument | None:
    """Validate and compile a filter_config (None: there is none). Raise `StrategyError` naming the condition."""
    return None if config is None else _parse(_FILTER_CONFIG, config, _filter_place)


class StrategyRecord(Document):
    """A strategy file holding more than the document: what `meterlocal strategy add` and `create_strategy` take."""

    name: str | None = Field(None, description="The name to save it under")
    url: str | None = Field(None, description="The page the strategy was written for")
    description: str | None = Field(None, description="What the strategy extracts")
    strategy: StrategyDocument
    output_schema: OutputSchemaDocument | None = None
    filter_config: FilterConfigDocument | None = None


def strategy_json_schema(*, ref_template: str = DEFAULT_REF_TEMPLATE) -> dict[str, Any]:
    """The JSON Schema of a strategy file: a strategy document, or a `StrategyRecord` that holds one.

    The parts are definitions (`StrategyDocument`, `OutputSchemaDocument`, `FilterConfigDocument`, ...) under
    `$defs`; to embed them in an OpenAPI document, pass `ref_template="#/components/schemas/{model}"` and move
    `$defs` into `components/schemas`.
    """
    schema = TypeAdapter(StrategyDocument | StrategyRecord).json_schema(ref_template=ref_template)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "meterlocal strategy",
        "description": "A meterlocal strategy document (css or api), or a record holding one with its "
        "output_schema and filter_config.",
        **schema,
    }
