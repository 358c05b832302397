"""Background workers: claim queued add jobs and run them through the pipeline."""

from __future__ import annotations
