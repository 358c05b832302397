"""Assembling a running mnemo from its settings: database, embedder, pipeline, workers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from mnemo.embedded_db import EmbeddedPostgres
from mnemo.pipeline.commands import AddLimits
from mnemo.pipeline.extraction import Extractor
from mnemo.pipeline.ingest import Ingestor
from mnemo.pipeline.offline_extractor import OfflineExtractor
from mnemo.pipeline.rerank import LLMReranker
from mnemo.pipeline.retrieve import Retriever
from mnemo.providers.embedding.base import Embedder
from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.providers.llm.base import LLM
from mnemo.services import Services
from mnemo.settings import Settings
from mnemo.storage.database import Database
from mnemo.storage.migrate import migrate
from mnemo.storage.queue import JobQueue
from mnemo.worker.runner import Worker, worker_id

logger = logging.getLogger(__name__)


@asynccontextmanager
async def database_url(settings: Settings, *, stop_embedded: bool = True) -> AsyncIterator[str]:
    """The configured database URL, or the embedded server's (started here, stopped on exit)."""
    if settings.database_url is not None:
        yield settings.database_url.get_secret_value()
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    url = embedded.start()
    try:
        yield url
    finally:
        embedded.stop(only_if_started_here=not stop_embedded)


@asynccontextmanager
async def open_database(settings: Settings, url: str) -> AsyncIterator[Database]:
    await migrate(url)
    db = Database(url, min_size=settings.pool_min_size, max_size=settings.pool_max_size)
    await db.open()
    try:
        yield db
    finally:
        await db.close()


def build_embedder(settings: Settings) -> Embedder:
    if settings.embedder == "openai":
        from mnemo.providers.embedding.openai_http import OpenAIEmbedder

        return OpenAIEmbedder(
            base_url=settings.openai_embedding_base_url,
            model=settings.openai_embedding_model,
            api_key=settings.openai_embedding_api_key.get_secret_value() if settings.openai_embedding_api_key else None,
            dimensions=settings.openai_embedding_dimensions,
        )
    from mnemo.providers.embedding.minilm_onnx import MiniLMOnnxEmbedder

    return MiniLMOnnxEmbedder(
        settings.model_cache_dir,
        precision=settings.embedder_precision,
        threads=settings.embedder_threads,
        max_batch=settings.embedder_max_batch,
    )


def build_extractors(settings: Settings, llm: LLM | None) -> tuple[Extractor, Extractor | None]:
    """The configured extractor, and the one to fall back to when it stays unreachable."""
    if llm is None:
        return OfflineExtractor(), None
    from mnemo.pipeline.llm_extractor import LLMExtractor

    fallback = OfflineExtractor() if settings.llm_fallback == "offline" else None
    return LLMExtractor(llm), fallback


def build_llm(settings: Settings) -> LLM | None:
    """The configured LLM provider, or None for ``llm_provider = "none"``."""
    from mnemo.providers.llm import AnthropicLLM, OpenAICompatLLM, RetryPolicy

    if settings.llm_provider == "none":
        return None

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    retry = RetryPolicy(total_timeout=settings.llm_total_timeout_seconds)
    if settings.llm_provider == "anthropic":
        if key is None:
            raise ValueError("MNEMO_LLM_API_KEY is required for the anthropic provider")
        return AnthropicLLM(
            model=settings.llm_model,
            api_key=key,
            base_url=settings.llm_base_url or "https://api.anthropic.com",
            timeout=settings.llm_timeout_seconds,
            retry=retry,
            max_concurrency=settings.llm_max_concurrency,
        )
    return OpenAICompatLLM(
        model=settings.llm_model,
        base_url=settings.llm_base_url or "https://api.openai.com/v1",
        api_key=key,
        timeout=settings.llm_timeout_seconds,
        structured_output=settings.llm_structured_output,
        json_mode=settings.llm_json_mode,
        retry=retry,
        max_concurrency=settings.llm_max_concurrency,
    )


@asynccontextmanager
async def open_services(settings: Settings, db: Database) -> AsyncIterator[Services]:
    batcher = EmbeddingBatcher(build_embedder(settings), max_batch=settings.embedder_max_batch)
    batcher.start()
    llm = build_llm(settings)
    try:
        primary, fallback = build_extractors(settings, llm)
        yield Services(
            settings=settings,
            db=db,
            batcher=batcher,
            ingestor=Ingestor(batcher, primary, fallback=fallback, same_meaning=settings.same_meaning_threshold),
            retriever=Retriever(batcher, settings.ranking_weights()),
            reranker=LLMReranker(llm) if llm is not None else None,
            limits=AddLimits(settings.max_messages_per_add, settings.max_message_chars),
        )
    finally:
        if llm is not None:
            await llm.aclose()
        await batcher.close()


def build_worker(services: Services) -> Worker:
    settings = services.settings
    queue = JobQueue(services.db, worker_id(), lease=timedelta(seconds=settings.job_lease_seconds))
    return Worker(
        services.db,
        services.ingestor,
        queue,
        concurrency=settings.worker_concurrency,
        poll_seconds=settings.job_poll_seconds,
        limits=services.limits,
    )
