"""The pure rules of workflows: what a definition must be, the order its nodes run in, and what a node reads.

A definition is refused (`ValidationError`, naming the node or edge) when a node key is missing or repeated, an
edge names a node that does not exist, the edges make a cycle, a start node (`static_urls`) has an upstream or a
downstream node has none, a `url_field` is not among the upstream strategy's fields, a `parameter_config` or a
`filter_config` is malformed, or `max_urls_per_node` is out of bounds.

What a downstream node scrapes comes from its upstream nodes' completed jobs: each edge keeps the items that pass
its `filter_config`; `url_field` reads a URL (or a list of URLs) from each item, resolved against the URL of the
upstream page it came from; `parameter_config` maps values of each item (`source_field` paths such as
`"listing.results[*].id"` or `"id"`) to API parameters, one job per item (`execution_mode: "per_result"`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import orjson

from meterlocal import arguments
from meterlocal.errors import MeterlocalError, ValidationError
from meterlocal.extract.filters import compile_filter_config
from meterlocal.workflows.records import (
    DEFAULT_MAX_URLS_PER_NODE,
    MAX_MAX_URLS_PER_NODE,
    Workflow,
    WorkflowEdge,
    WorkflowNode,
)

__all__ = [
    "EXECUTION_MODES",
    "NodeInputs",
    "Target",
    "build_workflow",
    "check_max_urls_per_node",
    "check_url_fields",
    "node_inputs",
    "run_order",
    "upstream_fingerprint",
]

EXECUTION_MODES = ("per_result",)
"""How `parameter_config` maps upstream results to jobs: one job per upstream item."""

_INPUT_TYPES = ("static_urls", "upstream_urls", "upstream_data")
_NODE_KEYS = {
    "node_key",
    "strategy_id",
    "input_type",
    "static_urls",
    "url_field",
    "static_parameters",
    "parameter_config",
    "node_id",
}
_EDGE_KEYS = {"source_node_key", "target_node_key", "filter_config"}


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(f"{where} must be an object, not {type(value).__name__}")
    return dict(value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{where} must be a non-empty string, not {value!r}")
    return value.strip()


def _node(raw: Any, i: int, *, allow_file_urls: bool) -> WorkflowNode:
    node = _object(raw, f"nodes[{i}]")
    key = _text(node.get("node_key"), f"nodes[{i}].node_key")
    where = f"node {key!r}"
    unknown = sorted(set(node) - _NODE_KEYS)
    if unknown:
        raise ValidationError(
            f"{where}: unknown field(s) {', '.join(unknown)}; a node has {', '.join(sorted(_NODE_KEYS))}"
        )
    input_type = node.get("input_type")
    if input_type is None:  # inferred as meter-sdk's WorkflowNode.to_dict() would write it
        input_type = (
            "static_urls" if node.get("static_urls") else "upstream_urls" if node.get("url_field") else "upstream_data"
        )
    if input_type not in _INPUT_TYPES:
        raise ValidationError(f"{where}: input_type must be one of {', '.join(_INPUT_TYPES)}, not {input_type!r}")
    static_urls = node.get("static_urls")
    if input_type == "static_urls":
        if not isinstance(static_urls, list) or not static_urls:
            raise ValidationError(f"{where}: a static_urls node needs static_urls, a non-empty list of URLs")
        static_urls = [
            arguments.check_url(u, f"{where} static_urls[{j}]", allow_file_urls=allow_file_urls)
            for j, u in enumerate(static_urls)
        ]
    elif static_urls:
        raise ValidationError(f"{where}: static_urls belong to a static_urls node, not an {input_type} one")
    url_field = node.get("url_field")
    if input_type == "upstream_urls":
        url_field = _text(url_field, f"{where} url_field")
    elif url_field is not None:
        raise ValidationError(f"{where}: url_field belongs to an upstream_urls node, not a {input_type} one")
    parameters = node.get("static_parameters")
    if parameters is not None:
        parameters = _object(parameters, f"{where} static_parameters")
    config = node.get("parameter_config")
    if config is not None:
        config = _parameter_config(config, where)
    elif input_type == "upstream_data":
        raise ValidationError(
            f"{where}: an upstream_data node needs a parameter_config mapping upstream values to parameters "
            "(or give it a url_field to read URLs from upstream)"
        )
    return WorkflowNode(
        node_key=key,
        node_id=str(node.get("node_id") or uuid.uuid4()),
        strategy_id=arguments.check_id(_text(node.get("strategy_id"), f"{where} strategy_id"), "strategy_id"),
        input_type=input_type,
        static_urls=static_urls,
        url_field=url_field,
        static_parameters=parameters,
        parameter_config=config,
    )


def _parameter_config(raw: Any, where: str) -> dict[str, Any]:
    config = _object(raw, f"{where} parameter_config")
    unknown = sorted(set(config) - {"mappings", "execution_mode"})
    if unknown:
        raise ValidationError(f"{where} parameter_config: unknown field(s) {', '.join(unknown)}")
    mode = config.setdefault("execution_mode", "per_result")
    if mode not in EXECUTION_MODES:
        raise ValidationError(
            f"{where} parameter_config: execution_mode must be {' or '.join(map(repr, EXECUTION_MODES))}, not {mode!r}"
        )
    mappings = config.get("mappings")
    if not isinstance(mappings, list) or not mappings:
        raise ValidationError(f"{where} parameter_config: mappings must be a non-empty list")
    for j, mapping in enumerate(mappings):
        item = _object(mapping, f"{where} parameter_config.mappings[{j}]")
        _text(item.get("source_field"), f"{where} parameter_config.mappings[{j}].source_field")
        _text(item.get("target_param"), f"{where} parameter_config.mappings[{j}].target_param")
    return config


def _edge(raw: Any, i: int) -> WorkflowEdge:
    edge = _object(raw, f"edges[{i}]")
    unknown = sorted(set(edge) - _EDGE_KEYS)
    if unknown:
        raise ValidationError(f"edges[{i}]: unknown field(s) {', '.join(unknown)}")
    source = _text(edge.get("source_node_key"), f"edges[{i}].source_node_key")
    target = _text(edge.get("target_node_key"), f"edges[{i}].target_node_key")
    config = edge.get("filter_config")
    if config is not None:
        try:
            compile_filter_config(config)
        except MeterlocalError as exc:
            raise ValidationError(f"edge {source!r} -> {target!r}: filter_config: {exc}") from None
    return WorkflowEdge(source_node_key=source, target_node_key=target, filter_config=config)


def check_max_urls_per_node(value: Any) -> int:
    """The fan-out bound of a workflow: an integer from 1 to `MAX_MAX_URLS_PER_NODE`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MAX_URLS_PER_NODE:
        raise ValidationError(f"max_urls_per_node must be an integer from 1 to {MAX_MAX_URLS_PER_NODE}, not {value!r}")
    return value


def build_workflow(
    *,
    workflow_id: str,
    name: Any,
    description: Any,
    nodes: Any,
    edges: Any,
    max_urls_per_node: Any,
    now: datetime,
    allow_file_urls: bool = False,
) -> Workflow:
    """A checked workflow from a definition (meter-sdk's `Workflow.to_dict()`), or `ValidationError` naming the
    fault. Strategies and their fields are checked by the caller (`check_url_fields`)."""
    if not isinstance(nodes, list) or not nodes:
        raise ValidationError("nodes must be a non-empty list of nodes")
    if edges is None:
        edges = []
    if not isinstance(edges, list):
        raise ValidationError("edges must be a list of edges")
    limit = check_max_urls_per_node(DEFAULT_MAX_URLS_PER_NODE if max_urls_per_node is None else max_urls_per_node)
    parsed = [_node(raw, i, allow_file_urls=allow_file_urls) for i, raw in enumerate(nodes)]
    keys = [node.node_key for node in parsed]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValidationError(f"node keys must be unique; {', '.join(map(repr, repeated))} is given twice")
    links = [_edge(raw, i) for i, raw in enumerate(edges)]
    seen: set[tuple[str, str]] = set()
    for edge in links:
        for end in (edge.source_node_key, edge.target_node_key):
            if end not in keys:
                raise ValidationError(
                    f"edge {edge.source_node_key!r} -> {edge.target_node_key!r} names unknown node {end!r}; "
                    f"the nodes are {', '.join(map(repr, keys))}"
                )
        pair = (edge.source_node_key, edge.target_node_key)
        if pair in seen or pair[0] == pair[1]:
            raise ValidationError(f"edge {pair[0]!r} -> {pair[1]!r} is given twice or joins a node to itself")
        seen.add(pair)
    workflow = Workflow(
        workflow_id=workflow_id,
        name=arguments.check_name(name),
        description=None if description is None else arguments.check_description(description),
        max_urls_per_node=limit,
        nodes=parsed,
        edges=links,
        created_at=now,
        updated_at=now,
    )
    run_order(workflow)  # refuses a cycle
    for node in parsed:
        upstream = _sources(workflow, node.node_key)
        if node.input_type == "static_urls" and upstream:
            raise ValidationError(
                f"node {node.node_key!r} has static_urls, so it is a start node; it cannot also take the results "
                f"of {', '.join(map(repr, upstream))}"
            )
        if node.input_type != "static_urls" and not upstream:
            raise ValidationError(
                f"node {node.node_key!r} ({node.input_type}) has no upstream node: add an edge to it, or give it "
                "static_urls"
            )
    return workflow


def _sources(workflow: Workflow, key: str) -> list[str]:
    return [edge.source_node_key for edge in workflow.edges if edge.target_node_key == key]


def run_order(workflow: Workflow) -> list[WorkflowNode]:
    """The nodes in an order where every node comes after its upstream nodes (definition order among equals).
    Raise `ValidationError` naming the nodes of a cycle."""
    pending = {node.node_key: set(_sources(workflow, node.node_key)) for node in workflow.nodes}
    order: list[WorkflowNode] = []
    while pending:
        ready = [node for node in workflow.nodes if node.node_key in pending and not pending[node.node_key]]
        if not ready:
            raise ValidationError(
                f"the edges make a cycle through {', '.join(map(repr, sorted(pending)))}; a workflow is a DAG"
            )
        for node in ready:
            order.append(node)
            del pending[node.node_key]
            for rest in pending.values():
                rest.discard(node.node_key)
    return order


def check_url_fields(workflow: Workflow, fields: Mapping[str, Sequence[str]]) -> None:
    """Refuse a `url_field` (or a mapping's `source_field`) that is not a field of the upstream node's strategy.
    `fields` holds each strategy's output field names; an empty list means "any" (an API strategy that keeps
    whole items)."""
    for node in workflow.nodes:
        for source in _sources(workflow, node.node_key):
            upstream = workflow.node(source)
            names = list(fields.get(upstream.strategy_id, ()))
            if not names:
                continue
            wanted = []
            if node.url_field is not None:
                wanted.append(("url_field", node.url_field))
            wanted += [
                ("source_field", _item_path(mapping["source_field"], source))
                for mapping in (node.parameter_config or {}).get("mappings", ())
            ]
            for label, path in wanted:
                if path.split(".")[0] not in names:
                    raise ValidationError(
                        f"node {node.node_key!r}: {label} {path!r} is not a field of upstream node {source!r}'s "
                        f"strategy ({upstream.strategy_id}); its fields are {', '.join(names)}"
                    )


def _item_path(source_field: str, upstream_key: str) -> str:
    """`"listing.results[*].id"` (or `"results[*].id"`, or `"id"`) -> `"id"`, the path inside one item."""
    for prefix in (f"{upstream_key}.results[*].", "results[*].", f"{upstream_key}."):
        if source_field.startswith(prefix):
            return source_field[len(prefix) :]
    return source_field


def _value(item: Mapping[str, Any], path: str) -> Any:
    if path in item:
        return item[path]
    value: Any = item
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


@dataclass(frozen=True, slots=True)
class Target:
    """One job a node will create: a page (None: the strategy's own URL) and its API parameters."""

    url: str | None
    parameters: dict[str, Any] | None = None

    @property
    def key(self) -> bytes:
        return orjson.dumps([self.url, self.parameters], option=orjson.OPT_SORT_KEYS)


@dataclass
class NodeInputs:
    """What one node of a run will scrape, and what was left out on the way."""

    targets: list[Target] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


Upstream = Mapping[str, Sequence[tuple[str, Sequence[dict[str, Any]]]]]
"""Per upstream node key: its completed jobs as (page URL, items), in job order."""


def node_inputs(
    workflow: Workflow, node: WorkflowNode, upstream: Upstream, *, allow_file_urls: bool = False
) -> NodeInputs:
    """The targets of `node` in this run: its static URLs, or what its upstream results give (see the module)."""
    inputs = NodeInputs()
    static = dict(node.static_parameters) if node.static_parameters else None
    if node.input_type == "static_urls":
        inputs.targets = [Target(url, static) for url in node.static_urls or ()]
        return inputs
    mappings = (node.parameter_config or {}).get("mappings", ())
    for edge in workflow.edges:
        if edge.target_node_key != node.node_key:
            continue
        kept = compile_filter_config(edge.filter_config)
        for page_url, items in upstream.get(edge.source_node_key, ()):
            chosen = kept.apply(list(items), []) if kept is not None else list(items)
            for item in chosen:
                parameters = dict(static) if static else {}
                missing = False
                for mapping in mappings:
                    value = _value(item, _item_path(mapping["source_field"], edge.source_node_key))
                    if value is None:
                        missing = True
                    parameters[mapping["target_param"]] = value
                if missing:
                    inputs.warnings.append(
                        f"an item of {edge.source_node_key!r} ({page_url}) lacks a mapped source_field; skipped"
                    )
                    continue
                if node.url_field is None:
                    inputs.targets.append(Target(None, parameters or None))
                    continue
                for url in _urls(item, node.url_field, page_url, inputs, allow_file_urls=allow_file_urls):
                    inputs.targets.append(Target(url, parameters or None))
    return inputs


def _urls(
    item: Mapping[str, Any], url_field: str, page_url: str, inputs: NodeInputs, *, allow_file_urls: bool
) -> Iterable[str]:
    value = _value(item, url_field)
    for raw in value if isinstance(value, list) else [value]:
        if not isinstance(raw, str) or not raw.strip():
            continue  # an item without a link: nothing to follow
        try:
            yield arguments.check_url(urljoin(page_url, raw.strip()), url_field, allow_file_urls=allow_file_urls)
        except ValidationError as exc:
            inputs.warnings.append(f"{exc}; skipped")


def upstream_fingerprint(parts: Iterable[tuple[str, str | None]]) -> str:
    """A fingerprint of a node's upstream results: (job URL, content hash) of every upstream job, in order."""
    digest = hashlib.blake2b(digest_size=16)
    for url, content in parts:
        digest.update(orjson.dumps([url, content]))
    return digest.hexdigest()
