"""Kill: SIGKILL workers and the whole ``serve`` (with its embedded PostgreSQL) while clients add; count what was lost.

One ``mnemo serve`` (with its in-process workers) on its embedded PostgreSQL and two ``mnemo worker``
processes on the same database (4 jobs at once each). ``--clients`` closed-loop clients (default 16)
send ``--adds`` adds (default 20,000): half ``infer=true`` (a short chat, offline extractor), half
``infer=false`` (one or two user facts), for 200 user ids. Every user fact is a distinct text of
``bench/texts.py``, so exact dedup hides no loss. Every add carries a unique marker in ``metadata``
(``kill_marker``), the same marker as its ``Idempotency-Key``, and its own ``timestamp``, so the
offline extraction can be recomputed here.

While they add, at evenly spaced points of the run (counted in adds answered), the benchmark
SIGKILLs one of the ``mnemo worker`` processes (``--worker-kills``, default 6; restarted 2 s later)
or ``serve`` together with every process of its PostgreSQL at once (``--serve-kills``, default 3;
restarted at once on the same data directory and port). A client whose request was never answered
(connection refused or reset, timeout, 5xx) sends it again with the same Idempotency-Key until it
is answered; an add answered 200 with an ``event_id`` is never sent again.

Then it waits (at most ``--drain`` s) for the queue to drain and checks, from the API (every event
through ``GET /v1/events/``, every user's memories through get-all) and from SQL:

- every answered ``event_id`` is SUCCEEDED, and its add has exactly one event;
- an answered ``infer=false`` add has exactly its messages as memories, once each, and they are its
  answer's and its event's ``results``;
- an answered ``infer=true`` add's memories are its event's ``results``, each text once, and they are
  the facts the offline extractor gives for its messages, except facts the event reports as skipped
  because the scope already held them (same text from another add, or same meaning);
- no two memories with the same scope, speaker and text; no memory without its event; nothing left
  PENDING or RUNNING; no event FAILED.

Reported: adds answered, lost and duplicated (with examples), retries by cause, every kill (jobs in
flight, seconds until the process was back, the longest time the clients then went without any add
answered, seconds until the jobs it interrupted had SUCCEEDED, and PostgreSQL's crash-recovery log
lines), throughput during the load and while draining.

    python -m bench.kill [--quick] [--adds 20000] [--worker-kills 6] [--serve-kills 3] [--clients 16]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import re
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg

from bench import texts
from bench.common import (
    MODEL_DIR,
    embedded_database_url,
    http_clients,
    machine,
    percentiles,
    report,
    sigkill_serve_and_database,
    start_worker,
    stop_leftover_postgres,
    stop_process,
    worker_id,
)
from testkit.server import MnemoServer, start_server

USERS = 200
EXTERNAL_WORKERS = 2
WORKER_CONCURRENCY = 4
WORKER_RESTART_DELAY = 2.0
RETRY_PAUSE = 0.25
GIVE_UP_SECONDS = 600.0
MARKER = "kill_marker"
BASE_TIMESTAMP = 1_767_225_600  # 2026-01-01T00:00:00Z; add n is observed n seconds later
ADD_PATH = "/v3/memories/add/"
UNFINISHED = ("PENDING", "RUNNING")
EXAMPLES = 20
RECOVERY_LOG = re.compile(r"not properly shut down|automatic recovery|redo (starts|done)|ready to accept")


# --------------------------------------------------------------------------------------------- adds


@dataclass(frozen=True)
class Add:
    n: int
    user: str
    infer: bool
    body: dict[str, Any]

    @property
    def marker(self) -> str:
        marker: str = self.body["metadata"][MARKER]
        return marker


def plan_adds(count: int, seed: int, infer_share: float) -> list[Add]:
    """``count`` adds of distinct user facts; assistant replies (infer=true only) come from a short list."""
    rng = random.Random(seed)
    facts = texts.distinct_facts(rng)
    tag = f"{seed}-{rng.getrandbits(32):08x}"
    adds = []
    for n in range(count):
        infer = rng.random() < infer_share
        if infer:
            messages = []
            for _ in range(rng.choice((1, 1, 2, 3))):
                messages.append({"role": "user", "content": next(facts)})
                if rng.random() < 0.7:
                    messages.append({"role": "assistant", "content": texts.reply(rng)})
        else:
            messages = [{"role": "user", "content": next(facts)} for _ in range(rng.randint(1, 2))]
        user = f"kill-user-{rng.randrange(USERS):03d}"
        body = {
            "messages": messages,
            "user_id": user,
            "infer": infer,
            "metadata": {MARKER: f"k-{tag}-{n:06d}"},
            "timestamp": BASE_TIMESTAMP + n,
        }
        adds.append(Add(n, user, infer, body))
    return adds


def expected_facts(add: Add) -> list[str]:
    """What the offline extractor stores for ``add`` in an empty scope (the server runs the same code)."""
    from mnemo.pipeline.commands import AddLimits, parse_add
    from mnemo.pipeline.offline_extractor import extract_facts

    command = parse_add(add.body, AddLimits())
    return list(dict.fromkeys(fact.text for fact in extract_facts(command.messages, command.observed_at)))


@dataclass
class Answer:
    event_id: str
    result_ids: list[str]
    at: float  # perf_counter when the answer arrived
    tries: int
    latency_ms: float  # from the first try


@dataclass
class Tally:
    answers: dict[int, Answer] = field(default_factory=dict)
    rejected: dict[int, str] = field(default_factory=dict)  # answered 4xx: never retried
    gave_up: list[int] = field(default_factory=list)
    unanswered_tries: Counter[str] = field(default_factory=Counter)  # exception name or 5xx status -> count

    @property
    def done(self) -> int:
        return len(self.answers) + len(self.rejected) + len(self.gave_up)


async def send(client: httpx.AsyncClient, add: Add, tally: Tally) -> None:
    """Send ``add`` until it is answered; never again once it was answered."""
    first = time.perf_counter()
    for tries in itertools.count(1):
        try:
            response = await client.post(ADD_PATH, json=add.body, headers={"Idempotency-Key": add.marker})
        except httpx.TransportError as exc:  # refused, reset, timed out: no answer, so it may be sent again
            tally.unanswered_tries[type(exc).__name__] += 1
        else:
            if response.status_code == 200:
                body = response.json()
                now = time.perf_counter()
                ids = [str(r["id"]) for r in body.get("results") or []]
                tally.answers[add.n] = Answer(body["event_id"], ids, now, tries, (now - first) * 1000)
                return
            if response.status_code < 500:
                tally.rejected[add.n] = f"{response.status_code}: {response.text[:300]}"
                return
            tally.unanswered_tries[str(response.status_code)] += 1
        if time.perf_counter() - first > GIVE_UP_SECONDS:
            tally.gave_up.append(add.n)
            return
        await asyncio.sleep(RETRY_PAUSE)


async def client_loop(client: httpx.AsyncClient, queue: Iterator[Add], tally: Tally) -> None:
    for add in queue:  # the iterator is shared: each caller takes the next add
        await send(client, add, tally)


# --------------------------------------------------------------------------------------------- processes


@dataclass
class Kill:
    kind: str  # "worker" or "serve"
    at: float  # perf_counter of the SIGKILL
    adds_answered: int
    jobs_in_flight: int
    pending: set[str]
    processes: int
    back_after_s: float = 0.0  # worker: restarted; serve: /healthz answered 200 again
    restart_failures: list[str] = field(default_factory=list)
    failed_jobs: set[str] = field(default_factory=set)
    jobs_done_after_s: float | None = None
    database_recovery: list[str] = field(default_factory=list)  # PostgreSQL's log lines about its crash recovery

    def summary(self, answers: list[float]) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "adds_answered_before": self.adds_answered,
            "processes_killed": self.processes,
            "jobs_in_flight": self.jobs_in_flight,
            "back_after_s": round(self.back_after_s, 2),
            "longest_wait_between_two_answers_s": self.longest_silence(answers),
            "interrupted_jobs_succeeded_after_s": (
                round(self.jobs_done_after_s, 2) if self.jobs_done_after_s is not None else None
            ),
            "interrupted_jobs_unfinished": len(self.pending),
            "interrupted_jobs_failed": len(self.failed_jobs),
            "restart_failures": self.restart_failures,
            "database_recovery_log": self.database_recovery,
        }

    def longest_silence(self, answers: list[float]) -> float | None:
        """The longest time without any add answered, from the kill until the process was back and 30 s more:
        how long the clients saw the service down."""
        end = self.at + self.back_after_s + 30
        window = [self.at, *(t for t in answers if self.at < t <= end)]
        if len(window) < 2:
            return None
        return round(max(b - a for a, b in itertools.pairwise(window)), 2)


def running_jobs(url: str, locked_by: str | None = None) -> set[str]:
    query = "SELECT id::text FROM events WHERE status = 'RUNNING'" + (" AND locked_by = %s" if locked_by else "")
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        return {row[0] for row in conn.execute(query, (locked_by,) if locked_by else ()).fetchall()}


def job_statuses(url: str, ids: set[str]) -> dict[str, str]:
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute("SELECT id::text, status FROM events WHERE id = ANY(%s::uuid[])", (list(ids),))
        return {row[0]: row[1] for row in rows.fetchall()}


class Cluster:
    """``serve`` (with workers) on its embedded PostgreSQL, and ``mnemo worker`` processes on the same database."""

    def __init__(self, root: Path, workers: int) -> None:
        self.root = root
        self.data_dir = root / "serve"
        self.server: MnemoServer | None = None
        self.workers: list[Any] = []
        self.worker_count = workers
        self.database_url = ""
        self.port = 0

    def start(self) -> None:
        self.server = start_server(self.data_dir, model_dir=MODEL_DIR)
        self.port = urlsplit(self.server.url).port or 0
        self.database_url = embedded_database_url(self.server)  # a Unix socket in pgdata: the same after restarts
        self.workers = [self._start_worker(index) for index in range(self.worker_count)]

    def _start_worker(self, index: int) -> Any:
        extra = {"MNEMO_WORKER_CONCURRENCY": str(WORKER_CONCURRENCY)}
        return start_worker(self.root / f"worker-{index}", self.database_url, extra_env=extra)

    @property
    def api(self) -> MnemoServer:
        assert self.server is not None
        return self.server

    def kill_worker(self, index: int, answered: int) -> Kill:
        process = self.workers[index]
        at = time.perf_counter()
        process.kill()
        process.wait()
        orphaned = running_jobs(self.database_url, worker_id(process.pid))  # a dead process commits nothing more
        time.sleep(WORKER_RESTART_DELAY)
        self.workers[index] = self._start_worker(index)
        kill = Kill("worker", at, answered, len(orphaned), orphaned, 1)
        kill.back_after_s = time.perf_counter() - at
        return kill

    def kill_serve(self, answered: int) -> Kill:
        in_flight = running_jobs(self.database_url)  # of every worker: the database goes down with serve
        log = self.data_dir / "pgdata" / "log"  # where the embedded server logs (pg_ctl -l)
        log_size = log.stat().st_size if log.exists() else 0
        at = time.perf_counter()
        killed = sigkill_serve_and_database(self.api)
        kill = Kill("serve", at, answered, len(in_flight), in_flight, killed)
        for _ in range(3):
            try:
                self.server = start_server(self.data_dir, model_dir=MODEL_DIR, api_key=self.api.api_key, port=self.port)
                break
            except RuntimeError as exc:  # the log it carries is serve's whole log: keep its end
                kill.restart_failures.append(str(exc)[-3000:])
                stop_leftover_postgres(self.data_dir / "pgdata")
        else:
            raise RuntimeError("serve did not come back after a SIGKILL:\n" + "\n".join(kill.restart_failures))
        kill.back_after_s = time.perf_counter() - at
        with log.open(errors="replace") as handle:
            handle.seek(log_size)
            kill.database_recovery = [line.strip() for line in handle if RECOVERY_LOG.search(line)]
        return kill

    def stop(self) -> None:
        for process in self.workers:
            stop_process(process)
        if self.server is not None:
            self.server.stop(timeout=120)


def kill_plan(worker_kills: int, serve_kills: int) -> list[tuple[float, str]]:
    """(share of the adds answered, kind), evenly spaced per kind, in order."""
    plan = [((j + 0.5) / worker_kills, "worker") for j in range(worker_kills)]
    plan += [((j + 0.5) / serve_kills, "serve") for j in range(serve_kills)]
    return sorted(plan)


async def kill_on_schedule(
    cluster: Cluster, plan: list[tuple[float, str]], total: int, tally: Tally, kills: list[Kill]
) -> None:
    """Carry out ``plan`` as the adds get answered; each kill is appended to ``kills`` once its process is back."""
    worker_turn = itertools.cycle(range(cluster.worker_count))
    for share, kind in plan:
        while tally.done < share * total:
            await asyncio.sleep(0.05)
        if kind == "worker":
            kill = await asyncio.to_thread(cluster.kill_worker, next(worker_turn), len(tally.answers))
        else:
            kill = await asyncio.to_thread(cluster.kill_serve, len(tally.answers))
        kills.append(kill)


async def watch_recovery(url: str, kills: list[Kill], stop: asyncio.Event) -> None:
    """Time, per kill, until every job it interrupted has SUCCEEDED (FAILED ones are noted)."""
    while True:
        waiting = [kill for kill in kills if kill.pending]
        if waiting:
            try:
                statuses = await asyncio.to_thread(job_statuses, url, set().union(*(k.pending for k in waiting)))
            except psycopg.Error:  # the database is down (serve killed): try again
                statuses = {}
            now = time.perf_counter()
            for kill in waiting:
                kill.failed_jobs |= {i for i in kill.pending if statuses.get(i) == "FAILED"}
                kill.pending -= {i for i in kill.pending if statuses.get(i) in ("SUCCEEDED", "FAILED")}
                if not kill.pending:
                    kill.jobs_done_after_s = now - kill.at
        if stop.is_set():
            return
        await asyncio.sleep(0.5)


def event_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute("SELECT status, count(*) FROM events GROUP BY status ORDER BY status").fetchall()
    return {status: count for status, count in rows}


async def wait_for_drain(url: str, limit: float) -> dict[str, Any]:
    started = time.perf_counter()
    before = await asyncio.to_thread(event_counts, url)
    while True:
        try:
            counts = await asyncio.to_thread(event_counts, url)
        except psycopg.Error:
            counts = {"PENDING": -1}
        waited = time.perf_counter() - started
        if not any(counts.get(s, 0) for s in UNFINISHED) or waited >= limit:
            break
        await asyncio.sleep(1.0)
    finished = counts.get("SUCCEEDED", 0) - before.get("SUCCEEDED", 0)
    return {
        "queued_when_load_stopped": sum(before.get(s, 0) for s in UNFINISHED),
        "waited_s": round(waited, 1),
        "drained": not any(counts.get(s, 0) for s in UNFINISHED),
        "events_by_status": counts,
        "succeeded_per_second_while_draining": round(finished / waited, 1) if waited else None,
    }


# --------------------------------------------------------------------------------------------- run


async def drive(cluster: Cluster, adds: list[Add], args: argparse.Namespace) -> dict[str, Any]:
    tally, stop_watch = Tally(), asyncio.Event()
    plan = kill_plan(args.worker_kills, args.serve_kills)
    kills: list[Kill] = []
    watcher = asyncio.create_task(watch_recovery(cluster.database_url, kills, stop_watch))
    queue = iter(adds)
    started = time.perf_counter()
    async with http_clients(cluster.api, args.clients) as clients:
        schedule = asyncio.create_task(kill_on_schedule(cluster, plan, len(adds), tally, kills))
        await asyncio.gather(*(client_loop(client, queue, tally) for client in clients))
        load_seconds = time.perf_counter() - started
        await schedule
    drain = await wait_for_drain(cluster.database_url, args.drain)
    deadline = time.perf_counter() + 120  # leases (60 s) of jobs a worker lost with the database
    while any(kill.pending for kill in kills) and time.perf_counter() < deadline:
        await asyncio.sleep(0.5)
    stop_watch.set()
    await watcher
    return {"tally": tally, "kills": kills, "load_seconds": load_seconds, "drain": drain}


def fetch_events(server: MnemoServer) -> dict[str, dict[str, Any]]:
    """Every event of the project, through the API."""
    events: dict[str, dict[str, Any]] = {}
    with server.client() as client:
        for page in itertools.count(1):
            response = client.get("/v1/events/", params={"page": page, "page_size": 200})
            response.raise_for_status()
            body = response.json()
            events.update({e["id"]: e for e in body["results"]})
            if not body["next"]:
                return events
    raise AssertionError("unreachable")


def fetch_memories(server: MnemoServer, users: list[str]) -> list[dict[str, Any]]:
    """Every memory of ``users``, through get-all."""
    memories: list[dict[str, Any]] = []
    with server.client() as client:
        for user in users:
            for page in itertools.count(1):
                response = client.post(
                    "/v3/memories/", params={"page": page, "page_size": 1000}, json={"filters": {"user_id": user}}
                )
                response.raise_for_status()
                body = response.json()
                memories.extend(body["results"])
                if not body["next"]:
                    break
    return memories


def sql_checks(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:

        def one(query: str) -> int:
            row = conn.execute(query).fetchone()
            return int(row[0]) if row else 0

        return {
            "memories": one("SELECT count(*) FROM memories"),
            "duplicate_memories_same_scope_speaker_text": one(
                "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM memories"
                " GROUP BY project_id, user_id, agent_id, app_id, run_id, actor_name, memory HAVING count(*) > 1) d"
            ),
            "memories_without_their_event": one(
                "SELECT count(*) FROM memories m WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = m.event_id)"
            ),
            "events_whose_results_differ_from_their_memories": one(
                "WITH w AS (SELECT event_id, count(*) AS n FROM memories GROUP BY event_id)"
                " SELECT count(*) FROM events e LEFT JOIN w ON w.event_id = e.id"
                " WHERE jsonb_array_length(e.results) <> coalesce(w.n, 0)"
            ),
            "markers_with_more_than_one_event": one(
                f"SELECT count(*) FROM (SELECT 1 FROM events GROUP BY payload->'metadata'->>'{MARKER}'"
                " HAVING count(*) > 1) d"
            ),
            "idempotency_keys": one("SELECT count(*) FROM idempotency_keys"),
            "events_by_status": dict(conn.execute("SELECT status, count(*) FROM events GROUP BY 1").fetchall()),
            "events_by_attempts": {
                str(attempts): count
                for attempts, count in conn.execute(
                    "SELECT attempts, count(*) FROM events WHERE payload->>'infer' IS DISTINCT FROM 'false'"
                    " GROUP BY 1 ORDER BY 1"
                ).fetchall()
            },
        }


@dataclass
class Findings:
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    facts_skipped_as_known: Counter[str] = field(default_factory=Counter)

    def note(self, into: list[str], add: Add, why: str) -> None:
        into.append(f"add {add.n} ({'infer' if add.infer else 'verbatim'}, {add.marker}): {why}")


@dataclass
class Seen:
    """What the API shows after the run, indexed by add marker."""

    events: dict[str, dict[str, Any]]
    events_by_marker: dict[str, list[dict[str, Any]]]
    memories_by_marker: dict[str, list[dict[str, Any]]]
    markers_of_text: dict[tuple[str, str], set[str]]  # (user_id, text) -> markers of the memories with it

    @classmethod
    def index(cls, events: dict[str, dict[str, Any]], memories: list[dict[str, Any]]) -> Seen:
        seen = cls(events, defaultdict(list), defaultdict(list), defaultdict(set))
        for event in events.values():
            marker = ((event.get("payload") or {}).get("metadata") or {}).get(MARKER)
            if marker:
                seen.events_by_marker[marker].append(event)
        for memory in memories:
            marker = (memory.get("metadata") or {}).get(MARKER, "")
            seen.memories_by_marker[marker].append(memory)
            seen.markers_of_text[(memory["user_id"], memory["memory"])].add(marker)
        return seen


def verify(adds: list[Add], tally: Tally, seen: Seen) -> Findings:
    """Check every answered add against what the API shows (see the module docstring)."""
    found = Findings()
    for add in adds:
        answer = tally.answers.get(add.n)
        if answer is not None:
            check_add(add, answer, seen, found)
    return found


def check_add(add: Add, answer: Answer, seen: Seen, found: Findings) -> None:
    if len(seen.events_by_marker.get(add.marker, [])) > 1:
        found.note(found.duplicated, add, f"{len(seen.events_by_marker[add.marker])} events")
    event = seen.events.get(answer.event_id)
    if event is None:
        found.note(found.lost, add, f"answered event {answer.event_id} does not exist")
        return
    if event["status"] in UNFINISHED:
        found.note(found.unfinished, add, f"event {event['status']} after the drain")
        return
    if event["status"] != "SUCCEEDED":
        found.note(found.lost, add, f"event {event['status']}: {event.get('error')}")
        return
    stored = seen.memories_by_marker.get(add.marker, [])
    texts_stored = [m["memory"] for m in stored]
    if len(texts_stored) != len(set(texts_stored)):
        found.note(found.duplicated, add, "a memory stored twice")
    result_ids = {str(r["id"]) for r in event["results"]}
    stored_ids = {m["id"] for m in stored}
    if result_ids - stored_ids:
        found.note(found.lost, add, f"{len(result_ids - stored_ids)} memories of its results are missing")
    if stored_ids - result_ids:
        found.note(found.duplicated, add, f"{len(stored_ids - result_ids)} memories not in its results")
    if add.infer:
        check_inferred(add, event, texts_stored, seen, found)
        return
    if set(answer.result_ids) != result_ids:
        found.note(found.lost, add, "its answer's results differ from its event's")
    if missing := {m["content"] for m in add.body["messages"]} - set(texts_stored):
        found.note(found.lost, add, f"{len(missing)} of its messages not stored")


def check_inferred(add: Add, event: dict[str, Any], texts_stored: list[str], seen: Seen, found: Findings) -> None:
    """The add's memories are the offline extractor's facts, minus those its scope already held."""
    expected = expected_facts(add)
    if foreign := set(texts_stored) - set(expected):
        found.note(found.duplicated, add, f"unexpected memories {sorted(foreign)[:2]}")
    missing = [t for t in expected if t not in texts_stored]
    elsewhere = [t for t in missing if seen.markers_of_text.get((add.user, t), set()) - {add.marker}]
    found.facts_skipped_as_known["same text from another add"] += len(elsewhere)
    unexplained = len(missing) - len(elsewhere)
    same_meaning = int((event.get("metadata") or {}).get("same_meaning_skipped", 0))
    found.facts_skipped_as_known["same meaning (event metadata)"] += min(unexplained, same_meaning)
    if unexplained > same_meaning:
        found.note(found.lost, add, f"{unexplained - same_meaning} extracted facts not stored")


def summarise(adds: list[Add], run: dict[str, Any], checks: dict[str, Any], found: Findings) -> dict[str, Any]:
    tally: Tally = run["tally"]
    answered = [tally.answers[a.n] for a in adds if a.n in tally.answers]
    answer_times = sorted(a.at for a in answered)
    kills: list[Kill] = run["kills"]
    recoveries: dict[str, list[float]] = defaultdict(list)
    for kill in kills:
        if kill.jobs_done_after_s is not None:
            recoveries[kill.kind].append(kill.jobs_done_after_s)
    infer_answered = sum(1 for a in adds if a.infer and a.n in tally.answers)
    return {
        "adds": {
            "planned": len(adds),
            "answered": len(answered),
            "answered_infer_true": infer_answered,
            "answered_infer_false": len(answered) - infer_answered,
            "answered_after_a_retry": sum(1 for a in answered if a.tries > 1),
            "rejected_4xx": len(tally.rejected),
            "rejected_examples": list(tally.rejected.values())[:5],
            "gave_up_unanswered": len(tally.gave_up),
            "unanswered_tries_by_cause": dict(tally.unanswered_tries),
            "latency_ms_first_try": percentiles([a.latency_ms for a in answered if a.tries == 1]),
        },
        "lost": len(found.lost),
        "duplicated": len(found.duplicated),
        "unfinished": len(found.unfinished),
        "lost_examples": found.lost[:EXAMPLES],
        "duplicated_examples": found.duplicated[:EXAMPLES],
        "unfinished_examples": found.unfinished[:EXAMPLES],
        "facts_not_stored_because_known": dict(found.facts_skipped_as_known),
        "sql": checks,
        "kills": {
            "worker": sum(1 for k in kills if k.kind == "worker"),
            "serve_with_database": sum(1 for k in kills if k.kind == "serve"),
            "interrupted_jobs_succeeded_after_s": {
                kind: {"median": round(sorted(v)[len(v) // 2], 2), "max": round(max(v), 2)}
                for kind, v in recoveries.items()
            },
            "each": [kill.summary(answer_times) for kill in kills],
        },
        "throughput": {
            "load_seconds": round(run["load_seconds"], 1),
            "adds_answered_per_second": round(len(answered) / run["load_seconds"], 1),
        },
        "drain": run["drain"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2,000 adds, 2 worker kills, 1 serve kill, 8 clients")
    parser.add_argument("--adds", type=int, default=20_000)
    parser.add_argument("--worker-kills", type=int, default=6)
    parser.add_argument("--serve-kills", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--infer-share", type=float, default=0.5, help="share of infer=true adds")
    parser.add_argument("--drain", type=float, default=600.0, help="longest wait for the queue to drain (s)")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    if args.quick:
        args.adds, args.worker_kills, args.serve_kills, args.clients = 2_000, 2, 1, 8
    host = machine()
    started = time.perf_counter()
    adds = plan_adds(args.adds, args.seed, args.infer_share)
    with tempfile.TemporaryDirectory(prefix="mnemo-bench-kill-") as tmp:
        cluster = Cluster(Path(tmp), EXTERNAL_WORKERS)
        try:
            cluster.start()
            run = asyncio.run(drive(cluster, adds, args))
            events = fetch_events(cluster.api)
            memories = fetch_memories(cluster.api, sorted({add.user for add in adds}))
            checks = sql_checks(cluster.database_url)
            results = summarise(adds, run, checks, verify(adds, run["tally"], Seen.index(events, memories)))
            results["memories_seen_through_the_api"] = len(memories)
            results["events_seen_through_the_api"] = len(events)
        finally:
            try:
                cluster.stop()
            finally:
                stop_leftover_postgres(cluster.data_dir / "pgdata")
    setup = {
        "clients": args.clients,
        "users": USERS,
        "infer_share": args.infer_share,
        "worker_processes": EXTERNAL_WORKERS,
        "worker_concurrency": WORKER_CONCURRENCY,
        "serve_runs_workers_too": True,
        "worker_restart_delay_s": WORKER_RESTART_DELAY,
    }
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    report("kill", host, {"setup": setup, **results})


if __name__ == "__main__":
    main()
