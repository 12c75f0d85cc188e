"""Where the vendors' own contracts are: their API specs, the ADF schema, example payloads.

They are kept beside the repository, not in it (see its README: provenance and licences), in
`shared/contracts` next to the checkout. `REPLAYDESK_TEST_CONTRACTS` names another folder,
e.g. for a checkout made elsewhere; `/work/shared/contracts` is this machine's copy.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CONTRACTS"]

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
