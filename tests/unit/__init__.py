"""Pure-Python tests: no mnemo server, no database."""

from __future__ import annotations
