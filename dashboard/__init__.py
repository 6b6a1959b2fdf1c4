"""Operator dashboard and network overview. Not built yet (issue 6)."""
