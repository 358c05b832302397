"""The HTTP layer: routes that speak the Mem0 Platform wire format, and nothing else."""

from __future__ import annotations
