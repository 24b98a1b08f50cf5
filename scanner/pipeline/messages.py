"""Commit messages, detected in batches.

One detector pass per ``MESSAGE_BATCH`` bytes instead of one per message (pytest's history has 18,000 of them,
each paying the per-call cost). The batch only picks which messages need a look: each one that a match touches
(or crosses into) is detected again on its own, so the findings are exactly those of one pass per message.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

from scanner.models import Chunk, ScanStats
from scanner.pipeline.detection import ChunkDetector, Detected

MESSAGE_BATCH = 64 * 1024
MESSAGE_SEPARATOR = b"\n\n"


class MessageBatch:
    def __init__(self, detector: ChunkDetector, stats: ScanStats, emit: Callable[[Chunk, Detected], None]) -> None:
        self.detector, self.stats, self.emit = detector, stats, emit
        self.chunks: list[Chunk] = []
        self.size = 0

    def add(self, chunk: Chunk) -> None:
        self.chunks.append(chunk)
        self.size += len(chunk.content) + len(MESSAGE_SEPARATOR)
        if self.size >= MESSAGE_BATCH:
            self.flush()

    def flush(self) -> None:
        chunks, self.chunks, self.size = self.chunks, [], 0
        if not chunks:
            return
        self.stats.items_scanned += len(chunks)
        self.stats.bytes_scanned += sum(len(c.content) for c in chunks)
        starts: list[int] = []
        offset = 0
        for chunk in chunks:
            starts.append(offset)
            offset += len(chunk.content) + len(MESSAGE_SEPARATOR)
        touched: set[int] = set()
        joined = MESSAGE_SEPARATOR.join(c.content for c in chunks)
        for raw in self.detector.detector.raw_matches(joined):
            first, last = bisect_right(starts, raw.start) - 1, bisect_right(starts, max(raw.start, raw.end - 1)) - 1
            touched.update(range(first, last + 1))
        for index in sorted(touched):
            detected = self.detector.detect(chunks[index])
            if detected.groups:
                self.emit(chunks[index], detected)
