"""The long-lived objects one process needs, built once from the settings and passed around."""

from __future__ import annotations

from dataclasses import dataclass

from mnemo.activity import Activity
from mnemo.pipeline.commands import AddLimits
from mnemo.pipeline.digests import MemoryDigests
from mnemo.pipeline.ingest import Ingestor
from mnemo.pipeline.rerank import ProjectReranker
from mnemo.pipeline.retrieve import Retriever
from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.settings import Settings
from mnemo.storage import AccountStore, Database


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    #: the requests and jobs in progress
    activity: Activity
    accounts: AccountStore
    batcher: EmbeddingBatcher
    ingestor: Ingestor
    retriever: Retriever
    reranker: ProjectReranker
    limits: AddLimits
    digests: MemoryDigests
