"""Inputs: when the user started typing into a field; never what was typed."""

from __future__ import annotations

from service.signal_kinds import InputSignal

__all__ = ["input_signals"]


def input_signals(inputs: list[tuple[int, int]]) -> list[InputSignal]:
    """One signal per run of consecutive Input events on the same node, from (ts, node id)."""
    signals: list[InputSignal] = []
    previous: int | None = None
    for ts, node_id in inputs:
        if node_id != previous:
            signals.append(InputSignal(ts=ts, node_id=node_id))
        previous = node_id
    return signals
