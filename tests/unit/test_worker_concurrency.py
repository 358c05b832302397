"""How many jobs a worker runs at once: the setting when given, else a default by the kind of process and the LLM's
limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mnemo.settings import Settings


def test_unset_a_worker_inside_serve_runs_two_jobs_and_a_worker_process_of_its_own_sixty_four(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert (settings.jobs_at_once(dedicated=False), settings.jobs_at_once(dedicated=True)) == (2, 64)


def test_unset_with_an_llm_every_request_it_allows_in_flight_has_a_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MNEMO_LLM_PROVIDER", "openai")
    monkeypatch.setenv("MNEMO_LLM_MAX_CONCURRENCY", "10")
    settings = Settings(data_dir=tmp_path)
    assert (settings.jobs_at_once(dedicated=False), settings.jobs_at_once(dedicated=True)) == (12, 64)
    monkeypatch.setenv("MNEMO_LLM_MAX_CONCURRENCY", "100")
    assert Settings(data_dir=tmp_path).jobs_at_once(dedicated=True) == 102


def test_the_environment_variable_sets_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNEMO_WORKER_CONCURRENCY", "8")
    monkeypatch.setenv("MNEMO_LLM_PROVIDER", "openai")
    settings = Settings(data_dir=tmp_path)
    assert (settings.jobs_at_once(dedicated=False), settings.jobs_at_once(dedicated=True)) == (8, 8)


def test_a_concurrency_below_one_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNEMO_WORKER_CONCURRENCY", "0")
    with pytest.raises(ValidationError, match="worker_concurrency"):
        Settings(data_dir=tmp_path)
