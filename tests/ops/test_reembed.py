"""``mnemo reembed``: a deployment's memories embedded again with another model, each with the messages said just
before it, as an add with that model would have embedded them; the deployment then serves only that model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from testkit.server import MnemoServer, mnemo_env, run_cli, serving, start_server, wait_final_vectors

#: fp32: a text's vector does not depend on the texts embedded with it (int8's does, by ~0.005 of cosine), so the
#: same text gives the same vector whether an add embeds it alone or ``reembed`` in a batch.
E5 = {"MNEMO_EMBEDDER": "e5-onnx", "MNEMO_EMBEDDER_PRECISION": "fp32"}
#: One conversation: one message per add, then a user message and the assistant's reply in one add.
ADDS = [
    [{"role": "user", "content": "I moved to Austin last month.", "name": "Nadia"}],
    [{"role": "assistant", "content": "How do you like it there?"}],
    [{"role": "user", "content": "Love it, though the summer heat is brutal.", "name": "Nadia"}],
    [
        {"role": "user", "content": "I work as a nurse at the children's hospital.", "name": "Nadia"},
        {"role": "assistant", "content": "That sounds demanding and rewarding."},
    ],
    [{"role": "user", "content": "Thanks for asking! How about you? My cat Miso hates the heat too.", "name": "Nadia"}],
]
QUESTIONS = ["Where does Nadia live?", "What is her job?", "What pet does she have?"]


def _load(server: MnemoServer) -> None:
    with server.client() as http:
        for messages in ADDS:
            answer = http.post("/v3/memories/add/", json={"messages": messages, "user_id": "nadia", "infer": False})
            assert answer.status_code == 200, answer.text
        other = {"messages": "I live in Oslo.", "user_id": "someone-else", "infer": False}
        assert http.post("/v3/memories/add/", json=other).status_code == 200


def _search(server: MnemoServer) -> dict[str, list[tuple[str, float]]]:
    """Each question's results: (memory, semantic signal), best first."""
    found = {}
    with server.client() as http:
        for question in QUESTIONS:
            body: dict[str, Any] = {"query": question, "filters": {"user_id": "nadia"}, "top_k": 3, "threshold": 0}
            answer = http.post("/v3/memories/search/", json=body)
            assert answer.status_code == 200, answer.text
            found[question] = [(r["memory"], r["score_breakdown"]["semantic"]) for r in answer.json()["results"]]
    return found


def _reembed(data_dir: Path, model_dir: Path, *extra: str, settings: dict[str, str] = E5) -> tuple[int, str, str]:
    env = mnemo_env(model_dir=model_dir, extra=settings)
    result = run_cli(["reembed", "--data-dir", str(data_dir), *extra], env=env, timeout=300)
    return result.returncode, result.stdout, result.stderr


def test_reembed_gives_the_vectors_an_add_with_the_new_model_gives(tmp_path: Path, model_dir: Path) -> None:
    with serving(tmp_path / "fresh", model_dir=model_dir, extra_env=E5) as fresh:
        _load(fresh)
        wait_final_vectors(fresh)
        wanted = _search(fresh)
    data_dir = tmp_path / "switched"
    with serving(data_dir, model_dir=model_dir) as minilm:
        _load(minilm)
        key = minilm.api_key
        code, _, err = _reembed(data_dir, model_dir)
        assert code == 2 and "already using the data directory" in err, "never while serve writes"

    code, out, err = _reembed(data_dir, model_dir)
    assert code == 0, err
    assert "re-embedded 7 memories with multilingual-e5-small/onnx-fp32" in out, out

    refused = start_server(data_dir, model_dir=model_dir, api_key=key, wait=False)
    assert refused.process.wait(120) != 0
    assert "holds vectors of multilingual-e5-small" in refused.log() and "mnemo reembed" in refused.log()

    with serving(data_dir, model_dir=model_dir, api_key=key, extra_env=E5) as switched:
        found = _search(switched)
    for question in QUESTIONS:
        assert [memory for memory, _ in found[question]] == [memory for memory, _ in wanted[question]], question
        semantic = [s for _, s in found[question]]
        assert semantic == pytest.approx([s for _, s in wanted[question]], abs=0.002), question

    code, out, _ = _reembed(data_dir, model_dir)
    assert code == 0 and "nothing to do" in out


def test_reembed_mixes_context_as_an_add_with_mixed_context_does(tmp_path: Path, model_dir: Path) -> None:
    mixed = {"MNEMO_EMBEDDER_PRECISION": "fp32", "MNEMO_EMBEDDING_CONTEXT": "mixed"}
    with serving(tmp_path / "fresh", model_dir=model_dir, extra_env=mixed) as fresh:
        _load(fresh)
        wanted = _search(fresh)
    data_dir = tmp_path / "joint"
    joint_env = {"MNEMO_EMBEDDER_PRECISION": "fp32", "MNEMO_EMBEDDING_CONTEXT": "joint"}
    with serving(data_dir, model_dir=model_dir, extra_env=joint_env) as joint:
        _load(joint)
        key = joint.api_key
        before = _search(joint)
    code, _, err = _reembed(data_dir, model_dir, "--force", settings=mixed)
    assert code == 0, err
    with serving(data_dir, model_dir=model_dir, api_key=key, extra_env=mixed) as switched:
        found = _search(switched)
    for question in QUESTIONS:
        semantic = [s for _, s in found[question]]
        assert [memory for memory, _ in found[question]] == [memory for memory, _ in wanted[question]], question
        assert semantic == pytest.approx([s for _, s in wanted[question]], abs=0.002), question
    assert found != before, "the joint vectors differ from the mixed ones"


def test_reembed_refuses_a_data_dir_without_a_database(tmp_path: Path, model_dir: Path) -> None:
    code, _, err = _reembed(tmp_path / "empty", model_dir)
    assert code == 2 and "there is no mnemo database" in err, err


def test_an_embedder_that_cannot_embed_leaves_the_database_as_it_was(tmp_path: Path, model_dir: Path) -> None:
    data_dir = tmp_path / "data"
    with serving(data_dir, model_dir=model_dir) as before:
        _load(before)
        key = before.api_key
        wait_final_vectors(before)  # or the next server's workers would change them
        wanted = _search(before)
    unreachable = {"MNEMO_EMBEDDER": "openai", "MNEMO_OPENAI_EMBEDDING_BASE_URL": "http://127.0.0.1:9/v1"}
    env = mnemo_env(model_dir=model_dir, extra=unreachable)
    result = run_cli(["reembed", "--data-dir", str(data_dir)], env=env, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "cannot embed" in result.stderr and "was not changed" in result.stderr, result.stderr
    with serving(data_dir, model_dir=model_dir, api_key=key) as after:  # the same model is still accepted
        assert _search(after) == wanted
