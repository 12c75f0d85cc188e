"""Lets the tests import the plugin from this folder even before it is pip-installed."""
