"""The one table of validators (issue #14): name → validator. A rule names one in its ``validator:`` field, or
declares its own check there (``ruleset.validator``); ``validator_for`` turns either into a :class:`Validator`."""

from __future__ import annotations

from scanner.errors import ConfigError
from scanner.ruleset.validator import decode
from scanner.validate.base import Validator
from scanner.validate.builtin import CHECKS
from scanner.validate.datadog import DatadogSites
from scanner.validate.gcp import GcpServiceAccount
from scanner.validate.httpcheck import HttpValidator
from scanner.validate.signed import AwsSts, AzureStorage

VALIDATORS: dict[str, Validator] = {
    **{name: HttpValidator(name, provider, check) for name, (provider, check) in CHECKS.items()},
    "aws-sts": AwsSts(),
    "datadog": DatadogSites(),
    "azure-storage": AzureStorage(),
    "gcp-service-account": GcpServiceAccount(),
}


def validator_for(rule_id: str, field: str) -> Validator:
    """The validator a rule's ``validator`` field names; a declared check is named after its rule."""
    if field.startswith("{"):
        return HttpValidator(f"rule:{rule_id}", "", decode(field, f"rule {rule_id}"))
    found = VALIDATORS.get(field)
    if found is None:
        raise ConfigError(f"rule {rule_id}: unknown validator {field!r} (known: {', '.join(sorted(VALIDATORS))})")
    return found
