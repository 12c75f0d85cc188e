"""The rrweb event vocabulary and the recorder wire contract, as constants and minimal decoders.

The recorder's plugin and custom-event names and its payloads are defined once, in
wire/vocabulary.json at the repository root; the recorder and the viewer build from it. The
service does not read it at run time: its copies below are checked against it by
tests/service/test_wire_vocabulary.py.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from service.identifiers import UserId

__all__ = [
    "CLICK_TAG",
    "CONSOLE_PLUGIN",
    "CONSOLE_STACK_LEVELS",
    "IDENTIFY_TAG",
    "NAVIGATION_PLUGIN",
    "NETWORK_PLUGIN",
    "PAGE_TAG",
    "BatchEvent",
    "ClickLabelPayload",
    "ConsolePayload",
    "CustomData",
    "EventHead",
    "EventSignalFields",
    "EventType",
    "IdentifyPayload",
    "IncrementalHead",
    "IncrementalSource",
    "InputData",
    "MetaData",
    "MouseInteractionData",
    "MouseInteractions",
    "NavigationPayload",
    "NetworkPayload",
    "PagePayload",
    "PageSize",
    "PluginData",
]


class EventType(IntEnum):
    """Top-level `type` of an rrweb event (rrweb's `EventType`)."""

    DOM_CONTENT_LOADED = 0
    LOAD = 1
    FULL_SNAPSHOT = 2
    INCREMENTAL_SNAPSHOT = 3
    META = 4
    CUSTOM = 5
    PLUGIN = 6


class IncrementalSource(IntEnum):
    """`data.source` of an IncrementalSnapshot event (rrweb's `IncrementalSource`)."""

    MUTATION = 0
    MOUSE_MOVE = 1
    MOUSE_INTERACTION = 2
    SCROLL = 3
    VIEWPORT_RESIZE = 4
    INPUT = 5
    TOUCH_MOVE = 6
    MEDIA_INTERACTION = 7
    STYLE_SHEET_RULE = 8
    CANVAS_MUTATION = 9
    FONT = 10
    LOG = 11
    DRAG = 12
    STYLE_DECLARATION = 13
    SELECTION = 14
    ADOPTED_STYLE_SHEET = 15
    CUSTOM_ELEMENT = 16


class MouseInteractions(IntEnum):
    """`data.type` of a MouseInteraction incremental event (rrweb's `MouseInteractions`)."""

    MOUSE_UP = 0
    MOUSE_DOWN = 1
    CLICK = 2
    CONTEXT_MENU = 3
    DBL_CLICK = 4
    FOCUS = 5
    BLUR = 6
    TOUCH_START = 7
    TOUCH_MOVE_DEPARTED = 8
    TOUCH_END = 9
    TOUCH_CANCEL = 10


# Plugin and custom-event names shared with the browser recorder (wire/vocabulary.json).
# Changing one is a breaking change of the wire contract: old recorders in the field keep
# sending the old name.
CONSOLE_PLUGIN = "rrweb/console@1"
NETWORK_PLUGIN = "replaydesk/network@1"
NAVIGATION_PLUGIN = "replaydesk/navigation@1"
IDENTIFY_TAG = "replaydesk/identify"
CLICK_TAG = "replaydesk/click"
PAGE_TAG = "replaydesk/page"
# Console levels whose entries keep a stack. A `log` or `info` call's trace is the logging
# line's own call site, which nobody triaging needs; `trace` is there because a stack is what
# `console.trace()` is for.
CONSOLE_STACK_LEVELS = frozenset({"assert", "error", "trace", "warn"})


class EventHead(msgspec.Struct):
    """What every event must have; `data` stays undecoded until its type says it matters."""

    type: int
    timestamp: int
    # Empty when absent, so a missing `data` only costs the signals, not the batch.
    data: msgspec.Raw = msgspec.Raw()


class IncrementalHead(msgspec.Struct):
    """Just enough of an IncrementalSnapshot's data to route it."""

    source: int


class MouseInteractionData(msgspec.Struct):
    """A MouseInteraction incremental event; `x`/`y` are absent for focus and blur."""

    type: int
    id: int
    x: int | float | None = None
    y: int | float | None = None


class InputData(msgspec.Struct):
    """An Input incremental event; the typed text is deliberately not decoded."""

    id: int


class MetaData(msgspec.Struct):
    """A Meta event, emitted at page load and at every full-snapshot checkout."""

    href: str


class PluginData(msgspec.Struct):
    """A Plugin event's envelope; the payload's shape depends on `plugin`."""

    plugin: str
    payload: msgspec.Raw = msgspec.Raw()


class CustomData(msgspec.Struct):
    """A Custom event's envelope; the payload's shape depends on `tag`."""

    tag: str
    payload: msgspec.Raw = msgspec.Raw()


# The two structs below hold only numbers, strings and Raw, so they can never be part of a
# reference cycle and need no tracking by the garbage collector (gc=False).


class EventSignalFields(msgspec.Struct, gc=False):
    """Every `data` field any signal is read from, whatever the event's type.

    Each field has the type that the decoder reading it (named beside it) gives it, so a decode
    succeeds only with values that decoder would accept too. A field it requires may be absent
    here (UNSET), but not null: it refuses null, even where a repeated key later brings a value.
    """

    source: int | UnsetType = UNSET  # IncrementalSnapshot: IncrementalHead
    type: int | UnsetType = UNSET  # MouseInteraction: MouseInteractionData
    id: int | UnsetType = UNSET  # MouseInteraction and Input: MouseInteractionData, InputData
    x: int | float | None = None  # MouseInteraction: MouseInteractionData
    y: int | float | None = None
    href: str | UnsetType = UNSET  # Meta: MetaData
    plugin: str | UnsetType = UNSET  # Plugin: PluginData
    tag: str | UnsetType = UNSET  # Custom: CustomData
    payload: msgspec.Raw = msgspec.Raw()  # Plugin and Custom: PluginData, CustomData


class BatchEvent(msgspec.Struct, gc=False):
    """An event with its signal fields, for decoding a whole batch in one call.

    Refuses every event that `EventHead` and the checks after it refuse (a negative timestamp,
    an unknown type), and any `data` that is not an object or null.
    """

    type: Annotated[int, msgspec.Meta(ge=0, le=int(max(EventType)))]
    timestamp: Annotated[int, msgspec.Meta(ge=0)]
    data: EventSignalFields | None = None


# The payload structs below decode what the service reads of each payload (wire/vocabulary.json
# has the whole of each): every field the service requires, the recorder always sends.


class ConsolePayload(msgspec.Struct, kw_only=True):
    """An `rrweb/console@1` payload: a console call, an uncaught error or a rejection.

    `payload` holds the call's arguments, each JSON-encoded; `trace` the stack frames.
    """

    level: str
    payload: list[str] = msgspec.field(default_factory=list)
    trace: list[str] = msgspec.field(default_factory=list)


class NetworkPayload(msgspec.Struct, kw_only=True):
    """The fields of a `replaydesk/network@1` payload that signals are derived from."""

    kind: str | None = None
    method: str
    url: str
    # 0 means the request never got an answer (offline, CORS, aborted, blocked).
    status: int
    duration: int | float
    error: str | None = None


class NavigationPayload(msgspec.Struct, kw_only=True):
    """A `replaydesk/navigation@1` payload: an SPA route change."""

    url: str
    kind: str | None = None


# The same bound the ingest body puts on its own user id, and the width of sessions.user_id.


class IdentifyPayload(msgspec.Struct, kw_only=True, rename="camel"):
    """A `replaydesk/identify` payload; traits are stored with the event but not decoded."""

    user_id: UserId
    """One that ingest refuses as a batch's `user_id` makes the identify event count for nothing."""


class ClickLabelPayload(msgspec.Struct, kw_only=True):
    """A `replaydesk/click` payload describing the element the preceding click hit."""

    label: str | None = None
    selector: str | None = None
    tag: str | None = None


# A window or screen wider or taller than this is not a real one.
_MAX_PIXELS = 100_000


class PageSize(msgspec.Struct):
    """A width and a height in CSS pixels."""

    width: Annotated[int, msgspec.Meta(ge=0, le=_MAX_PIXELS)]
    height: Annotated[int, msgspec.Meta(ge=0, le=_MAX_PIXELS)]


class PagePayload(msgspec.Struct, kw_only=True, rename="camel"):
    """A `replaydesk/page` payload: the page and browser a page load's recording started in."""

    url: str
    navigation: str | None = None
    user_agent: str = ""
    language: str = ""
    time_zone: str = ""
    viewport: PageSize | None = None
    screen: PageSize | None = None
    pixel_ratio: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    release: str | None = None
    environment: str | None = None
