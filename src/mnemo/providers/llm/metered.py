"""An LLM whose calls are counted under the name of the profile it serves (``mnemo_llm_*`` metrics).

A provider knows its server and model, not which deployment profile it is: the runtime wraps each profile's
client once (:func:`metered`), and a project's model override (:meth:`MeteredLLM.with_model`) stays counted
under the same profile. Model names never become labels (a project may name any model).
"""

from __future__ import annotations

import time
from typing import Any, Protocol, Self

from mnemo.observability import metrics
from mnemo.providers.llm.base import LLM, ChatMessage, LLMError, LLMRejected, LLMReply, LLMUnavailable


class SwitchableLLM(LLM, Protocol):
    """An LLM that can ask its server for another model (the HTTP providers)."""

    def with_model(self, model: str) -> Self:
        """The same server and connections, asking for ``model``."""
        ...


class MeteredLLM:
    def __init__(self, llm: SwitchableLLM, profile: str) -> None:
        self._llm = llm
        self.profile = profile

    @property
    def name(self) -> str:
        return self._llm.name

    async def complete(
        self, *, system: str, messages: list[ChatMessage], json_schema: dict[str, Any] | None
    ) -> LLMReply:
        started = time.perf_counter()
        try:
            reply = await self._llm.complete(system=system, messages=messages, json_schema=json_schema)
        except LLMError as exc:
            kind: metrics.LLMErrorKind = (
                "unavailable"
                if isinstance(exc, LLMUnavailable)
                else "rejected"
                if isinstance(exc, LLMRejected)
                else "invalid"
            )
            metrics.llm_call(self.profile, seconds=time.perf_counter() - started, error=kind)
            raise
        metrics.llm_call(
            self.profile,
            seconds=time.perf_counter() - started,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
        )
        return reply

    def with_model(self, model: str) -> MeteredLLM:
        return MeteredLLM(self._llm.with_model(model), self.profile)

    async def aclose(self) -> None:
        await self._llm.aclose()


def metered(llm: SwitchableLLM | None, profile: str) -> MeteredLLM | None:
    return None if llm is None else MeteredLLM(llm, profile)
