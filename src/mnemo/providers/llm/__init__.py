"""LLM providers behind one typed port: OpenAI-compatible chat completions and Anthropic Messages."""

from __future__ import annotations

from mnemo.providers.llm.anthropic import AnthropicLLM
from mnemo.providers.llm.base import (
    LLM,
    ChatMessage,
    LLMError,
    LLMRejected,
    LLMReply,
    LLMUnavailable,
    RetryPolicy,
)
from mnemo.providers.llm.openai_compat import OpenAICompatLLM

__all__ = [
    "LLM",
    "AnthropicLLM",
    "ChatMessage",
    "LLMError",
    "LLMRejected",
    "LLMReply",
    "LLMUnavailable",
    "OpenAICompatLLM",
    "RetryPolicy",
]
