"""Assembling a running mnemo from its settings: database, embedder, pipeline, workers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from urllib.parse import urlsplit

from mnemo.activity import Activity
from mnemo.domain.projects import ProjectSettings
from mnemo.embedded_db import EmbeddedPostgres, require_existing
from mnemo.pipeline.commands import AddLimits
from mnemo.pipeline.digests import MemoryDigests
from mnemo.pipeline.extraction import ExtractionFailed, Extractor
from mnemo.pipeline.in_context import Backlog
from mnemo.pipeline.ingest import Ingestor
from mnemo.pipeline.llm_extractor import LLMExtractor, PromptTemplate
from mnemo.pipeline.media import MediaReader
from mnemo.pipeline.offline_extractor import OfflineExtractor
from mnemo.pipeline.rerank import ProjectReranker
from mnemo.pipeline.retrieve import Retriever
from mnemo.providers.documents import DocumentFetcher
from mnemo.providers.embedding.base import Embedder
from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.providers.llm import AnthropicLLM, OpenAICompatLLM, RetryPolicy
from mnemo.providers.llm.base import LLM
from mnemo.providers.llm.metered import metered
from mnemo.providers.llm.profiles import LLMChoice, LLMProfile, ProjectLLM, UnknownProfile, unknown_profile
from mnemo.services import Services
from mnemo.settings import Settings
from mnemo.storage import AccountStore, Database, JobQueue, claim_vector_space, ensure_vector_index, migrate
from mnemo.storage.deliveries import DeliveryQueue
from mnemo.storage.pending_vectors import oldest_wait
from mnemo.worker.final_vectors import FinalVectors
from mnemo.worker.runner import Worker, local_worker_alive, worker_id
from mnemo.worker.webhooks import Deliverer

logger = logging.getLogger(__name__)


@asynccontextmanager
async def database_url(settings: Settings, *, stop_embedded: bool = True, existing: bool = False) -> AsyncIterator[str]:
    """The configured database URL, or the embedded server's (started here, stopped on exit). With
    ``existing``, an embedded database that was never created is refused (:class:`NoDatabase`)."""
    if settings.database_url is not None:
        yield settings.database_url.get_secret_value()
        return
    if existing:
        require_existing(settings.data_dir)
    embedded = EmbeddedPostgres(settings.data_dir)
    url = embedded.start()
    try:
        yield url
    finally:
        embedded.stop(only_if_started_here=not stop_embedded)


@asynccontextmanager
async def open_database(settings: Settings, url: str, *, serving: bool = False) -> AsyncIterator[Database]:
    """``serving``: the process serves the API (its verbatim adds' statements run on connections of their own,
    :meth:`Database.planned_once`)."""
    await migrate(url)
    prepare = settings.prepared_statements
    if prepare is None:  # the embedded database has no pooler in front of it
        prepare = settings.database_url is None
    db = Database(
        url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        prepare=prepare,
        planned_once=serving,
    )
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
            query_prefix=settings.openai_embedding_query_prefix,
            passage_prefix=settings.openai_embedding_passage_prefix,
        )
    from mnemo.providers.embedding.e5_onnx import E5OnnxEmbedder
    from mnemo.providers.embedding.minilm_onnx import MiniLMOnnxEmbedder

    local = E5OnnxEmbedder if settings.embedder == "e5-onnx" else MiniLMOnnxEmbedder
    return local(
        settings.model_cache_dir,
        precision=settings.embedder_precision,
        threads=settings.embedder_threads,
        max_batch=settings.embedder_max_batch,
    )


def build_llm(profile: LLMProfile) -> OpenAICompatLLM | AnthropicLLM | None:
    """The profile's LLM provider, or None for ``provider = "none"``."""
    if profile.provider == "none":
        return None

    key = profile.api_key.get_secret_value() if profile.api_key else None
    retry = RetryPolicy(total_timeout=profile.total_timeout_seconds)
    if profile.provider == "anthropic":
        if key is None:
            raise ValueError("an API key (MNEMO_LLM_API_KEY, or api_key in a profile) is required for anthropic")
        return AnthropicLLM(
            model=profile.model,
            api_key=key,
            base_url=profile.base_url or "https://api.anthropic.com",
            timeout=profile.timeout_seconds,
            retry=retry,
            max_concurrency=profile.max_concurrency,
        )
    return OpenAICompatLLM(
        model=profile.model,
        base_url=profile.base_url or "https://api.openai.com/v1",
        api_key=key,
        timeout=profile.timeout_seconds,
        structured_output=profile.structured_output,
        json_mode=profile.json_mode,
        retry=retry,
        max_concurrency=profile.max_concurrency,
    )


class ProfileLLMs:
    """The LLM of each project: the profile it selects (else "default"), with its model override.

    Each profile's provider client is built once and shared by every project and model on it (a model
    override is a view of the profile's client). Extraction and re-ranking both resolve through here, so a
    project's memories only ever go to the LLM it chose.
    """

    def __init__(self, settings: Settings) -> None:
        self.profiles = settings.llm_profile_table()
        # Each profile's calls are counted under its name (mnemo_llm_* metrics).
        self.llms = {name: metered(build_llm(profile), name) for name, profile in self.profiles.items()}

    def for_project(self, project_settings: ProjectSettings) -> ProjectLLM:
        """Raises :class:`UnknownProfile` when the project selects a profile this deployment does not define."""
        choice = LLMChoice.of_project(project_settings)
        if choice.profile not in self.llms:
            raise UnknownProfile(unknown_profile(choice.profile, self.profiles))
        llm = self.llms[choice.profile]
        if llm is not None and choice.model:
            llm = llm.with_model(choice.model)
        return ProjectLLM(choice, llm)

    def vision_llm(self, project_settings: ProjectSettings) -> LLM | None:
        """The project's LLM when its profile declares ``vision`` (it then describes images), else None."""
        try:
            picked = self.for_project(project_settings)
        except UnknownProfile:
            return None
        return picked.llm if self.profiles[picked.choice.profile].vision else None

    async def aclose(self) -> None:
        for llm in self.llms.values():
            if llm is not None:
                await llm.aclose()


class ProfileExtractors:
    """The extractor of each project: an LLM extractor on the project's LLM (:class:`ProfileLLMs`); the offline
    extractor serves profiles with ``provider = "none"`` and is the fallback (``llm_fallback = "offline"``).
    """

    #: Distinct (profile, model) extractors kept; they are cheap views, so the oldest is simply dropped.
    _MAX_EXTRACTORS = 64

    def __init__(self, settings: Settings, llms: ProfileLLMs) -> None:
        self.llms = llms
        self._offline = OfflineExtractor()
        self._fallback = self._offline if settings.llm_fallback == "offline" else None
        self._template = PromptTemplate.load()
        self._extractors: dict[tuple[str, str | None], Extractor] = {}

    def for_project(self, project_settings: ProjectSettings) -> tuple[Extractor, Extractor | None]:
        try:
            picked = self.llms.for_project(project_settings)
        except UnknownProfile as exc:
            raise ExtractionFailed(
                f"{exc} The project selects a profile this deployment does not define: select one with PATCH"
                ' on the project ({"llm": {"profile": ...}}), then retry.'
            ) from None
        if picked.llm is None:
            return self._offline, None
        key = (picked.choice.profile, picked.choice.model)
        extractor = self._extractors.get(key)
        if extractor is None:
            if len(self._extractors) >= self._MAX_EXTRACTORS:
                self._extractors.pop(next(iter(self._extractors)))
            extractor = self._extractors[key] = LLMExtractor(picked.llm, template=self._template)
        return extractor, self._fallback


@asynccontextmanager
async def open_services(settings: Settings, db: Database) -> AsyncIterator[Services]:
    embedder = build_embedder(settings)
    await claim_vector_space(db, embedder.vector_space, embedder.dimensions)
    if settings.vector_index_min_memories:
        await ensure_vector_index(
            db,
            embedder.dimensions,
            links=settings.vector_index_links,
            construction=settings.vector_index_construction,
        )
    activity = Activity()
    batcher = EmbeddingBatcher(
        embedder,
        max_batch=settings.embedder_max_batch,
        local=settings.embedder != "openai",
        alone=activity.alone,
    )
    batcher.start()
    try:
        llms = ProfileLLMs(settings)
    except BaseException:
        await batcher.close()
        raise
    limits = AddLimits(settings.max_messages_per_add, settings.max_message_chars)
    accounts = AccountStore(db, remember_keys_seconds=settings.key_cache_seconds)
    try:
        yield Services(
            settings=settings,
            db=db,
            activity=activity,
            accounts=accounts,
            batcher=batcher,
            ingestor=Ingestor(
                batcher,
                ProfileExtractors(settings, llms),
                limits=limits,
                media=MediaReader(
                    DocumentFetcher(
                        settings.document_allowed_hosts.split(","),
                        max_bytes=settings.document_max_bytes,
                        timeout_seconds=settings.document_fetch_timeout_seconds,
                    ),
                    vision=llms,
                ),
                same_meaning=(
                    embedder.calibration.same_meaning
                    if settings.same_meaning_threshold is None
                    else settings.same_meaning_threshold
                ),
                context_messages=settings.embedding_context_messages,
                context_mode=settings.context_mode(),
                backlog=Backlog(partial(oldest_wait, db), behind_seconds=settings.final_vectors_behind_seconds),
            ),
            retriever=Retriever(
                batcher,
                settings.ranking_weights(),
                approximate_from=settings.vector_index_min_memories,
                ef_search=settings.vector_index_ef_search,
            ),
            reranker=ProjectReranker(llms),
            limits=limits,
            digests=MemoryDigests(llms),
        )
    finally:
        await accounts.aclose()
        await llms.aclose()
        await batcher.close()


def build_worker(services: Services, *, dedicated: bool = False) -> Worker:
    """The worker of a process: ``dedicated`` when the process runs nothing else (``mnemo worker``)."""
    settings = services.settings
    queue = JobQueue(services.db, worker_id(), lease=timedelta(seconds=settings.job_lease_seconds))
    # A delivery attempt is bounded by the timeout: its lease outlasts it, so only a dead worker's lapses.
    deliveries = DeliveryQueue(
        services.db,
        queue.worker_id,
        lease=timedelta(seconds=settings.webhook_timeout_seconds + 30),
        max_attempts=settings.webhook_max_attempts,
    )
    return Worker(
        services.db,
        services.ingestor,
        queue,
        concurrency=settings.jobs_at_once(dedicated=dedicated),
        poll_seconds=settings.job_poll_seconds,
        limits=services.limits,
        activity=services.activity,
        payload_retention=(
            timedelta(days=settings.event_payload_retention_days) if settings.event_payload_retention_days else None
        ),
        deliverer=Deliverer(
            deliveries,
            hosts=settings.webhook_hosts(),
            timeout=settings.webhook_timeout_seconds,
            retry_base_seconds=settings.webhook_retry_base_seconds,
            poll_seconds=settings.job_poll_seconds,
            is_alive=local_worker_alive,
        ),
        final_vectors=FinalVectors(services.db, services.batcher, services.activity),
    )


def describe_database(settings: Settings) -> str:
    """Which database a command uses, for people (never the password)."""
    if settings.database_url is None:
        return f"the embedded database in {settings.data_dir.expanduser().resolve() / 'pgdata'}"
    url = urlsplit(settings.database_url.get_secret_value())
    where = f"{url.hostname or 'localhost'}{f':{url.port}' if url.port else ''}{url.path}"
    return f"the database at {where}" if url.scheme else "the database given by --database-url"
