"""Adapters to things outside mnemo: embedding models and LLMs, each behind a small typed port."""

from __future__ import annotations
