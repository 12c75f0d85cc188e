"""Error groups: every session that hit the same error, across users (API key)."""
