"""The add pipeline: extract facts, embed them, store them."""

from __future__ import annotations
