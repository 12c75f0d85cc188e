"""Jira Cloud's own contracts as checkers (REST v3 spec subset, ADF schema), and ADF readers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any
from urllib.parse import quote

from jsonschema import Draft4Validator
from referencing import Registry

from tests.plugins.vendor_contracts import CONTRACTS, load, openapi_registry

__all__ = [
    "CONTRACTS",
    "adf_violations",
    "body_violations",
    "example",
    "links",
    "nodes",
    "operation",
]

SPEC_URI = "urn:replaydesk:jira-cloud-v3-subset"


@cache
def _spec() -> dict[str, Any]:
    """`jira-cloud/jira-cloud-v3.subset.json`: OpenAPI 3.0, Atlassian's schemas unmodified."""
    loaded: dict[str, Any] = load("jira-cloud", "jira-cloud-v3.subset.json")
    return loaded


@cache
def _adf() -> Draft4Validator:
    return Draft4Validator(load("jira-cloud", "adf-schema-v1-full.json"))


@cache
def _registry() -> Registry[Any]:
    return openapi_registry(_spec(), SPEC_URI)


def example(name: str) -> Any:
    """A saved example payload of `examples/jira/`, parsed afresh (callers may change it)."""
    return load("examples", "jira", name)


@cache
def _full_spec() -> dict[str, Any]:
    """`jira-cloud/swagger-v3.v3.json`, Atlassian's whole spec: for the search, which the
    subset does not keep."""
    loaded: dict[str, Any] = load("jira-cloud", "swagger-v3.v3.json")
    return loaded


def operation(method: str, path: str) -> tuple[str, str] | None:
    """The spec's (path template, operationId) of a request, or None when Jira has no such."""
    for spec in (_spec(), _full_spec()):
        for template, operations in spec["paths"].items():
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            found = operations.get(method.lower())
            if found is not None and re.match(pattern, path):
                return template, found["operationId"]
    return None


def body_violations(method: str, template: str, body: Any) -> list[str]:
    """Where a JSON request body breaks the operation's request schema."""
    escaped = template.replace("~", "~0").replace("/", "~1")
    pointer = f"/paths/{escaped}/{method.lower()}/requestBody/content/application~1json/schema"
    validator = Draft4Validator(
        {"$ref": f"{SPEC_URI}#{quote(pointer, safe='/~')}"}, registry=_registry()
    )
    return [_describe(error) for error in validator.iter_errors(body)]


def adf_violations(document: Any) -> list[str]:
    """Where an ADF document breaks Atlassian's strict schema (`adf-schema-v1-full.json`)."""
    return [_describe(error) for error in _adf().iter_errors(document)]


def _describe(error: Any) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or "(root)"
    return f"{where}: {error.message[:300]}"


def nodes(node: Any) -> Iterator[dict[str, Any]]:
    """Every node of a document, depth first."""
    if isinstance(node, dict):
        yield node
        yield from nodes(node.get("content", []))
    elif isinstance(node, list):
        for child in node:
            yield from nodes(child)


def links(document: dict[str, Any]) -> list[str]:
    """The targets of a document's link marks, in order."""
    return [
        mark["attrs"]["href"]
        for node in nodes(document)
        for mark in node.get("marks", [])
        if mark["type"] == "link"
    ]
