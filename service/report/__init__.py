"""A session's evidence for a ticket: the replay report, repro steps, renderings, log file."""
