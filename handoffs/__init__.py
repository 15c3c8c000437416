"""Handoff records: out-of-scope work routed to the worker that owns it."""
