"""Benchmark helpers for Benchmarks/run_benchmarks.py (Python 3 standard library only)."""
