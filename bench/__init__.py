"""Benchmarks of ReplayDesk: ingest throughput and latest-session lookup latency."""
