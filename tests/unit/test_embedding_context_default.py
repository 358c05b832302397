"""How a memory's vector carries its context when ``MNEMO_EMBEDDING_CONTEXT`` is unset: deferred with a model that runs
in-process (the second pass costs idle CPU), joint with an endpoint (which would be sent each text twice)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnemo.settings import Settings


@pytest.mark.parametrize(
    ("embedder", "mode"), [("minilm-onnx", "deferred"), ("e5-onnx", "deferred"), ("openai", "joint")]
)
def test_unset_the_embedder_decides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: str, mode: str) -> None:
    monkeypatch.setenv("MNEMO_EMBEDDER", embedder)
    assert Settings(data_dir=tmp_path).context_mode() == mode


@pytest.mark.parametrize("mode", ["joint", "mixed", "deferred"])
def test_the_environment_variable_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("MNEMO_EMBEDDER", "openai")
    monkeypatch.setenv("MNEMO_EMBEDDING_CONTEXT", mode)
    assert Settings(data_dir=tmp_path).context_mode() == mode
