"""PostgreSQL storage: the pool, migrations, and the project-scoped stores."""

from __future__ import annotations
