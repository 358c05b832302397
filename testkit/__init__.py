"""Helpers shared by the tests and the benchmarks.

- ``testkit.server``: run real ``mnemo`` processes (``start_server``, ``serving``, ``run_cli``, ``wait_event``...).
- ``testkit.scripted_llm``: a scripted OpenAI-/Anthropic-compatible LLM server on a real loopback socket.
"""

from __future__ import annotations
