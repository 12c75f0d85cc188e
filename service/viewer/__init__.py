"""Watching a replay: viewer tokens, who may view, and the replay page with its bundles."""
