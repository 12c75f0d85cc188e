"""ReplayDesk: session replay for support and bug triage."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
