"""How a memory row is laid out on disk: its vector stays in the row, so the exact scan reads no TOAST."""

from __future__ import annotations

import numpy as np
import pytest

from mnemo.storage import Database
from tests.storage.support import insert, memory, new_project

pytestmark = pytest.mark.anyio


async def _sizes(db: Database) -> tuple[int, int]:
    """The memories table's bytes in its own pages and in its TOAST table."""
    async with db.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT pg_relation_size(c.oid) AS heap, pg_relation_size(c.reltoastrelid) AS toast"
                " FROM pg_class c WHERE c.relname = 'memories'"
            )
        ).fetchone()
    assert row is not None
    return int(row["heap"]), int(row["toast"])


async def test_a_memory_of_a_few_kilobytes_keeps_its_vector_in_its_row(fresh_db: Database) -> None:
    data = await new_project(fresh_db)
    rng = np.random.default_rng(1)
    vectors = [v / np.linalg.norm(v) for v in rng.standard_normal((20, 384)).astype(np.float32)]
    text = "We talked about the garden, the new greenhouse and the tomatoes we plan to grow next spring. " * 4
    await insert(data, *(memory(f"{text} ({n})", vector=vector, metadata={"n": n}) for n, vector in enumerate(vectors)))
    heap, toast = await _sizes(fresh_db)
    assert toast == 0, "no value moved out of line"
    assert heap > 20 * 384 * 4, "the vectors are in the table's own pages"
