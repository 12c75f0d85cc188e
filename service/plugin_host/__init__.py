"""The plugin contract and the host that calls it: hookspecs, manager, types, remote HTTP."""
