"""Commit messages, detected in batches.

One detector pass per ``MESSAGE_BATCH`` bytes instead of one per message (pytest's history has 18,000 of them,
each paying the per-call cost). The batch only picks which messages need a look: each one that a match touches
(or crosses into) is made a chunk and detected again on its own, so the findings are exactly those of one pass
per message.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

from scanner.models import Chunk, ScanStats
from scanner.pipeline.detection import ChunkDetector, Detected
from scanner.sources.base import CommitMessage

MESSAGE_BATCH = 64 * 1024
MESSAGE_SEPARATOR = b"\n\n"


class MessageBatch:
    def __init__(self, detector: ChunkDetector, stats: ScanStats, emit: Callable[[Chunk, Detected], None]) -> None:
        self.detector, self.stats, self.emit = detector, stats, emit
        self.messages: list[CommitMessage] = []
        self.size = 0

    def add(self, message: CommitMessage) -> None:
        self.messages.append(message)
        self.size += len(message.content) + len(MESSAGE_SEPARATOR)
        if self.size >= MESSAGE_BATCH:
            self.flush()

    def flush(self) -> None:
        messages, self.messages, self.size = self.messages, [], 0
        if not messages:
            return
        contents = [m.content for m in messages]
        self.stats.items_scanned += len(messages)
        self.stats.bytes_scanned += sum(map(len, contents))
        starts: list[int] = []
        offset = 0
        for content in contents:
            starts.append(offset)
            offset += len(content) + len(MESSAGE_SEPARATOR)
        touched: set[int] = set()
        for raw in self.detector.detector.raw_matches(MESSAGE_SEPARATOR.join(contents)):
            first, last = bisect_right(starts, raw.start) - 1, bisect_right(starts, max(raw.start, raw.end - 1)) - 1
            touched.update(range(first, last + 1))
        for index in sorted(touched):
            chunk = messages[index].chunk()
            detected = self.detector.detect(chunk)
            if detected.groups:
                self.emit(chunk, detected)
