"""Helpdesk sidebars: the Zendesk ticket sidebar's page and the app package that installs it.

`zendesk_app.py` builds the package (`replaydesk zendesk-app`) with the icons of
`app_icons.py`; `routes.py` serves the page and its bundles. The page's TypeScript is in the
repository's `viewer/src/sidebar/`.
"""
