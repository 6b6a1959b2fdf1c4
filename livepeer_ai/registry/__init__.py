"""Curated models: which (pipeline, model) may run, and where its weights are."""
