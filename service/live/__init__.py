"""Watching a session live: its batches, as they are stored, to the viewers that follow it."""
