"""Zendesk integration: writes replay evidence into Zendesk tickets."""
