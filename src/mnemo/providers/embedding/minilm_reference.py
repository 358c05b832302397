"""A plain numpy forward pass of all-MiniLM-L6-v2, the yardstick for the ONNX graph.

It follows the Hugging Face ``BertModel`` + sentence-transformers pipeline step by step, in float64, one
text at a time (so without padding or masks), sharing nothing with the graph builder but the tokenizer
and the weight file. Slow, and only meant for tests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from mnemo.providers.embedding.base import Vectors
from mnemo.providers.embedding.minilm_onnx import MINILM, BertConfig, load_tokenizer, model_dir, tokenize

Array = npt.NDArray[np.float64]
Params = Mapping[str, Array]


def _load_params() -> dict[str, Array]:
    from safetensors.numpy import load_file

    tensors = load_file(str(model_dir() / "model.safetensors"))
    return {name: np.asarray(value, dtype=np.float64) for name, value in tensors.items()}


def _layer_norm(x: Array, params: Params, prefix: str, eps: float) -> Array:
    centred = x - x.mean(axis=-1, keepdims=True)
    variance = (centred**2).mean(axis=-1, keepdims=True)
    normalised: Array = centred / np.sqrt(variance + eps)
    return normalised * params[f"{prefix}.weight"] + params[f"{prefix}.bias"]


def _linear(x: Array, params: Params, prefix: str) -> Array:
    return x @ params[f"{prefix}.weight"].T + params[f"{prefix}.bias"]


def _gelu(x: Array) -> Array:
    """Exact GELU; numpy has no erf, so apply ``math.erf`` element by element."""
    erf = np.fromiter((math.erf(value) for value in (x / math.sqrt(2.0)).flat), np.float64, x.size)
    return 0.5 * x * (1.0 + erf.reshape(x.shape))


def _softmax(x: Array) -> Array:
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    probs: Array = shifted / shifted.sum(axis=-1, keepdims=True)
    return probs


def _attention(h: Array, params: Params, prefix: str, config: BertConfig) -> Array:
    seq = h.shape[0]

    def heads(name: str) -> Array:  # [heads, seq, head_size]
        projected = _linear(h, params, f"{prefix}.self.{name}")
        return projected.reshape(seq, config.heads, config.head_size).transpose(1, 0, 2)

    q, k, v = heads("query"), heads("key"), heads("value")
    probs = _softmax(q @ k.transpose(0, 2, 1) / math.sqrt(config.head_size))
    context = (probs @ v).transpose(1, 0, 2).reshape(seq, config.hidden)
    output = _linear(context, params, f"{prefix}.output.dense")
    return _layer_norm(output + h, params, f"{prefix}.output.LayerNorm", config.layer_norm_eps)


def _encode(ids: Sequence[int], params: Params, config: BertConfig) -> Array:
    """Last hidden states ``[seq, hidden]`` of one unpadded sequence."""
    h = (
        params["embeddings.word_embeddings.weight"][list(ids)]
        + params["embeddings.position_embeddings.weight"][: len(ids)]
        + params["embeddings.token_type_embeddings.weight"][0]
    )
    h = _layer_norm(h, params, "embeddings.LayerNorm", config.layer_norm_eps)
    for index in range(config.layers):
        prefix = f"encoder.layer.{index}"
        h = _attention(h, params, f"{prefix}.attention", config)
        inner = _gelu(_linear(h, params, f"{prefix}.intermediate.dense"))
        output = _linear(inner, params, f"{prefix}.output.dense")
        h = _layer_norm(output + h, params, f"{prefix}.output.LayerNorm", config.layer_norm_eps)
    return h


def reference_embed(texts: Sequence[str]) -> Vectors:
    """Mean-pooled, L2-normalised sentence embeddings, float32 ``[len(texts), 384]``."""
    directory = model_dir()
    params = _load_params()
    ids = tokenize(load_tokenizer(directory), texts)
    vectors = np.zeros((len(texts), MINILM.hidden), dtype=np.float64)
    for row, tokens in enumerate(ids):
        mean = _encode(tokens, params, MINILM).mean(axis=0)
        vectors[row] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return vectors.astype(np.float32)
