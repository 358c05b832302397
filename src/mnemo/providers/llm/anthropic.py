"""Anthropic's Messages API (``POST {base_url}/v1/messages``)."""

from __future__ import annotations

import time
from typing import Any

from mnemo.providers.llm.base import (
    ChatMessage,
    EndpointModel,
    JSONEndpoint,
    LLMError,
    LLMReply,
    RetryPolicy,
    token_count,
)

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicLLM(EndpointModel):
    """Claude models over the Messages API.

    The API has no JSON mode: ``json_schema`` is not sent, the prompt has to describe the format (callers
    do so anyway). ``max_tokens`` is required by the API and bounds the reply.
    """

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None,
        base_url: str = "https://api.anthropic.com",
        timeout: float = 60.0,
        max_tokens: int = 4096,
        temperature: float | None = 0.0,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 4,
    ) -> None:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        endpoint = JSONEndpoint(
            provider=f"anthropic:{model}",
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            max_concurrency=max_concurrency,
        )
        super().__init__(endpoint, model)
        self._max_tokens = max_tokens
        self._temperature = temperature

    @property
    def name(self) -> str:
        return f"anthropic:{self._model}"

    async def complete(
        self, *, system: str, messages: list[ChatMessage], json_schema: dict[str, Any] | None
    ) -> LLMReply:
        started = time.perf_counter()
        body: dict[str, Any] = {
            "model": self._model,
            "system": system,
            "messages": [{"role": m.role, "content": _content(m)} for m in messages],
            "max_tokens": self._max_tokens,
        }
        if self._temperature is not None:
            body["temperature"] = self._temperature
        data = await self._endpoint.post("/v1/messages", body, roles=[m.role for m in messages], provider=self.name)
        usage = data.get("usage")
        stop_reason = data.get("stop_reason")
        return LLMReply(
            text=_reply_text(data, self.name),
            prompt_tokens=token_count(usage, "input_tokens")
            + token_count(usage, "cache_creation_input_tokens")
            + token_count(usage, "cache_read_input_tokens"),
            completion_tokens=token_count(usage, "output_tokens"),
            latency_ms=(time.perf_counter() - started) * 1000,
            finish_reason=stop_reason if isinstance(stop_reason, str) else None,
        )


def _content(message: ChatMessage) -> str | list[dict[str, Any]]:
    """A message's text, or its content blocks when it shows images (a data: URL is sent as base64)."""
    if not message.images:
        return message.content
    blocks: list[dict[str, Any]] = [{"type": "image", "source": _image_source(url)} for url in message.images]
    return [*blocks, {"type": "text", "text": message.content}]


def _image_source(url: str) -> dict[str, str]:
    if url.startswith("data:") and ";base64," in url:
        media_type, _, data = url[5:].partition(";base64,")
        return {"type": "base64", "media_type": media_type or "image/png", "data": data}
    return {"type": "url", "url": url}


def _reply_text(data: dict[str, Any], provider: str) -> str:
    """The concatenated ``text`` blocks of ``content``; :class:`LLMError` when there are none."""
    content = data.get("content")
    if not isinstance(content, list):
        raise LLMError(f"{provider}: response has no content list")
    texts = [
        block["text"]
        for block in content
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)
    ]
    if not texts:
        raise LLMError(f"{provider}: reply has no text block (stop_reason={data.get('stop_reason')})")
    return "".join(texts)
