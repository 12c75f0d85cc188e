"""The read side of sessions: summaries, search, the event stream, erasure and retention."""
