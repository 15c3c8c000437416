"""Handoffs: out-of-scope work as records routed to the worker that owns it.

The record and lifecycle, routing, records cut from verdicts and proposed by
agents, the queue in git refs, apply and sync.
"""
