"""Benchmark scripts (run as ``python benchmarks/bench_*.py``; ``make bench`` runs them all)."""
