"""Embeddings from an OpenAI-compatible ``/embeddings`` endpoint (OpenAI, vLLM, Ollama, TEI...)."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import numpy as np

from mnemo.providers.embedding.base import PLAIN, Calibration, EmbedderUnavailable, Vectors


class OpenAIEmbedder:
    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None,
        dimensions: int,
        query_prefix: str = "",
        passage_prefix: str = "",
        timeout: float = 30.0,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)
        self._model = model
        self._dimensions = dimensions
        self._prefixes = (query_prefix, passage_prefix)

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    @property
    def vector_space(self) -> str:
        return f"openai:{self._model}"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    @property
    def query_prefix(self) -> str:
        return self._prefixes[0]

    @property
    def passage_prefix(self) -> str:
        return self._prefixes[1]

    @property
    def calibration(self) -> Calibration:
        return PLAIN

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimensions), dtype=np.float32)
        try:
            response = self._client.post("/embeddings", json={"model": self._model, "input": list(texts)})
            response.raise_for_status()
            items = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = np.asarray([item["embedding"] for item in items], dtype=np.float32)
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            raise EmbedderUnavailable(f"embedding endpoint failed: {exc}") from exc
        if vectors.shape != (len(texts), self._dimensions):
            raise EmbedderUnavailable(
                f"embedding endpoint returned shape {vectors.shape}, expected ({len(texts)}, {self._dimensions})"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        normalised: Vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        return normalised
