"""Diffusers pipelines behind one interface, the optical-flow interpolator, media export.

Runner-side only: modules here that need torch import it themselves, so the web and
worker processes can use `media` without loading torch.
"""
