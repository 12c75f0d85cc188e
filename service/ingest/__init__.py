"""Ingest: recorder batches read, checked, scrubbed, turned into signals and written durably."""
