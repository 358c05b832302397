"""mnemo: self-hosted long-term memory for AI agents, wire-compatible with the Mem0 Platform API."""

from __future__ import annotations

__version__ = "0.1.0"
