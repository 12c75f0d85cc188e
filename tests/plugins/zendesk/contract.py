"""Zendesk's own Support API spec (the saved subset) as a checker of the requests we send."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import httpx
from jsonschema import Draft4Validator
from referencing import Registry

from tests.plugins.vendor_contracts import CONTRACTS, load, openapi_registry

__all__ = ["CONTRACTS", "example", "request_violations", "schema_violations", "spec"]

SPEC_URI = "urn:replaydesk:zendesk-support-subset"


@cache
def spec() -> dict[str, Any]:
    """`zendesk/zendesk-support.subset.json`: OpenAPI 3.0, Zendesk's schemas unmodified."""
    loaded: dict[str, Any] = load("zendesk", "zendesk-support.subset.json")
    return loaded


def example(name: str) -> Any:
    """A saved example payload of `examples/zendesk/`, parsed afresh (callers may change it)."""
    return load("examples", "zendesk", name)


@cache
def _registry() -> Registry[Any]:
    return openapi_registry(spec(), SPEC_URI)


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _extra_keys(instance: Any, schema: dict[str, Any], where: str) -> list[str]:
    """Keys the schema does not declare, or declares read-only.

    Zendesk's schemas leave `additionalProperties` unset, so validation alone would let a
    misspelled key (which Zendesk silently ignores) through.
    """
    schema = _resolve(schema)
    found: list[str] = []
    if isinstance(instance, dict) and "properties" in schema:
        for key, value in instance.items():
            declared = schema["properties"].get(key)
            if declared is None:
                found.append(f"{where}.{key} is not in the spec")
                continue
            if _resolve(declared).get("readOnly"):
                found.append(f"{where}.{key} is read-only")
            found += _extra_keys(value, declared, f"{where}.{key}")
    elif isinstance(instance, list) and "items" in schema:
        for index, item in enumerate(instance):
            found += _extra_keys(item, schema["items"], f"{where}[{index}]")
    return found


def schema_violations(instance: Any, schema_name: str) -> list[str]:
    """Why `instance` is not a valid `#/components/schemas/{schema_name}` ([] when it is)."""
    validator = Draft4Validator(
        {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}, registry=_registry()
    )
    found = [
        f"{'/'.join(map(str, error.absolute_path)) or schema_name}: {error.message}"
        for error in validator.iter_errors(instance)
    ]
    return found + _extra_keys(
        instance, {"$ref": f"#/components/schemas/{schema_name}"}, schema_name
    )


def _operation(
    method: str, path: str
) -> tuple[dict[str, Any], dict[str, str], list[dict[str, Any]]] | None:
    """The spec's operation for a request, its path parameters, and all its parameters."""
    # Zendesk takes `/tickets/1.json` like `/tickets/1`; its `next_page` links use the former.
    path = path.removesuffix(".json")
    for template, item in spec()["paths"].items():
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        matched = re.fullmatch(pattern, path)
        if matched and method.lower() in item:
            operation = item[method.lower()]
            parameters = [
                _resolve(p) for p in item.get("parameters", []) + operation.get("parameters", [])
            ]
            return operation, matched.groupdict(), parameters
    return None


def request_violations(request: httpx.Request) -> list[str]:
    """Why the spec would not take this request: path, parameters and JSON body ([] if fine)."""
    found = _operation(request.method, request.url.path)
    if found is None:
        return [f"{request.method} {request.url.path} is not an operation of the spec"]
    operation, path_values, parameters = found
    problems: list[str] = []
    by_place = {(p["in"], p["name"]): p for p in parameters}
    for name, value in path_values.items():
        declared = by_place.get(("path", name))
        if declared is None:
            problems.append(f"path parameter {name} is not declared")
        elif declared["schema"].get("type") == "integer" and not value.isdigit():
            problems.append(f"path parameter {name}={value!r} is not an integer")
    for name in request.url.params:
        if ("query", name) not in by_place:
            problems.append(f"query parameter {name} is not declared")
    for (place, name), declared in by_place.items():
        if place == "query" and declared.get("required") and name not in request.url.params:
            problems.append(f"required query parameter {name} is missing")
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        if not request.headers.get("content-type", "").startswith("application/json"):
            problems.append("the body is not sent as application/json")
        schema_name = body["schema"]["$ref"].rsplit("/", 1)[1]
        problems += schema_violations(json.loads(request.content), schema_name)
    return problems
