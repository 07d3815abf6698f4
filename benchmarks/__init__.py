"""Benchmarks against the reference implementation: speed and memory, reported as ratios from one run."""
