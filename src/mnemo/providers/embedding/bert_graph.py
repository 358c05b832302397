"""The ONNX graph of a BERT sentence encoder, written out op by op from packaged weights (no torch).

The encoder, attention-masked mean pooling and L2 normalisation, in standard ops only (opset 17):
``input_ids``, ``attention_mask`` (int64, ``[batch, seq]``) -> ``embeddings`` (float32, ``[batch, hidden]``).
all-MiniLM-L6-v2 and multilingual-e5-small are both built here. A model whose vocabulary table is too large to
hold as float32 (e5's 250,037 rows) leaves the lookup to its caller: the graph then takes ``token_embeddings``
(float32, ``[batch, seq, hidden]``) instead of ``input_ids``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Weights = Mapping[str, npt.NDArray[np.float32]]

# Bump whenever the graph built below changes: cached files carry it in their name.
BUILDER_VERSION = 1
OPSET = 17
#: The graph input of a model built with ``lookup=False``.
TOKEN_EMBEDDINGS = "token_embeddings"
# Additive attention bias for padding positions; exp() of it underflows to exactly 0.
MASK_BIAS = -1e9


@dataclass(frozen=True, slots=True)
class BertConfig:
    """The shape of a BERT encoder (``config.json`` of a packaged model); the defaults are all-MiniLM-L6-v2's."""

    layers: int = 6
    hidden: int = 384
    heads: int = 12
    intermediate: int = 1536
    layer_norm_eps: float = 1e-12
    max_positions: int = 512

    @property
    def head_size(self) -> int:
        return self.hidden // self.heads


class _GraphBuilder:
    """Accumulates ONNX nodes and initializers; every helper returns the name of its output."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._small_constants: dict[tuple[str, tuple[int, ...], bytes], str] = {}
        self._counter = 0

    def fresh(self, hint: str) -> str:
        self._counter += 1
        return f"{hint}_{self._counter}"

    def const(self, hint: str, value: npt.NDArray[Any]) -> str:
        """An initializer; small ones (shapes, axes, scalars) are shared between uses."""
        from onnx import numpy_helper

        key = (value.dtype.str, value.shape, value.tobytes()) if value.size <= 16 else None
        if key is not None and key in self._small_constants:
            return self._small_constants[key]
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name=name))
        if key is not None:
            self._small_constants[key] = name
        return name

    def emit(self, op_type: str, inputs: Sequence[str], outputs: Sequence[str], **attrs: Any) -> None:
        from onnx import helper

        self.nodes.append(helper.make_node(op_type, list(inputs), list(outputs), name=f"n_{outputs[0]}", **attrs))

    def op(self, op_type: str, inputs: Sequence[str], hint: str = "", **attrs: Any) -> str:
        output = self.fresh(hint or op_type.lower())
        self.emit(op_type, inputs, [output], **attrs)
        return output

    def linear(self, x: str, weight: npt.NDArray[np.float32], bias: npt.NDArray[np.float32], hint: str) -> str:
        """``x @ weight.T + bias`` for a torch ``Linear`` weight of shape ``[out, in]``."""
        product = self.op("MatMul", [x, self.const(f"{hint}.weight", weight.T)], f"{hint}.matmul")
        return self.op("Add", [product, self.const(f"{hint}.bias", bias)], hint)

    def layer_norm(self, x: str, weights: Weights, prefix: str, eps: float) -> str:
        scale = self.const(f"{prefix}.weight", weights[f"{prefix}.weight"])
        shift = self.const(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return self.op("LayerNormalization", [x, scale, shift], prefix, axis=-1, epsilon=eps)

    def gelu(self, x: str) -> str:
        """Exact GELU, ``0.5 * x * (1 + erf(x / sqrt(2)))`` (the pattern ONNX Runtime fuses)."""
        scaled = self.op("Div", [x, self.const("sqrt2", np.array(math.sqrt(2.0), np.float32))])
        shifted = self.op("Add", [self.op("Erf", [scaled]), self.const("one", np.array(1.0, np.float32))])
        return self.op("Mul", [self.op("Mul", [x, shifted]), self.const("half", np.array(0.5, np.float32))])


def _embeddings(g: _GraphBuilder, weights: Weights, config: BertConfig, tokens: str) -> str:
    """Word + position + token-type-0 embeddings, layer-normalised: ``[batch, seq, hidden]``. ``tokens`` is the
    graph input: ``input_ids`` (looked up here) or ``token_embeddings`` (looked up by the caller)."""
    if tokens == TOKEN_EMBEDDINGS:
        words = tokens
    else:
        table = g.const("word_embeddings", weights["embeddings.word_embeddings.weight"])
        words = g.op("Gather", [table, tokens])
    # Token type ids are all zero: fold that row into the position table.
    table = (
        weights["embeddings.position_embeddings.weight"][: config.max_positions]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )
    seq_len = g.op("Shape", [tokens], "seq_len", start=1, end=2)
    zero = g.const("zero", np.array([0], np.int64))
    positions = g.op("Slice", [g.const("position_embeddings", table), zero, seq_len, zero], "positions")
    summed = g.op("Add", [words, positions], "embeddings.sum")
    return g.layer_norm(summed, weights, "embeddings.LayerNorm", config.layer_norm_eps)


def _mask_bias(g: _GraphBuilder) -> tuple[str, str]:
    """The float mask ``[batch, seq]`` and the additive attention bias ``[batch, 1, 1, seq]``."""
    mask = g.op("Cast", ["attention_mask"], "mask", to=1)  # 1 = FLOAT
    padding = g.op("Sub", [g.const("one", np.array(1.0, np.float32)), mask])
    bias = g.op("Mul", [padding, g.const("mask_bias", np.array(MASK_BIAS, np.float32))])
    return mask, g.op("Unsqueeze", [bias, g.const("axes_1_2", np.array([1, 2], np.int64))], "attn_bias")


def _split_heads(g: _GraphBuilder, x: str, config: BertConfig, perm: list[int]) -> str:
    shape = g.const("heads_shape", np.array([0, 0, config.heads, config.head_size], np.int64))
    return g.op("Transpose", [g.op("Reshape", [x, shape])], perm=perm)


def _self_attention(g: _GraphBuilder, h: str, bias: str, weights: Weights, prefix: str, config: BertConfig) -> str:
    """Multi-head self-attention with one fused QKV projection; the 1/sqrt(d) scale is folded into Q."""
    scale = 1.0 / math.sqrt(config.head_size)
    names = ("query", "key", "value")
    fused_w = np.concatenate([weights[f"{prefix}.self.{n}.weight"] for n in names], axis=0)
    fused_b = np.concatenate([weights[f"{prefix}.self.{n}.bias"] for n in names], axis=0)
    fused_w[: config.hidden] *= scale
    fused_b[: config.hidden] *= scale
    qkv = g.linear(h, fused_w, fused_b, f"{prefix}.qkv")
    sizes = g.const("qkv_sizes", np.array([config.hidden] * 3, np.int64))
    q, k, v = (g.fresh(f"{prefix}.{n}") for n in ("q", "k", "v"))
    g.emit("Split", [qkv, sizes], [q, k, v], axis=-1)
    scores = g.op("MatMul", [_split_heads(g, q, config, [0, 2, 1, 3]), _split_heads(g, k, config, [0, 2, 3, 1])])
    probs = g.op("Softmax", [g.op("Add", [scores, bias])], axis=-1)
    context = g.op("MatMul", [probs, _split_heads(g, v, config, [0, 2, 1, 3])])
    merged = g.op(
        "Reshape",
        [
            g.op("Transpose", [context], perm=[0, 2, 1, 3]),
            g.const("merged_shape", np.array([0, 0, config.hidden], np.int64)),
        ],
    )
    dense = f"{prefix}.output.dense"
    projected = g.linear(merged, weights[f"{dense}.weight"], weights[f"{dense}.bias"], dense)
    residual = g.op("Add", [projected, h])
    return g.layer_norm(residual, weights, f"{prefix}.output.LayerNorm", config.layer_norm_eps)


def _encoder_layer(g: _GraphBuilder, h: str, bias: str, weights: Weights, index: int, config: BertConfig) -> str:
    prefix = f"encoder.layer.{index}"
    attended = _self_attention(g, h, bias, weights, f"{prefix}.attention", config)
    inner = f"{prefix}.intermediate.dense"
    hidden = g.gelu(g.linear(attended, weights[f"{inner}.weight"], weights[f"{inner}.bias"], inner))
    outer = f"{prefix}.output.dense"
    output = g.linear(hidden, weights[f"{outer}.weight"], weights[f"{outer}.bias"], outer)
    residual = g.op("Add", [output, attended])
    return g.layer_norm(residual, weights, f"{prefix}.output.LayerNorm", config.layer_norm_eps)


def _mean_pool_normalise(g: _GraphBuilder, h: str, mask: str) -> None:
    """Mean over unmasked tokens, then L2 normalisation, into the graph output ``embeddings``."""
    row_mask = g.op("Unsqueeze", [mask, g.const("axis_1", np.array([1], np.int64))])  # [batch, 1, seq]
    summed = g.op("Squeeze", [g.op("MatMul", [row_mask, h]), g.const("axis_1", np.array([1], np.int64))])
    count = g.op("ReduceSum", [mask, g.const("axis_last", np.array([-1], np.int64))], keepdims=1)
    mean = g.op("Div", [summed, g.op("Max", [count, g.const("min_count", np.array(1e-9, np.float32))])])
    norm = g.op("Sqrt", [g.op("ReduceSumSquare", [mean], axes=[-1], keepdims=1)])
    safe = g.op("Max", [norm, g.const("min_norm", np.array(1e-12, np.float32))])
    g.emit("Div", [mean, safe], ["embeddings"])


def build_fp32_model(weights: Weights, config: BertConfig, *, name: str, lookup: bool = True) -> Any:
    """The ONNX ``ModelProto``: ``input_ids`` (or, with ``lookup=False``, ``token_embeddings``) and
    ``attention_mask`` -> ``embeddings`` (float32)."""
    from onnx import TensorProto, checker, helper

    g = _GraphBuilder()
    tokens = "input_ids" if lookup else TOKEN_EMBEDDINGS
    h = _embeddings(g, weights, config, tokens)
    mask, bias = _mask_bias(g)
    for index in range(config.layers):
        h = _encoder_layer(g, h, bias, weights, index, config)
    _mean_pool_normalise(g, h, mask)
    inputs = [
        helper.make_tensor_value_info(TOKEN_EMBEDDINGS, TensorProto.FLOAT, ["batch", "seq", config.hidden])
        if not lookup
        else helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
    ]
    output = helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", config.hidden])
    graph = helper.make_graph(g.nodes, name, inputs, [output], initializer=g.initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mnemo", ir_version=8
    )
    checker.check_model(model)
    return model
