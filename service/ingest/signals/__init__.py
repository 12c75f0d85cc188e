"""Signals derived at ingest from one batch's events: one detector per module, one batch pass."""
