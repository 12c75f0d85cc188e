"""Asset copies: the stylesheets, fonts and images sessions reference, kept by the service so
the replay never makes the agent's browser fetch from the recorded site.

`event_urls.py` and `css_urls.py` read the URLs out of events and CSS; `origin_policy.py` and
`fetcher.py` fetch them safely; `collector.py` is the background task that copies them;
`routes.py` serves the map and the bytes. The SQL is in `service/storage/asset_store.py`.
"""

from __future__ import annotations

from service.assets.collector import AssetCollector
from service.assets.origin_policy import OriginPolicy

__all__ = ["AssetCollector", "OriginPolicy"]
