"""After detection, before the verdicts are final: the distinct secrets of a run's findings whose rule names a
validator are checked (``scanner.validate``), and each finding is decided again with the answer. A validator that
needs a second value beside the secret gets the text around its findings, read again from their file or blob
(``findcontext``); that text lives only as long as the jobs."""

from __future__ import annotations

from scanner.models import Finding
from scanner.pipeline.collect import Collector
from scanner.pipeline.findcontext import for_request
from scanner.pipeline.request import ScanRequest
from scanner.ruleset import Ruleset
from scanner.validate.base import Validator
from scanner.validate.run import jobs_for, validate
from scanner.validate.table import validator_for


def validated(findings: list[Finding], ruleset: Ruleset, request: ScanRequest, collector: Collector) -> list[Finding]:
    options = request.validation
    if options is None or not findings:
        return findings
    used = {f.rule.id for f in findings}
    validators: dict[str, Validator] = {
        rule.spec.id: validator_for(rule.spec.id, rule.spec.validator)
        for rule in ruleset.rules
        if rule.spec.validator and rule.spec.id in used
    }
    context_of = for_request(request) if any(v.needs_context for v in validators.values()) else None
    jobs, job_of = jobs_for(findings, validators, request.context.fingerprint_key, context_of)
    answers = validate(jobs, options)
    return [collector.revise(f, answers[job_of[f.secret_id]]) if f.secret_id in job_of else f for f in findings]
