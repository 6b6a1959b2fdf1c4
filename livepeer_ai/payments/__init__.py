"""Probabilistic micropayments on an EVM chain. Not built yet (issue 4)."""
