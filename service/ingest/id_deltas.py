"""Node IDs sent as differences (`"id_deltas": true`), restored to rrweb's own numbers.

rrweb numbers DOM nodes in the order it first sees them, so a re-rendered list of 450 rows adds
thousands of nodes with consecutive IDs, each also naming its parent and its next sibling. gzip
cannot predict a run of increasing numbers, but it can a run of small repeated ones: the
recorder writes every node-ID number as its difference from the one before (`1`, `-1`, `2`...),
and the order list's re-sorts cost a third fewer bytes on the customer's wire.

The coding works on the JSON text, in text order, and only on what it can tell from the text
alone: a key of `ID_KEYS` right after `{` or `,` whose value is an integer ending at `,` or `}`.
Inside a JSON string a `"` is always escaped, so `{"id":` or `,"id":` never occurs there. The
recorder applies the same rule (recorder/src/compress.ts), and codes a batch only when every
such number is below 2**31, so restoring is exact for what it sends. From anyone else the
result is only as good as the input, but always valid JSON, and it costs linear time: numbers
too long to be a difference are left as they are.
"""

from __future__ import annotations

import re

__all__ = ["restore_ids"]

ID_KEYS = ("id", "parentId", "nextId", "previousId", "rootId")
_CODED = re.compile(rb'([{,]"(?:' + "|".join(ID_KEYS).encode() + rb')":)(-?\d+)(?=[,}])')
# The longest difference of two numbers below 2**31: a sign and ten digits.
_MAX_DIGITS = 11


def restore_ids(data: bytes) -> bytes:
    """`data` (a batch's JSON) with each node-ID difference replaced by the number it stands
    for: the running sum of the differences so far."""
    last = 0

    def restore(match: re.Match[bytes]) -> bytes:
        nonlocal last
        digits = match[2]
        if len(digits) > _MAX_DIGITS:
            return match[0]
        last += int(digits)
        return match[1] + str(last).encode()

    return _CODED.sub(restore, data)
