"""Per-add cost of the LLM extraction path, against the scripted OpenAI-compatible server of the tests.

Runs N adds (infer=true, realistic chats from bench/texts.py) through `mnemo serve` configured with
MNEMO_LLM_PROVIDER=openai pointing at a scripted server that answers every call with two facts; a share
of the replies (``--malformed``) is broken JSON, to show the cost of a repair. Reports LLM calls per add,
the prompt size per call (characters, and tokens estimated as characters / 4: the scripted server does
not tokenize), the completion size, and the time from accepted to SUCCEEDED.

    python -m bench.llm_cost [--adds 200] [--malformed 0.1]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import MODEL_DIR, stop_leftover_postgres
from bench.texts import conversation
from testkit.scripted_llm import ScriptedLLM, openai_reply
from testkit.server import start_server, wait_event


def _reply(index: int) -> str:
    facts = [
        {
            "text": f"The user mentioned fact {index}a.",
            "attributed_to": "user",
            "categories": ["misc"],
            "linked_ids": [],
        },
        {
            "text": f"The user mentioned fact {index}b.",
            "attributed_to": "user",
            "categories": ["misc"],
            "linked_ids": [],
        },
    ]
    return json.dumps({"facts": facts})


def run(adds: int, malformed: float) -> dict[str, Any]:
    rng = random.Random(11)
    broken_every = round(1 / malformed) if malformed > 0 else 0
    with ScriptedLLM() as llm, tempfile.TemporaryDirectory(prefix="mnemo-llm-cost-") as tmp:
        for i in range(adds):
            if broken_every and i % broken_every == 0:
                llm.script(openai_reply("{not json"))
            llm.script(openai_reply(_reply(i)))
        env = {"MNEMO_LLM_PROVIDER": "openai", "MNEMO_LLM_BASE_URL": llm.openai_url, "MNEMO_WORKER_CONCURRENCY": "1"}
        data_dir = Path(tmp) / "data"
        server = start_server(data_dir, model_dir=MODEL_DIR, extra_env=env)
        try:
            latencies = []
            with server.client() as client:
                for i in range(adds):
                    started = time.perf_counter()
                    body = {"messages": conversation(rng), "user_id": f"cost-{i % 10}"}
                    event_id = client.post("/v3/memories/add/", json=body).json()["event_id"]
                    event = wait_event(server, event_id)
                    assert event["status"] == "SUCCEEDED", event
                    latencies.append((time.perf_counter() - started) * 1000)
        finally:
            server.stop(timeout=120)
            stop_leftover_postgres(data_dir / "pgdata")
        prompts = [sum(len(m["content"]) for m in r.body["messages"]) for r in llm.requests]
    return {
        "benchmark": "llm-extraction-cost",
        "adds": adds,
        "malformed_share": malformed,
        "llm_calls_per_add": round(len(prompts) / adds, 3),
        "prompt_chars_per_call": {"mean": round(statistics.mean(prompts)), "max": max(prompts)},
        "prompt_tokens_per_add_estimated": round(sum(prompts) / 4 / adds),
        "completion_chars_per_call": len(_reply(0)),
        "accepted_to_succeeded_ms": {
            "p50": round(statistics.median(latencies), 1),
            "p95": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adds", type=int, default=200)
    parser.add_argument("--malformed", type=float, default=0.1)
    args = parser.parse_args()
    print(json.dumps(run(args.adds, args.malformed), indent=2))


if __name__ == "__main__":
    main()
