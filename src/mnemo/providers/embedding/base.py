"""The embedder port.

An embedder turns texts into L2-normalised float32 vectors of a fixed dimension. Implementations are
synchronous and CPU- or IO-bound; :class:`mnemo.providers.embedding.batcher.EmbeddingBatcher` runs
them off the event loop and coalesces concurrent requests into batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from mnemo.errors import Unavailable

Vectors = npt.NDArray[np.float32]


class EmbedderUnavailable(Unavailable):
    """The embedder could not produce vectors (model missing, endpoint down): a request answers 503, a job
    is retried later."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """How to read one model's cosines. Models spread them differently (all-MiniLM-L6-v2: unrelated texts near
    0.1-0.3, paraphrases above 0.9; multilingual-e5-small: everything between 0.75 and 1), while the ranking
    mixes the semantic signal with others on a fixed scale, and deduplication needs one bound for "the same"."""

    #: The semantic signal is ``(cosine - floor) * slope``, clipped to [0, 1].
    floor: float = 0.0
    slope: float = 1.0
    #: The default cosine at or above which two memories of one scope say the same thing.
    same_meaning: float = 0.92

    def semantic(self, cosine: float) -> float:
        return min(1.0, max(0.0, (cosine - self.floor) * self.slope))


#: all-MiniLM-L6-v2's reading, which the ranking's weights were tuned on; the default of every embedder.
PLAIN = Calibration()


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

    @property
    def query_prefix(self) -> str:
        """Put before a question (a search, the messages an extraction looks up memories with) by
        :class:`~mnemo.providers.embedding.batcher.EmbeddingBatcher`: models trained with instructions, such as
        e5's ``query: ``, need it; most models take ``""``."""
        ...

    @property
    def passage_prefix(self) -> str:
        """Put before every text that is stored (e5: ``passage: ``)."""
        ...

    @property
    def calibration(self) -> Calibration:
        """How to read this model's cosines."""
        ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return an array of shape ``(len(texts), dimensions)``, each row L2-normalised. The texts carry their
        prefixes already."""
        ...
