"""``leakstop rules check``: every rule's examples must produce a finding of that rule, and none of its negative
examples may. The same check runs in the test suite over the built-in rules."""

from __future__ import annotations

from dataclasses import dataclass

from scanner.detect.engine import Detector
from scanner.ruleset.model import CompiledRule


@dataclass(frozen=True)
class ExampleFailure:
    rule_id: str
    source: str
    kind: str  # "example" or "negative_example"
    index: int
    text: str

    def message(self) -> str:
        what = "does not produce a finding" if self.kind == "example" else "produces a finding"
        preview = self.text.strip().splitlines()[0][:60] if self.text.strip() else "(empty)"
        return f"{self.source}: rule {self.rule_id}: {self.kind}s/{self.index}: {what}: {preview!r}"


def check_rule(detector: Detector, rule: CompiledRule) -> list[ExampleFailure]:
    failures = []
    for kind, texts, expected in (
        ("example", rule.spec.examples, True),
        ("negative_example", rule.spec.negative_examples, False),
    ):
        for index, text in enumerate(texts):
            found = any(m.rule_id == rule.id for m in detector.detect(text.encode()))
            if found != expected:
                failures.append(ExampleFailure(rule.id, rule.spec.source, kind, index, text))
    return failures
