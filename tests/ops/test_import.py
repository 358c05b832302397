"""``mnemo import`` into the embedded database, from a running Mem0-compatible API (a second mnemo, which
speaks the same API) and from JSON files: memories arrive verbatim (ids, text, metadata, categories, dates,
expiry, entity ids, supersede links), an interrupted import resumes, and running one again writes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.server import MnemoServer, mnemo_env, run_cli, serving
from tests.ops.support import memories, populate, verbatim


def _cli(model_dir: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli(list(args), env=mnemo_env(model_dir=model_dir), timeout=180)
    return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="module")
def source(server: MnemoServer) -> MnemoServer:
    populate(server, user="alice")
    with server.client() as http:  # more than one page (100) of one entity
        verbatim(http, [{"role": "user", "content": f"Bulk fact number {n}."} for n in range(130)], user_id="bulk")
    return server


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[MnemoServer]:
    with serving(tmp_path_factory.mktemp("target"), model_dir=model_dir) as running:
        yield running


def _key(model_dir: Path, target: MnemoServer, project: str) -> str:
    code, out, err = _cli(model_dir, "keys", "create", "--project", project, "--data-dir", str(target.data_dir))
    assert code == 0, err
    return out.splitlines()[-1]


def _held(server: MnemoServer, key: str | None = None) -> dict[str, dict[str, Any]]:
    with server.client(key) as http:
        return memories(http)


def test_import_from_a_running_api(source: MnemoServer, target: MnemoServer, model_dir: Path) -> None:
    wanted = _held(source)
    assert len(wanted) >= 137
    assert any(m["replaced_by"] for m in wanted.values()) and any(m["categories"] for m in wanted.values())
    command = ["import", source.url, "--api-key", source.api_key, "--data-dir", str(target.data_dir)]

    code, out, err = _cli(model_dir, *command)
    assert code == 0, err
    assert "import [" in err and f"imported {len(wanted)} memories" in out, (out, err)
    assert _held(target) == wanted  # every field as get-all serves it, ids and dates included
    with target.client() as http:
        some = next(iter(wanted))
        history = http.get(f"/v1/memories/{some}/history/").json()
        assert [(h["event"], h["new_memory"]) for h in history] == [("ADD", wanted[some]["memory"])]
        found = http.post(
            "/v3/memories/search/", json={"query": "Where does Alice work?", "filters": {"user_id": "alice"}}
        )
        assert any("Globex" in hit["memory"] for hit in found.json()["results"]), found.text

    # Again: nothing new is written.
    code, out, err = _cli(model_dir, *command)
    assert code == 0, err
    assert out.startswith("imported 0 memories") and _held(target) == wanted, out

    # Resume: what an interrupted import had not written yet (here: deleted since) is written, nothing else.
    # (Memories outside any correction: deleting a correction would make what it corrected current again.)
    corrections = {m["replaced_by"] for m in wanted.values()}
    missing = sorted(i for i, m in wanted.items() if m["replaced_by"] is None and i not in corrections)[:2]
    with target.client() as http:
        for memory_id in missing:
            assert http.delete(f"/v1/memories/{memory_id}/").status_code == 200
    code, out, err = _cli(model_dir, *command)
    assert code == 0, err
    assert out.startswith("imported 2 memories") and _held(target) == wanted, out


def test_bad_sources_are_refused_in_one_line(source: MnemoServer, target: MnemoServer, model_dir: Path) -> None:
    data_dir = str(target.data_dir)
    code, _, err = _cli(model_dir, "import", source.url, "--api-key", "m0-wrong", "--data-dir", data_dir)
    assert code == 1 and "refused the API key (401)" in err and "Traceback" not in err, err
    code, _, err = _cli(model_dir, "import", source.url, "--data-dir", data_dir)
    assert code == 2 and "needs its API key" in err, err
    code, _, err = _cli(model_dir, "import", str(Path(data_dir) / "nope.json"), "--data-dir", data_dir)
    assert code == 2 and "no file" in err, err
    (Path(data_dir) / "bad.json").write_text("{not json")
    code, _, err = _cli(model_dir, "import", str(Path(data_dir) / "bad.json"), "--data-dir", data_dir)
    assert code == 2 and "is not JSON" in err, err
    (Path(data_dir) / "odd.json").write_text('{"count": 3}')
    code, _, err = _cli(model_dir, "import", str(Path(data_dir) / "odd.json"), "--data-dir", data_dir)
    assert code == 2 and "holds no memories" in err, err


def test_import_from_files(source: MnemoServer, target: MnemoServer, model_dir: Path, tmp_path: Path) -> None:
    data_dir = str(target.data_dir)
    wanted = _held(source)
    get_all = tmp_path / "get_all.json"
    get_all.write_text(json.dumps({"results": list(wanted.values())}))

    code, out, err = _cli(model_dir, "import", str(get_all), "--project", "from-file", "--data-dir", data_dir)
    assert code == 0, err
    assert out.startswith(f"imported {len(wanted)} memories into project from-file"), out
    key = _key(model_dir, target, "from-file")
    assert _held(target, key) == wanted
    code, out, err = _cli(model_dir, "import", str(get_all), "--project", "from-file", "--data-dir", data_dir)
    assert code == 0 and out.startswith("imported 0 memories"), (out, err)

    # An export-shaped file: other field names, a naive time, and items that are not memories.
    kept = str(uuid.uuid4())
    export = tmp_path / "export.json"
    items: list[Any] = [
        {
            "id": kept,
            "text": "Likes green tea.",
            "user_id": "carol",
            "session_id": "s-1",
            "categories": ["food"],
            "metadata": {"k": "v"},
            "created_at": "2024-03-01T10:00:00Z",
            "updated_at": "2024-03-02T10:00:00",
            "expiration_date": "2030-05-01",
        },
        {"memory": "no id"},
        {"id": "not-a-uuid", "memory": "x"},
        "a string",
    ]
    export.write_text(json.dumps({"memories": items}))
    code, out, err = _cli(model_dir, "import", str(export), "--project", "export", "--data-dir", data_dir)
    assert code == 1, err  # some items could not be imported: said, and the rest is in
    assert out.startswith("imported 1 memories") and "3 invalid" in out, out
    assert err.count("warning: skipped") == 3 and "not-a-uuid" in err, err
    (memory,) = _held(target, _key(model_dir, target, "export")).values()
    assert memory["id"] == kept and memory["memory"] == "Likes green tea."
    assert (memory["user_id"], memory["session_id"], memory["categories"]) == ("carol", "s-1", ["food"])
    assert (memory["created_at"], memory["updated_at"]) == ("2024-03-01T10:00:00+00:00", "2024-03-02T10:00:00+00:00")
    assert (memory["expiration_date"], memory["metadata"]) == ("2030-05-01", {"k": "v"})

    bare = tmp_path / "list.json"
    bare.write_text(json.dumps(items[:1]))
    code, out, err = _cli(model_dir, "import", str(bare), "--project", "export", "--data-dir", data_dir)
    assert code == 0 and out.startswith("imported 0 memories") and "1 already there" in out, (out, err)
