"""SQL migration files, applied by ``mnemo.storage.migrate``."""

from __future__ import annotations
