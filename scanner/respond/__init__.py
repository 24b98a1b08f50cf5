"""Leak response: what happens after a decision.

audit_log   the append-only, hash-chained record of bypasses, fail-opens and rejections (``verify`` checks it)

Planned (design.md, "Response"): the plan of actions, the durable outbox and the provider adapters.
"""
