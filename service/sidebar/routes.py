"""The Zendesk ticket sidebar's page and its bundles, as the app package points Zendesk at them.

The page holds no data and no secret: its script asks Zendesk's app framework for the ticket
and reaches the API only through Zendesk's request proxy, which adds the secure API key
setting on the way. So the page is public, like the replay page.
"""

from __future__ import annotations

import html
from typing import Any, Final

from litestar import Request, Response, get

from service.auth.guards import services_of
from service.sidebar.zendesk_app import DEFAULT_LOOKUP, SIDEBAR_PATH, lookup_order
from service.web.static_bundles import bundle_response

__all__ = ["ZAF_SDK_URL", "sidebar_route_handlers"]

ZAF_SDK_URL: Final = "https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js"
"""Zendesk's app framework SDK, from Zendesk's CDN at run time (2.0 gets its patch releases)."""

# Scripts: the bundle and Zendesk's SDK, nothing inline. The API is reached only through
# Zendesk's proxy (the SDK posts a message to the Zendesk page around it), so the page itself
# may connect nowhere: a script that tried to call the API directly would be stopped here.
_CSP = (
    "default-src 'none'; script-src 'self' https://static.zdassets.com; style-src 'self'; "
    "img-src 'self' data:; connect-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors {ancestors}"
)
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="replaydesk-user-lookup" content="{lookup}">
<title>ReplayDesk sessions</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{path}.css">
<script src="{sdk}" defer></script>
<script src="{path}.js" defer></script>
</head>
<body>
<main id="replaydesk-sidebar" aria-busy="true"><p class="rd-status">Loading sessions…</p></main>
<noscript>The ReplayDesk sidebar needs JavaScript.</noscript>
</body>
</html>
"""


def _page(lookup: tuple[str, ...]) -> bytes:
    return _PAGE.format(
        lookup=html.escape(",".join(lookup)), path=SIDEBAR_PATH, sdk=ZAF_SDK_URL
    ).encode()


@get(SIDEBAR_PATH, summary="The Zendesk ticket sidebar", include_in_schema=False)
async def sidebar_page(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The sidebar page; the requester lookup order is the Zendesk plugin's setting, which the
    app's own setting overrides."""
    settings = services_of(request).settings
    configured = settings.plugin_environment.get("ZENDESK_USER_LOOKUP")
    # A lookup the plugin would refuse leaves the page on the default, not on a broken order.
    lookup = lookup_order(configured) or DEFAULT_LOOKUP
    return Response(
        _page(lookup),
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": _CSP.format(ancestors=settings.sidebar_frame_ancestors),
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


@get(SIDEBAR_PATH + ".js", summary="The Zendesk sidebar's script", include_in_schema=False)
async def sidebar_script(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The sidebar bundle."""
    return bundle_response(
        request, "sidebar.js", "text/javascript", {"X-Content-Type-Options": "nosniff"}
    )


@get(SIDEBAR_PATH + ".css", summary="The Zendesk sidebar's styles", include_in_schema=False)
async def sidebar_styles(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The sidebar styles."""
    return bundle_response(
        request, "sidebar.css", "text/css", {"X-Content-Type-Options": "nosniff"}
    )


sidebar_route_handlers = [sidebar_page, sidebar_script, sidebar_styles]
