"""Where the vendors' own contracts are: their API specs, the ADF schema, example payloads.

They are kept beside the repository, not in it (see its README: provenance and licences), in
`shared/contracts` next to the checkout. `REPLAYDESK_TEST_CONTRACTS` names another folder,
e.g. for a checkout made elsewhere; `/work/shared/contracts` is this machine's copy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

__all__ = ["CONTRACTS", "load", "openapi_registry"]

_REPOSITORY = Path(__file__).resolve().parents[2]
_CANDIDATES = [
    *(
        [Path(os.environ["REPLAYDESK_TEST_CONTRACTS"])]
        if "REPLAYDESK_TEST_CONTRACTS" in os.environ
        else []
    ),
    _REPOSITORY.parent / "shared" / "contracts",
    Path("/work/shared/contracts"),
]


def _find() -> Path:
    for folder in _CANDIDATES:
        if (folder / "examples" / "signature-test-vectors.json").is_file():
            return folder
    searched = ", ".join(str(folder) for folder in _CANDIDATES)
    raise FileNotFoundError(
        f"the vendor contracts are in none of {searched}; set REPLAYDESK_TEST_CONTRACTS"
    )


CONTRACTS = _find()


def load(*parts: str) -> Any:
    """A contract file parsed afresh (callers may change it): `load("examples", "jira", name)`."""
    return json.loads(CONTRACTS.joinpath(*parts).read_text())


def openapi_registry(spec: dict[str, Any], uri: str) -> Registry[Any]:
    """The spec under `uri`, so `{uri}#/components/...` references resolve.

    OpenAPI 3.0 schemas are close to JSON Schema draft 4.
    """
    resource = Resource.from_contents(spec, default_specification=DRAFT4)
    registry: Registry[Any] = Registry().with_resource(uri, resource)
    return registry
