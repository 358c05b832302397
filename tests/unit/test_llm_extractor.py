"""The LLM extractor: prompt rendering, reply parsing, the repair attempt, and end to end against a
scripted OpenAI-compatible or Anthropic server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from mnemo.pipeline.extraction import (
    Category,
    ExistingMemory,
    ExtractionFailed,
    ExtractionRequest,
    ExtractionResult,
    ExtractionUnavailable,
    Fact,
    Message,
)
from mnemo.pipeline.llm_extractor import (
    DEFAULT_CATEGORIES,
    PROMPT_VERSION,
    LLMExtractor,
    OutputError,
    PromptTemplate,
    bounded,
    output_schema,
    parse_facts,
    render_prompt,
)
from mnemo.providers.llm import AnthropicLLM, OpenAICompatLLM, RetryPolicy
from testkit.scripted_llm import ScriptedLLM, anthropic_reply, error_reply, openai_reply

FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02, total_timeout=5.0)
OBSERVED = datetime(2024, 5, 8, 15, 30, tzinfo=UTC)  # a Wednesday
TODAY = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)  # a Saturday
BERLIN = "3f2b8c1e-9a47-4d2e-8c1f-6b0e2d5a7c90"
TEA = "a81d0c55-2f3e-4b6a-9d7c-1e2f3a4b5c6d"
TEMPLATE = PromptTemplate.load()

Provider = OpenAICompatLLM | AnthropicLLM


def request(**overrides: Any) -> ExtractionRequest:
    values: dict[str, Any] = {
        "messages": [
            Message("user", "I moved to Paris yesterday, and I'm done with tea.", name="Alice"),
            Message("assistant", "Welcome to Paris! Try the Café de Flore."),
        ],
        "observed_at": OBSERVED,
        "existing_memories": [
            ExistingMemory(BERLIN, "Alice lives in Berlin"),
            ExistingMemory(TEA, "Alice loves tea"),
        ],
    }
    values.update(overrides)
    return ExtractionRequest(**values)


def facts_json(*facts: dict[str, Any]) -> str:
    return json.dumps({"facts": list(facts)})


PARIS = {
    "text": "Alice moved to Paris on 2024-05-07.",
    "attributed_to": "user",
    "categories": ["personal_details", "travel"],
    "linked_ids": ["0"],
}
FLORE = {
    "text": "The assistant recommended the Café de Flore in Paris to Alice.",
    "attributed_to": "assistant",
    "categories": ["food"],
    "linked_ids": [],
}


@pytest.fixture
def server() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as running:
        yield running


def openai(server: ScriptedLLM, **kwargs: Any) -> Provider:
    return OpenAICompatLLM(base_url=server.openai_url, model="m", api_key="k", retry=FAST, **kwargs)


def anthropic(server: ScriptedLLM, **kwargs: Any) -> Provider:
    return AnthropicLLM(base_url=server.url, model="c", api_key="k", retry=FAST, **kwargs)


def extract(make: Callable[[], Provider], req: ExtractionRequest | None = None) -> ExtractionResult:
    async def run() -> ExtractionResult:
        llm = make()
        try:
            return await LLMExtractor(llm, clock=lambda: TODAY).extract(req or request())
        finally:
            await llm.aclose()

    return asyncio.run(run())


def user_prompt(body: dict[str, Any]) -> str:
    """The conversation's first user message, in either wire format."""
    return str(next(m for m in body["messages"] if m["role"] == "user")["content"])


def section(prompt: str, title: str) -> str:
    match = re.search(rf"^## {title}\n(.*?)(?=\n\n## |\Z)", prompt, re.MULTILINE | re.DOTALL)
    assert match, f"no section {title!r}"
    return match.group(1)


def render(req: ExtractionRequest) -> tuple[str, str]:
    prompt = render_prompt(TEMPLATE, req, today=TODAY.date())
    return prompt.system, prompt.user


# End to end


def test_good_output_becomes_facts(server: ScriptedLLM) -> None:
    server.script(openai_reply(facts_json(PARIS, FLORE), prompt_tokens=900, completion_tokens=80))
    result = extract(lambda: openai(server))
    assert result.facts == [
        Fact("Alice moved to Paris on 2024-05-07.", "user", ("personal_details", "travel"), (BERLIN,)),
        Fact("The assistant recommended the Café de Flore in Paris to Alice.", "assistant", ("food",), ()),
    ]
    assert result.usage is not None
    assert (result.usage.calls, result.usage.prompt_tokens, result.usage.completion_tokens) == (1, 900, 80)
    (sent,) = server.requests
    prompt = user_prompt(sent.body)
    assert BERLIN not in prompt and TEA not in prompt
    assert json.loads(section(prompt, "Existing memories")) == [
        {"id": "0", "text": "Alice lives in Berlin"},
        {"id": "1", "text": "Alice loves tea"},
    ]
    assert sent.body["response_format"] == {"type": "json_object"}
    assert "JSON" in sent.body["messages"][0]["content"]  # json_object mode needs the word in the prompt


def test_structured_output_sends_the_schema_with_the_categories(server: ScriptedLLM) -> None:
    server.script(openai_reply(facts_json(PARIS)))
    extract(lambda: openai(server, structured_output=True))
    schema = server.requests[0].body["response_format"]["json_schema"]["schema"]
    assert schema == output_schema([c.name for c in DEFAULT_CATEGORIES])
    item = schema["properties"]["facts"]["items"]
    assert item["properties"]["categories"]["items"]["enum"][-1] == "misc"
    assert sorted(item["required"]) == sorted(item["properties"])  # strict mode needs every key required


def test_explicitly_empty_list_is_a_result(server: ScriptedLLM) -> None:
    server.script(openai_reply('{"facts": []}'))
    result = extract(lambda: openai(server))
    assert result.facts == []
    assert result.usage is not None and result.usage.calls == 1


def test_malformed_json_is_repaired_once(server: ScriptedLLM) -> None:
    bad = '{"facts": [{"text": "Alice moved to Paris"'
    server.script(
        openai_reply(bad, prompt_tokens=100, completion_tokens=10),
        openai_reply(facts_json(PARIS), prompt_tokens=150, completion_tokens=20),
    )
    result = extract(lambda: openai(server))
    assert [f.text for f in result.facts] == [PARIS["text"]]
    assert result.usage is not None
    assert (result.usage.calls, result.usage.prompt_tokens, result.usage.completion_tokens) == (2, 250, 30)
    first, second = server.requests
    roles = [m["role"] for m in second.body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert second.body["messages"][1] == first.body["messages"][1]
    assert second.body["messages"][2]["content"] == bad
    assert "not valid JSON" in second.body["messages"][3]["content"]


def test_malformed_twice_fails_with_the_raw_output(server: ScriptedLLM) -> None:
    server.script(openai_reply("Sure! Here are the facts:"), openai_reply("I cannot do JSON today."))
    expected = r"unusable after one repair attempt.*not valid JSON"
    with pytest.raises(ExtractionFailed, match=expected) as caught:
        extract(lambda: openai(server))
    assert caught.value.raw_output == "I cannot do JSON today."
    assert len(server.requests) == 2


def test_raw_output_is_bounded(server: ScriptedLLM) -> None:
    huge = "é" * 10_000
    server.script(openai_reply(huge), openai_reply(huge))
    with pytest.raises(ExtractionFailed) as caught:
        extract(lambda: openai(server))
    raw = caught.value.raw_output
    assert raw is not None and raw.startswith("éé") and len(raw.encode()) <= 4096
    assert len(server.requests[1].body["messages"][2]["content"].encode()) <= 4096


def test_wrong_shape_is_repaired_then_fails(server: ScriptedLLM) -> None:
    oss_shape = json.dumps({"memory": [{"id": "0", "text": "Alice moved to Paris"}]})
    server.script(openai_reply(oss_shape), openai_reply(facts_json({**PARIS, "attributed_to": "Alice"})))
    with pytest.raises(ExtractionFailed, match=r'attributed_to must be "user" or "assistant".*"facts" array'):
        extract(lambda: openai(server))
    assert '"facts" array' in server.requests[1].body["messages"][3]["content"]


def test_truncated_output_says_so(server: ScriptedLLM) -> None:
    cut = openai_reply('{"facts": [{"text": "Al', finish_reason="length")
    server.script(cut, cut)
    with pytest.raises(ExtractionFailed, match="cut off at the output token limit"):
        extract(lambda: openai(server))


def test_unreachable_llm_is_unavailable(server: ScriptedLLM) -> None:
    server.script(error_reply(503, "overloaded"), error_reply(503, "overloaded"))
    with pytest.raises(ExtractionUnavailable, match="503"):
        extract(lambda: openai(server))


def test_unavailable_during_the_repair_is_unavailable(server: ScriptedLLM) -> None:
    server.script(openai_reply("nope"), error_reply(500, "down"), error_reply(500, "down"))
    with pytest.raises(ExtractionUnavailable):
        extract(lambda: openai(server))


def test_rejected_request_fails_with_a_clear_cause(server: ScriptedLLM) -> None:
    server.script(error_reply(401, "Incorrect API key provided"))
    with pytest.raises(ExtractionFailed, match="HTTP 401: Incorrect API key provided") as caught:
        extract(lambda: openai(server))
    assert caught.value.raw_output is None
    assert len(server.requests) == 1


def test_nothing_to_extract_makes_no_call(server: ScriptedLLM) -> None:
    req = request(messages=[Message("system", "You are helpful."), Message("user", "   ")])
    result = extract(lambda: openai(server), req)
    assert result.facts == [] and result.usage is not None and result.usage.calls == 0
    assert server.requests == []


def test_anthropic_good_output(server: ScriptedLLM) -> None:
    server.script(anthropic_reply(facts_json(PARIS), input_tokens=700, output_tokens=40))
    result = extract(lambda: anthropic(server))
    assert result.facts[0].linked_refs == (BERLIN,)
    assert result.usage is not None and (result.usage.prompt_tokens, result.usage.completion_tokens) == (
        700,
        40,
    )
    (sent,) = server.requests
    assert sent.body["system"].startswith("You extract long-term memories")
    assert [m["role"] for m in sent.body["messages"]] == ["user"]
    assert "## New messages" in user_prompt(sent.body)


def test_anthropic_repair_alternates_roles(server: ScriptedLLM) -> None:
    server.script(anthropic_reply(""), anthropic_reply(f"```json\n{facts_json(FLORE)}\n```"))
    result = extract(lambda: anthropic(server))
    assert [f.attributed_to for f in result.facts] == ["assistant"]
    messages = server.requests[1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == "(empty reply)"  # Anthropic refuses empty turns
    assert "the reply is empty" in messages[2]["content"]


def test_anthropic_malformed_twice(server: ScriptedLLM) -> None:
    server.script(anthropic_reply("{facts: []}"), anthropic_reply("[]"))
    with pytest.raises(ExtractionFailed, match='"facts" array, got an array') as caught:
        extract(lambda: anthropic(server))
    assert caught.value.raw_output == "[]"


def test_extractor_name_carries_the_prompt_version(server: ScriptedLLM) -> None:
    async def name() -> str:
        llm = openai(server)
        try:
            return LLMExtractor(llm).name
        finally:
            await llm.aclose()

    assert asyncio.run(name()) == f"openai-compat:m/{PROMPT_VERSION}"


# Parsing and validation


REFS = {"0": BERLIN, "1": TEA}
CATEGORIES = [c.name for c in DEFAULT_CATEGORIES]


def parse(*facts: dict[str, Any], categories: Sequence[str] = CATEGORIES) -> list[Fact]:
    return parse_facts(facts_json(*facts), refs=REFS, categories=categories)


def test_categories_are_matched_loosely_and_unknown_ones_dropped() -> None:
    (fact,) = parse({**PARIS, "categories": ["Personal Details", "astrology", "travel", "travel", 3]})
    assert fact.categories == ("personal_details", "travel")


def test_a_fact_left_without_categories_gets_misc() -> None:
    (fact,) = parse({**PARIS, "categories": ["astrology"]})
    assert fact.categories == ("misc",)
    (fact,) = parse({**PARIS, "categories": ["astrology"]}, categories=["work", "kids"])
    assert fact.categories == ()
    (fact,) = parse({k: v for k, v in PARIS.items() if k not in ("categories", "linked_ids")})
    assert fact.categories == ("misc",) and fact.linked_refs == ()


def test_linked_ids_must_be_given_refs() -> None:
    (fact,) = parse({**PARIS, "linked_ids": ["1", 0, "7", BERLIN, "1", True]})
    assert fact.linked_refs == (TEA, BERLIN)


def test_empty_texts_and_repeats_are_dropped() -> None:
    facts = parse({**PARIS, "text": "   "}, FLORE, {**FLORE, "categories": ["misc"]})
    assert [f.text for f in facts] == [FLORE["text"]]


def test_attributed_to_is_validated() -> None:
    assert parse({**PARIS, "attributed_to": " Assistant "})[0].attributed_to == "assistant"
    for bad in ("agent", None, 1):
        with pytest.raises(OutputError, match=r"facts\[0\]\.attributed_to"):
            parse({**PARIS, "attributed_to": bad})


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("", "the reply is empty"),
        ("facts: none", "not valid JSON"),
        ('{"facts": {}}', '"facts" array'),
        ('{"facts": ["Alice moved"]}', r"facts\[0\] must be an object, got a string"),
        ('{"facts": [{"attributed_to": "user"}]}', r"facts\[0\]\.text must be a string, got null"),
        (
            '{"facts": [{"text": "x", "attributed_to": "user", "categories": "food"}]}',
            "categories must be an array",
        ),
        (
            '{"facts": [{"text": "x", "attributed_to": "user", "linked_ids": "0"}]}',
            "linked_ids must be an array",
        ),
    ],
)
def test_wrong_shapes_are_output_errors(reply: str, error: str) -> None:
    with pytest.raises(OutputError, match=error):
        parse_facts(reply, refs=REFS, categories=CATEGORIES)


def test_a_code_fence_around_the_json_is_accepted() -> None:
    facts = parse_facts(f"```json\n{facts_json(PARIS)}\n```", refs=REFS, categories=CATEGORIES)
    assert [f.text for f in facts] == [PARIS["text"]]


def test_bounded_cuts_on_a_character_boundary() -> None:
    assert bounded("short") == "short"
    cut = bounded("ü" * 100, limit=51)
    assert len(cut.encode()) <= 51 and cut.endswith("[truncated]") and "\ufffd" not in cut


# Prompt rendering


def test_template_has_every_block_and_no_stray_placeholders() -> None:
    system, user = render(request())
    assert "$" not in system and "$" not in user
    with pytest.raises(ValueError, match="lacks the block"):
        PromptTemplate.parse("broken", "=== system ===\nonly this\n")


def test_dates_are_the_observation_date_and_today() -> None:
    _, user = render(request())
    assert section(user, "Observation date") == "2024-05-08 (Wednesday)"
    assert section(user, "Current date") == "2024-06-01 (Saturday)"


def test_new_messages_carry_speakers_and_recent_ones_are_truncated() -> None:
    recent = [Message("user", "x" * 1000), Message("assistant", "short reply"), Message("user", "  ")]
    _, user = render(request(recent_messages=recent))
    assert section(user, "New messages") == (
        "user (Alice): I moved to Paris yesterday, and I'm done with tea.\n"
        "assistant: Welcome to Paris! Try the Café de Flore."
    )
    lines = section(user, "Recent messages").splitlines()
    assert len(lines) == 2 and lines[1] == "assistant: short reply"
    assert lines[0].startswith("user: xxx") and lines[0].endswith("…")
    assert len(lines[0]) == len("user: ") + 300
    _, user = render(request())
    assert section(user, "Recent messages") == "(none)"


def test_existing_memories_are_shown_under_short_refs() -> None:
    prompt = render_prompt(TEMPLATE, request(), today=TODAY.date())
    assert BERLIN not in prompt.user and TEA not in prompt.user
    assert json.loads(section(prompt.user, "Existing memories"))[1] == {"id": "1", "text": "Alice loves tea"}
    assert prompt.refs == {"0": BERLIN, "1": TEA}
    empty = render_prompt(TEMPLATE, request(existing_memories=[]), today=TODAY.date())
    assert section(empty.user, "Existing memories") == "[]"


def test_default_catalogue_has_fifteen_categories_with_descriptions() -> None:
    _, user = render(request())
    lines = section(user, "Categories").splitlines()
    assert len(lines) == 15
    assert lines[0].startswith("- personal_details: ") and lines[-1].startswith("- misc: ")
    names = [line[2:].split(":")[0] for line in lines]
    # The catalogue itself (names, order) is pinned in tests/unit/test_categories.py.
    assert names == [category.name for category in DEFAULT_CATEGORIES]


def test_custom_categories_replace_the_catalogue() -> None:
    custom = [Category("work", "Projects and deadlines"), Category("kids", "")]
    prompt = render_prompt(TEMPLATE, request(categories=custom), today=TODAY.date())
    assert section(prompt.user, "Categories") == "- work: Projects and deadlines\n- kids"
    assert prompt.categories == ("work", "kids")


TRAVEL = "Only travel."
ADVICE = "Only recommendations."
FOR_USER = f"For facts attributed to the user:\n{TRAVEL}"
FOR_ASSISTANT = f"For facts attributed to the assistant:\n{ADVICE}"


@pytest.mark.parametrize(
    ("custom", "agent", "agent_only", "expected"),
    [
        (None, None, False, "(none)"),
        (TRAVEL, None, False, TRAVEL),
        (TRAVEL, ADVICE, False, f"{FOR_USER}\n\n{FOR_ASSISTANT}"),
        (None, ADVICE, False, FOR_ASSISTANT),
        (TRAVEL, ADVICE, True, ADVICE),
        (TRAVEL, None, True, TRAVEL),
        (None, None, True, "(none)"),
    ],
)
def test_custom_instructions_precedence(
    custom: str | None,
    agent: str | None,
    agent_only: bool,
    expected: str,
) -> None:
    req = request(custom_instructions=custom, agent_custom_instructions=agent, agent_perspective=agent_only)
    _, user = render(req)
    assert section(user, "Custom instructions") == expected


def test_agent_perspective_extends_the_system_prompt() -> None:
    plain, _ = render(request())
    agent, _ = render(request(agent_perspective=True))
    assert agent.startswith(plain) and "point of view" in agent and "point of view" not in plain


def test_system_prompt_states_the_rules() -> None:
    system, _ = render(request())
    for rule in (
        "Self-contained",
        "observation date",
        "attributed_to",
        "linked_ids",
        "language the user wrote",
    ):
        assert rule in system
    assert '{"facts": []}' in system


@pytest.mark.parametrize(
    "wrap",
    [
        '<think>The user says they moved. {"facts": []} is wrong here.</think>\n{body}',
        "<think>\nreasoning\n</think>\n\n```json\n{body}\n```",
        "  <THINK>a</THINK><thinking>b</thinking>{body}",
    ],
)
def test_reasoning_blocks_and_fences_are_removed_before_parsing(server: ScriptedLLM, wrap: str) -> None:
    server.script(openai_reply(wrap.replace("{body}", facts_json(PARIS))))
    result = extract(lambda: openai(server))
    assert [fact.text for fact in result.facts] == ["Alice moved to Paris on 2024-05-07."]
    assert len(server.requests) == 1, "no repair call was needed"


def test_a_reply_of_reasoning_only_is_malformed() -> None:
    with pytest.raises(OutputError, match="only reasoning"):
        parse_facts("<think>I should answer with facts but never do", refs=REFS, categories=CATEGORIES)
