"""Benchmarks, load generators and their stand-ins: outside the product packages, never imported by them."""
