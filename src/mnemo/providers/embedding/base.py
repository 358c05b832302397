"""The embedder port.

An embedder turns texts into L2-normalised float32 vectors of a fixed dimension. Implementations are
synchronous and CPU- or IO-bound; :class:`mnemo.providers.embedding.batcher.EmbeddingBatcher` runs
them off the event loop and coalesces concurrent requests into batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from mnemo.errors import Unavailable

Vectors = npt.NDArray[np.float32]


class EmbedderUnavailable(Unavailable):
    """The embedder could not produce vectors (model missing, endpoint down): a request answers 503, a job
    is retried later."""


class Embedder(Protocol):
    """Turns texts into unit-length vectors; one row per input text, in order."""

    @property
    def name(self) -> str:
        """A stable identifier of the model (stored with the vectors)."""
        ...

    @property
    def dimensions(self) -> int:
        """Length of every vector this embedder returns."""
        ...

    @property
    def vector_space(self) -> str:
        """The model whose vectors these are: embedders of one space (say the int8 and fp32 runs of one
        model) may share a database; vectors of different spaces must never be compared."""
        ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return an array of shape ``(len(texts), dimensions)``, each row L2-normalised."""
        ...
