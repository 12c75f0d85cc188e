"""Jira integration: writes replay evidence into Jira issues."""
