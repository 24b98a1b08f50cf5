"""Datadog API keys: ``GET /api/v1/validate`` ("Validate API key", Datadog API reference) at each Datadog site.

An API key belongs to one site (US1 ``datadoghq.com``, US3, US5, EU1 ``datadoghq.eu``, AP1, AP2, US1-FED
``ddog-gov.com``) and every other site refuses it with 403, so a refusal at one site says nothing about the key. The
sites are tried in turn, a site named beside the key (``DD_SITE=datadoghq.eu``, ``api.us5.datadoghq.com``) first:
the first ``live`` answer wins, ``invalid`` needs a refusal from every site, and an answer that is neither (rate
limited, timed out, garbage) ends the round as ``unknown``: one slow site must not cost seven timeouts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.models import Validation
from scanner.ruleset.validator import Condition, HttpCheck
from scanner.validate.base import Caller, Candidate
from scanner.validate.httpcheck import HttpValidator

SITES = (
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "ddog-gov.com",
)
_NAMED_SITE = re.compile(
    r"(?<![\w.-])(?:api\.|app\.)?((?:us3|us5|ap1|ap2)\.datadoghq\.com|datadoghq\.(?:com|eu)|ddog-gov\.com)\b"
)


def site_check(site: str) -> HttpCheck:
    return HttpCheck(
        f"https://api.{site}/api/v1/validate",
        headers=(("DD-API-KEY", "{secret}"),),
        live=Condition((200,), (("valid", True),)),
        invalid=Condition((403, 401)),
    )


@dataclass(frozen=True)
class DatadogSites:
    name: str = "datadog"
    provider: str = "datadog"
    origins: tuple[str, ...] = tuple(f"https://api.{site}" for site in SITES)
    needs_context: bool = False  # a named site only orders the round; every site is tried without one

    def check(self, candidate: Candidate, call: Caller) -> Validation:
        sites = self.order(candidate)
        for site in sites:
            answer = HttpValidator(self.name, self.provider, site_check(site)).check(candidate, call)
            if answer.state != "invalid":
                return answer
        return Validation("invalid", f"every Datadog site refused it ({len(sites)} sites)")

    @staticmethod
    def order(candidate: Candidate) -> list[str]:
        """The sites, those named in the snippet or the text around the finding first."""
        named = [m.group(1) for text in candidate.texts() for m in _NAMED_SITE.finditer(text)]
        return list(dict.fromkeys([*named, *SITES]))
