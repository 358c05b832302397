"""What the tests of the official clients share."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def mem0_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home of its own for the Python client (``MEM0_DIR``: its config and telemetry id), per module."""
    path = tmp_path_factory.mktemp("mem0home")
    os.environ["MEM0_DIR"] = str(path)
    return path
