"""The domain: memories, scopes, events, filters, scoring. No I/O here."""

from __future__ import annotations
