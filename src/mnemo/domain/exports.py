"""Memory exports (spec §1.1 rows 14–15): which exports a lookup selects, and the deterministic exporter.

The hosted Platform has an LLM write the selected memories into the caller's JSON schema. mnemo
fills the schema by rule instead, so an export works offline and the same memories always give the
same export. For a schema of type object, each property is filled by its name (compared without case,
``_`` or ``-``):

* ``memories``, ``items``, ``facts``, ``results``, ``entries``, ``records``, ``data``, ``notes`` (an
  array, or untyped): the exported memories. An item schema with properties gets, per property, the
  memory's field of that name (``id``/``memory_id``; ``memory``/``text``/``content``/``fact``;
  ``user_id``, ``agent_id``, ``app_id``, ``run_id``/``session_id``; ``categories``/``tags``;
  ``metadata``; ``created_at``/``timestamp``/``date``; ``updated_at``; ``expiration_date``; ``hash``;
  ``actor_name``/``speaker``; ``attributed_to``); a string item schema gets the memory's text; any
  other item schema gets the whole memory object, as get-all returns it.
* ``user_id``, ``agent_id``, ``app_id``, ``run_id``/``session_id``: the id the export's filters pin
  by equality, else the one every exported memory shares, else null.
* ``count``, ``total``, ``memory_count``, ``total_memories``, ``num_memories``: how many memories.
* ``categories``, ``tags``: the memories' distinct categories, sorted.
* Anything else, and any value whose type the property's schema refuses: the property's ``default``,
  else null ("nothing known").

When no property received the memories, they are added as ``memories`` (unless the schema says
``additionalProperties: false``). A schema that is not an object schema (free text, or a JSON string
that is not an object) gives ``{"memories": [...]}``. ``export_instructions`` are kept with the
export but not interpreted. Local ``$ref``s (``#/$defs/...``) and ``anyOf``/``oneOf`` are followed.

Bounds: at most :data:`MAX_EXPORT_MEMORIES` memories (more → 413, narrow the filters) and about
:data:`MAX_EXPORT_CHARS` characters of exported JSON (more → 413).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from mnemo.domain.memories import MemoryRecord, Scope, memory_to_wire
from mnemo.errors import BadRequest, PayloadTooLarge
from mnemo.filters import And, EntityCondition, FilterError, Node, fields_named, parse_filter

MAX_EXPORT_MEMORIES = 10_000
MAX_EXPORT_CHARS = 16 * 1024 * 1024

SCHEMA_REQUIRED = (
    "Schema is required: send schema, the JSON schema of the export (an object, or a string holding one),"
    ' e.g. {"schema": {"type": "object", "properties": {"facts": {"type": "array", "items": {"type": "string"}}}}}.'
)

#: What ``POST /v1/exports/get/`` filters may name: the export's pinned entity ids and its timestamps.
LOOKUP_FIELDS: tuple[str, ...] = ("user_id", "agent_id", "app_id", "run_id", "created_at", "updated_at")

_LIST_NAMES = frozenset({"memories", "items", "facts", "results", "entries", "records", "data", "notes"})
_COUNT_NAMES = frozenset({"count", "total", "memorycount", "totalmemories", "nummemories"})
_CATEGORY_NAMES = frozenset({"categories", "tags"})
_SCOPE_NAMES = {"userid": "user_id", "agentid": "agent_id", "appid": "app_id", "runid": "run_id", "sessionid": "run_id"}
#: Item property name (normalised) → key of the memory's wire object.
_ITEM_FIELDS = {
    "id": "id",
    "memoryid": "id",
    "memory": "memory",
    "text": "memory",
    "content": "memory",
    "fact": "memory",
    "userid": "user_id",
    "agentid": "agent_id",
    "appid": "app_id",
    "runid": "session_id",
    "sessionid": "session_id",
    "categories": "categories",
    "tags": "categories",
    "metadata": "metadata",
    "createdat": "created_at",
    "timestamp": "created_at",
    "date": "created_at",
    "updatedat": "updated_at",
    "expirationdate": "expiration_date",
    "hash": "hash",
    "actorname": "actor_name",
    "speaker": "actor_name",
    "attributedto": "attributed_to",
}
_MAX_REF_HOPS = 8


def require_schema(schema: object) -> object:
    """The export schema, or 400 when it is missing or empty."""
    if schema is None or schema == {} or (isinstance(schema, str) and not schema.strip()):
        raise BadRequest(SCHEMA_REQUIRED)
    return schema


def pinned_scope(raw_filter: dict[str, Any]) -> Scope:
    """The entity ids a (valid) filter pins by equality in its top-level conjunction."""
    ids: dict[str, str] = {}
    for condition in _conjuncts(parse_filter(raw_filter)):
        if isinstance(condition, EntityCondition) and condition.op == "eq":
            ids.setdefault(condition.field, condition.values[0])
    return Scope(**ids)


def _conjuncts(node: Node) -> Iterator[Node]:
    if isinstance(node, And):
        for child in node.children:
            yield from _conjuncts(child)
    else:
        yield node


def lookup_selection(raw_filter: dict[str, Any]) -> Node:
    """The filter a get-export request selects exports by; 400 when it names a field exports do not have."""
    try:
        node = parse_filter(raw_filter)
    except FilterError as exc:
        raise BadRequest(str(exc)) from None
    for name in fields_named(node):
        if name not in LOOKUP_FIELDS:
            raise BadRequest(
                f"Filter key {name!r} cannot select a memory export: exports are found by"
                f" {', '.join(LOOKUP_FIELDS)} (the entity ids their filters pin, and when they were"
                " created), or by memory_export_id."
            )
    return node


def shape_export(schema: object, records: Sequence[MemoryRecord], pinned: Scope) -> dict[str, Any]:
    """The export of ``records`` (newest first) in the shape of ``schema`` (see the module docstring)."""
    if len(records) > MAX_EXPORT_MEMORIES:
        raise PayloadTooLarge(
            f"More than {MAX_EXPORT_MEMORIES} memories match these filters; an export holds at most"
            f" {MAX_EXPORT_MEMORIES}. Narrow the filters (e.g. by created_at) and export in parts."
        )
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except (ValueError, RecursionError):
            schema = None
    return _Shaper(schema if isinstance(schema, dict) else {}, records, pinned).export()


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_JSON_TYPES: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def _json_type(value: object) -> str:
    """The JSON schema type of a decoded JSON value."""
    return _JSON_TYPES.get(type(value), "object")


class _Shaper:
    def __init__(self, root: dict[str, Any], records: Sequence[MemoryRecord], pinned: Scope) -> None:
        self.root = root
        self.records = records
        self.wires = [memory_to_wire(record) for record in records]
        self.scope = self._scope(pinned)
        self.budget = MAX_EXPORT_CHARS

    def _scope(self, pinned: Scope) -> dict[str, str | None]:
        scope = pinned.as_dict()
        for name, value in scope.items():
            if value is None:
                shared = {getattr(record.scope, name) for record in self.records}
                scope[name] = shared.pop() if len(shared) == 1 else None
        return scope

    # --- the schema -----------------------------------------------------------------------

    def _resolve(self, node: object) -> dict[str, Any]:
        """``node`` with local ``$ref``s followed; ``{}`` (anything goes) for what is not a schema object."""
        for _ in range(_MAX_REF_HOPS):
            if not isinstance(node, dict):
                return {}
            ref = node.get("$ref")
            if not isinstance(ref, str) or not ref.startswith("#/"):
                return node
            target: object = self.root
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, dict) else None
            node = target
        return {}

    def _branches(self, node: object) -> list[dict[str, Any]]:
        resolved = self._resolve(node)
        branches = [resolved]
        for key in ("anyOf", "oneOf"):
            options = resolved.get(key)
            if isinstance(options, list):
                branches.extend(self._resolve(option) for option in options)
        return branches

    def _types(self, node: object) -> set[str]:
        """The JSON types ``node`` allows; empty when it does not say."""
        types: set[str] = set()
        for branch in self._branches(node):
            declared = branch.get("type")
            if isinstance(declared, str):
                types.add(declared)
            elif isinstance(declared, list):
                types.update(item for item in declared if isinstance(item, str))
        return types

    def _structure(self, node: object) -> dict[str, Any]:
        """The branch of ``node`` that describes a value (the non-null one of an optional)."""
        for branch in self._branches(node):
            if branch.get("type") not in (None, "null") or "properties" in branch or "items" in branch:
                return branch
        return self._resolve(node)

    def _properties(self, node: object) -> dict[str, Any]:
        properties = self._structure(node).get("properties")
        return properties if isinstance(properties, dict) else {}

    def _accepts(self, node: object, value: object) -> bool:
        types = self._types(node)
        kind = _json_type(value)
        if types and kind not in types and not (kind == "integer" and "number" in types):
            return False
        enum = self._resolve(node).get("enum")
        return not isinstance(enum, list) or value in enum

    def _fill(self, node: object, candidate: object, *, known: bool) -> object:
        """``candidate`` if the schema takes it, else the schema's default, else null."""
        if known and self._accepts(node, candidate):
            return self._spend(candidate)
        for source in (node, self._resolve(node)):
            if isinstance(source, dict) and "default" in source:
                return self._spend(source["default"])
        return None

    def _spend(self, value: object) -> object:
        self.budget -= len(json.dumps(value, default=str)) + 8
        if self.budget < 0:
            raise PayloadTooLarge(
                f"The export would be larger than {MAX_EXPORT_CHARS} characters; narrow the filters"
                " or ask for fewer fields per memory."
            )
        return value

    # --- the export -----------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        properties = self._properties(self.root)
        if not properties:
            return {"memories": [self._spend(wire) for wire in self.wires]}
        out: dict[str, Any] = {}
        placed = False
        for name, node in properties.items():
            key = _norm(name)
            if key in _LIST_NAMES and (not self._types(node) or "array" in self._types(node)):
                items = self._structure(node).get("items")
                out[name] = [self._item(items, wire) for wire in self.wires]
                placed = True
            elif key in _SCOPE_NAMES:
                out[name] = self._fill(node, self.scope[_SCOPE_NAMES[key]], known=True)
            elif key in _COUNT_NAMES:
                out[name] = self._fill(node, len(self.wires), known=True)
            elif key in _CATEGORY_NAMES:
                categories = sorted({category for record in self.records for category in record.categories})
                out[name] = self._fill(node, categories, known=True)
            else:
                out[name] = self._fill(node, None, known=False)
        if not placed and "memories" not in out and self._structure(self.root).get("additionalProperties") is not False:
            out["memories"] = [self._spend(wire) for wire in self.wires]
        return out

    def _item(self, node: object, wire: dict[str, Any]) -> object:
        properties = self._properties(node)
        if properties:
            item: dict[str, Any] = {}
            for name, sub in properties.items():
                field = _ITEM_FIELDS.get(_norm(name))
                item[name] = self._fill(sub, wire.get(field) if field else None, known=field is not None)
            return item
        types = self._types(node)
        if "string" in types and "object" not in types:
            return self._spend(wire["memory"])
        return self._spend(wire)
