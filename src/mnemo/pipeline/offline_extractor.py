from __future__ import annotations
from mnemo.pipeline.extraction import ExtractionRequest, Fact


class OfflineExtractor:
    name = "stub"

    async def extract(self, request: ExtractionRequest) -> list[Fact]:
        return [
            Fact(m.content, "user" if m.role == "user" else "assistant")
            for m in request.messages
            if m.role != "system"
        ]
