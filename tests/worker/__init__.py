"""Tests of the background workers (job queue, claiming, retries)."""

from __future__ import annotations
