"""Tickets and issues: attach requests, exactly-once delivery, issue filing, outbox, webhooks."""
