"""The filters DSL of the Mem0 Platform (spec §5): parse, check scope, evaluate in Python.

``parse_filter`` validates a raw JSON filter into an AST of frozen dataclasses (``mnemo.filters.ast``);
``has_positive_scope`` checks that a filter names an entity; ``evaluate`` decides a filter for one memory
in plain Python; ``fields_named`` lists the fields a filter names. This package is plain Python: it
imports nothing but the standard library.

Semantics, where the spec leaves a choice:

* Every condition is two-valued: a missing value makes a condition false, never unknown, and ``NOT`` is
  an exact complement (a missing value matches ``NOT``).
* Entity ids: ``ne`` also matches a missing id; ``"*"`` (bare value only) means "is set".
* Dates: a ``YYYY-MM-DD`` value is a UTC day, a datetime value an instant (naive = UTC). On the
  timestamp columns (``created_at``, ``updated_at``, and ``timestamp`` which is ``created_at``):
  equality with a day means "during that UTC day"; ``gt``/``gte``/``lt`` with a day compare to the
  day's start (00:00 UTC); ``lte`` with a day includes the whole day (``< next day 00:00``), so
  ``{"gte": a, "lte": b}`` is the inclusive range of days a..b. (Hence ``gt`` a day also matches the
  rest of that day and is not the complement of ``lte`` it; ``NOT`` + ``lte`` is "after that day".)
  ``expiration_date`` is a date column: a datetime value is reduced to its UTC date, and the
  comparisons are plain date comparisons. ``ne`` is ``NOT`` equality (so it matches a missing
  expiration date); ``in`` is any of the equalities.
* Categories: ``in`` is a case-insensitive overlap; ``contains`` means some category contains the
  substring, case-insensitively.
* Metadata (top-level keys only): equality is JSON equality (``1 == 1.0``, ``true != 1``); ``ne`` also
  matches a missing key or missing metadata; ``contains`` takes a scalar: a string value contains it as a
  substring (case-insensitively), or a list value has it as an element. A bare object value is read as
  operators; to match an object value write ``{"eq": {...}}``. Operator words (``in``, ``eq``, ...) are
  not accepted as metadata key names, so ``{"metadata": {"in": ...}}`` is an error, not a key lookup.
* ``keywords``, ``text``, ``keywords_search``: ``contains`` is a case-sensitive substring of the memory
  text, ``icontains`` a case-insensitive one (``%`` and ``_`` in the value are plain characters).
* Empty lists given to ``in`` (or ``memory_ids``) match nothing. Empty objects are rejected.
"""

from __future__ import annotations

from mnemo.filters.ast import (
    ALLOWED_KEYS,
    DATE_FIELDS,
    ENTITY_FIELDS,
    FILTER_FIELDS,
    LOGICAL_KEYS,
    MAX_DEPTH,
    MAX_LIST_ITEMS,
    MAX_NODES,
    OPERATOR_WORDS,
    SQL_SYMBOLS,
    TEXT_FIELDS,
    And,
    CategoryCondition,
    CategoryOp,
    DateCondition,
    DateOp,
    EntityCondition,
    EntityOp,
    FilterError,
    IdsCondition,
    JsonValue,
    MemoryFacts,
    MetadataCondition,
    MetadataOp,
    Node,
    Not,
    Or,
    TextCondition,
    TextOp,
    fields_named,
)
from mnemo.filters.evaluate import evaluate, json_equal
from mnemo.filters.parser import has_positive_scope, parse_filter
from mnemo.filters.values import unstorable

__all__ = [
    "ALLOWED_KEYS",
    "DATE_FIELDS",
    "ENTITY_FIELDS",
    "FILTER_FIELDS",
    "LOGICAL_KEYS",
    "MAX_DEPTH",
    "MAX_LIST_ITEMS",
    "MAX_NODES",
    "OPERATOR_WORDS",
    "SQL_SYMBOLS",
    "TEXT_FIELDS",
    "And",
    "CategoryCondition",
    "CategoryOp",
    "DateCondition",
    "DateOp",
    "EntityCondition",
    "EntityOp",
    "FilterError",
    "IdsCondition",
    "JsonValue",
    "MemoryFacts",
    "MetadataCondition",
    "MetadataOp",
    "Node",
    "Not",
    "Or",
    "TextCondition",
    "TextOp",
    "evaluate",
    "fields_named",
    "has_positive_scope",
    "json_equal",
    "parse_filter",
    "unstorable",
]
