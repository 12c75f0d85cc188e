"""Stack traces as a developer reads them: one frame per line, `function (file:line:column)`.

rrweb's console plugin writes an `Error` argument as its `stack` text followed by a line of
its own, "End of stack for Error object", so a logged error arrives as one argument holding
the message, every frame and that artifact. Here the text is split into the message and the
frames (V8's `    at fn (url:1:2)` and Firefox and Safari's `fn@url:1:2` alike), and the
frames are written the way rrweb writes a console call's own trace.
"""

from __future__ import annotations

import re

__all__ = ["ERROR_ARTIFACT", "ErrorText", "split_error_text"]

ERROR_ARTIFACT = "End of stack for Error object"

# `    at fn (https://x/app.js:10:5)`, `    at https://x/app.js:10:5`, `    at async fn (…)`:
# always indented, which tells a frame from a message line that starts with "at".
_V8_FRAME = re.compile(r"^\s+at\s+(?P<frame>\S.*?)\s*$")
# `fn@https://x/app.js:10:5` or `@https://x/app.js:10:5` (Firefox, Safari).
_GECKO_FRAME = re.compile(r"^\s*(?P<function>[^@\s]*)@(?P<location>\S+:\d+(?::\d+)?)\s*$")


class ErrorText:
    """A logged error's text, split: what it says, and where it was thrown."""

    __slots__ = ("frames", "message")

    def __init__(self, message: str, frames: list[str]) -> None:
        self.message = message
        self.frames = frames


def _frame(line: str) -> str | None:
    """The line as a frame (`function (location)` or `location`), or None when it is not one."""
    v8 = _V8_FRAME.match(line)
    if v8 is not None:
        return v8["frame"]
    gecko = _GECKO_FRAME.match(line)
    if gecko is not None:
        function, location = gecko["function"], gecko["location"]
        return f"{function} ({location})" if function else location
    return None


def split_error_text(text: str) -> ErrorText:
    """Split an error's text into its message and its frames, without rrweb's artifact.

    Text without frames or the artifact comes back whole; a line counts as a frame only when
    it is nothing but one, so a message that mentions "at" or an e-mail address stays whole.
    """
    message: list[str] = []
    frames: list[str] = []
    artifact = False
    for line in text.split("\n"):
        if line.strip() == ERROR_ARTIFACT:
            artifact = True
            continue
        frame = _frame(line) if "at " in line or "@" in line else None
        if frame is None:
            message.append(line)
        else:
            frames.append(frame)
    if not frames and not artifact:
        return ErrorText(text, [])
    return ErrorText("\n".join(message).rstrip(), frames)
