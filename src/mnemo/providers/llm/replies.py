"""Reading the JSON an LLM was asked for out of its reply: the one place replies are unwrapped.

Models wrap JSON in ways a strict parser refuses: reasoning models put a ``<think>…</think>`` block
first, chat models fence the JSON in Markdown (```json … ```). Both are removed; anything else is the
caller's to judge.
"""

from __future__ import annotations

import json

_REASONING_TAGS = (("<think>", "</think>"), ("<thinking>", "</thinking>"), ("<reasoning>", "</reasoning>"))


class ReplyNotJSON(ValueError):
    """The reply holds no parsable JSON; the message says why."""


def strip_reasoning(text: str) -> str:
    """``text`` without the reasoning blocks it starts with (an unterminated one leaves nothing)."""
    rest = text.lstrip()
    while True:
        for opening, closing in _REASONING_TAGS:
            if rest[: len(opening)].lower() == opening:
                end = rest.lower().find(closing, len(opening))
                rest = "" if end == -1 else rest[end + len(closing) :].lstrip()
                break
        else:
            return rest


def strip_fence(text: str) -> str:
    """The body of a Markdown code fence around the whole of ``text``, else ``text``."""
    stripped = text.strip()
    if not stripped.startswith("```") or not stripped.endswith("```") or len(stripped) < 6:
        return stripped
    first_line_end = stripped.find("\n")
    if first_line_end == -1:
        return stripped
    return stripped[first_line_end + 1 : -3].strip()


def reply_json(text: str) -> object:
    """The JSON value of an LLM reply, after removing reasoning blocks and a code fence."""
    body = strip_fence(strip_reasoning(text))
    if not body:
        raise ReplyNotJSON("the reply is empty" if not text.strip() else "the reply holds only reasoning, no answer")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ReplyNotJSON(f"the reply is not valid JSON ({exc})") from exc
