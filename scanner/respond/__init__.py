"""Leak response: what happens after a decision.

audit_log         the append-only, hash-chained record of bypasses, fail-opens and rejections (``verify`` checks it)
records           the audit records a scan's bypasses and exceptions call for
breakglass        request, approval by a different person, one-time tokens for one push (+ breakglass_store)

Planned (design.md, "Response"): the plan of actions, the durable outbox and the provider adapters.
"""
