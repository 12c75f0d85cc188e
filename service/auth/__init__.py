"""Who may call: API and ingest keys, secrets generated on first start, and the route guards."""
