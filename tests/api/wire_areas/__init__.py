"""Checks of the response models, one module per area of the API.

``test_every_documented_route_answers_as_documented`` validates the core routes itself, then runs the
``check(api, ping)`` function of every module in this package, so an area's routes are checked by its own
module (added here, found without registering it): each call goes through :class:`Checked`, which
validates the answer strictly and records the operation as covered.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from pydantic import TypeAdapter

AreaCheck = Callable[["Checked", dict[str, Any]], None]


class Checked:
    """Calls routes, validates each answer against its model, and remembers which operations it covered."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.covered: set[tuple[str, str]] = set()

    def call(
        self, model: Any, method: str, template: str, path: str | None = None, *, status: int = 200, **options: Any
    ) -> Any:
        response = self.client.request(method, path or template, **options)
        assert response.status_code == status, (method, path or template, response.text)
        validate(model, response.content)
        self.covered.add((method.lower(), template))
        return response.json()


def validate(model: Any, content: bytes | str) -> None:
    TypeAdapter(model).validate_json(content, strict=True)


def area_checks() -> Iterator[AreaCheck]:
    """The ``check`` function of each module of this package, in name order."""
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        yield importlib.import_module(f"{__name__}.{module.name}").check
