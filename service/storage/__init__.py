"""Persistence: metadata in SQL, event chunks in a blob store."""
