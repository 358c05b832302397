"""Embedding providers: the local ONNX model (default) and OpenAI-compatible HTTP."""

from __future__ import annotations
