"""Built-in ReplayDesk integrations, registered through the `replaydesk` entry-point group."""
