"""Benchmarks: each prints one `name key=value ...` line (run by the Makefile's `bench*` targets).

`pipeline` (make bench), `dedupe` (make bench-dedupe), `scoring` (make bench-scoring), `sync` (make bench-sync).
"""
