"""Tests that drive real ``mnemo serve`` processes over HTTP."""

from __future__ import annotations
