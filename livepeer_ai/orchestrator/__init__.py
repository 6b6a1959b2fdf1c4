"""Orchestrator nodes: capabilities, capacity, pricing, runner supervision.

Not built yet (issue 3). Until then the studio calls local runners directly.
"""
