"""docs/grafana-mnemo.json is valid JSON whose queries name only metrics mnemo exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mnemo.observability.metrics import REGISTRY

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-mnemo.json"


def _exposed() -> set[str]:
    names = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "histogram":
            names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_count", "_sum"))
        if family.type == "counter":
            names.add(f"{family.name}_total")
    return names


def test_every_panel_queries_metrics_that_exist() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert len(expressions) >= 20
    used = {name for expr in expressions for name in re.findall(r"\bmnemo_[a-z_]+", expr)}
    missing = used - _exposed()
    assert not missing, missing
    # Every family is on the dashboard (the build info feeds its variables).
    families = {f.name for f in REGISTRY.collect() if f.name.startswith("mnemo_")} - {"mnemo_build"}
    shown = {name for name in families if any(u == name or u.startswith(f"{name}_") for u in used)}
    assert shown == families, families - shown
