"""Tests of mnemo.storage against a real PostgreSQL (no HTTP)."""

from __future__ import annotations
