"""OpenAI-compatible chat completions: OpenAI, vLLM, Ollama, llama.cpp's server, LM Studio, most gateways."""

from __future__ import annotations

import re
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


class OpenAICompatLLM(EndpointModel):
    """``POST {base_url}/chat/completions``.

    JSON replies: with ``structured_output`` the request carries the caller's JSON schema
    (``response_format: {"type": "json_schema", ...}``, strict), else with ``json_mode`` it asks for any JSON
    object (``{"type": "json_object"}``); with both off it sends no ``response_format`` at all, for servers
    that reject it. ``temperature``/``max_tokens`` set to None are not sent (some reasoning models reject
    them).
    """

    def __init__(
        self,
        *,
        model: str,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        timeout: float = 60.0,
        structured_output: bool = False,
        json_mode: bool = True,
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 4,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        endpoint = JSONEndpoint(
            provider=f"openai-compat:{model}",
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            max_concurrency=max_concurrency,
        )
        super().__init__(endpoint, model)
        self._structured_output = structured_output
        self._json_mode = json_mode
        self._temperature = temperature
        self._max_tokens = max_tokens

    @property
    def name(self) -> str:
        return f"openai-compat:{self._model}"

    async def complete(
        self, *, system: str, messages: list[ChatMessage], json_schema: dict[str, Any] | None
    ) -> LLMReply:
        started = time.perf_counter()
        data = await self._endpoint.post(
            "/chat/completions",
            self._body(system, messages, json_schema),
            roles=[m.role for m in messages],
            provider=self.name,
        )
        text, finish_reason = _reply_text(data, self.name)
        usage = data.get("usage")
        return LLMReply(
            text=text,
            prompt_tokens=token_count(usage, "prompt_tokens"),
            completion_tokens=token_count(usage, "completion_tokens"),
            latency_ms=(time.perf_counter() - started) * 1000,
            finish_reason=finish_reason,
        )

    def _body(
        self,
        system: str,
        messages: list[ChatMessage],
        json_schema: dict[str, Any] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._model,
            "messages": [{"role": "system", "content": system}]
            + [{"role": m.role, "content": _content(m)} for m in messages],
        }
        if self._temperature is not None:
            body["temperature"] = self._temperature
        if self._max_tokens is not None:
            body["max_tokens"] = self._max_tokens
        response_format = self._response_format(json_schema)
        if response_format is not None:
            body["response_format"] = response_format
        return body

    def _response_format(self, json_schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if json_schema is None:
            return None
        if self._structured_output:
            return {
                "type": "json_schema",
                "json_schema": {"name": _schema_name(json_schema), "schema": json_schema, "strict": True},
            }
        if self._json_mode:
            return {"type": "json_object"}
        return None


def _content(message: ChatMessage) -> str | list[dict[str, Any]]:
    """A message's text, or its content parts when it shows images."""
    if not message.images:
        return message.content
    images = [{"type": "image_url", "image_url": {"url": url}} for url in message.images]
    return [*images, {"type": "text", "text": message.content}]


def _schema_name(schema: dict[str, Any]) -> str:
    """OpenAI wants a name matching ``[a-zA-Z0-9_-]{1,64}``; the schema's title when it has one."""
    title = schema.get("title")
    name = re.sub(r"[^a-zA-Z0-9_-]", "_", title)[:64] if isinstance(title, str) else ""
    return name or "response"


def _reply_text(data: dict[str, Any], provider: str) -> tuple[str, str | None]:
    """The first choice's text and finish reason; :class:`LLMError` when there is no text."""
    choices = data.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(choice, dict) or not isinstance(message, dict):
        raise LLMError(f"{provider}: response has no choices[0].message")
    finish_reason = choice.get("finish_reason")
    finish = finish_reason if isinstance(finish_reason, str) else None
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        raise LLMError(f"{provider}: the model refused: {refusal[:300]}")
    content = message.get("content")
    if isinstance(content, list):  # some gateways answer with content parts
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        content = "".join(p for p in parts if isinstance(p, str))
    if not isinstance(content, str):
        raise LLMError(f"{provider}: reply has no text content (finish_reason={finish})")
    return content, finish
