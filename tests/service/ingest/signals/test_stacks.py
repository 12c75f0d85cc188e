"""Splitting an error's text into its message and its frames."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.ingest.signals.stacks import ERROR_ARTIFACT, split_error_text


def test_chromium_stack() -> None:
    split = split_error_text(
        "TypeError: Cannot read properties of undefined (reading 'total')\n"
        "    at sum (https://shop.example/app.js:10:5)\n"
        "    at new Cart (https://shop.example/app.js:3:1)\n"
        "    at https://shop.example/app.js:40:12\n"
        "    at Array.map (<anonymous>)\n"
        f"{ERROR_ARTIFACT}"
    )
    assert split.message == "TypeError: Cannot read properties of undefined (reading 'total')"
    assert split.frames == [
        "sum (https://shop.example/app.js:10:5)",
        "new Cart (https://shop.example/app.js:3:1)",
        "https://shop.example/app.js:40:12",
        "Array.map (<anonymous>)",
    ]


def test_firefox_and_safari_stack() -> None:
    split = split_error_text(
        "sum@https://shop.example/app.js:10:5\n@https://shop.example/app.js:40:12\n"
    )
    assert split.message == ""
    assert split.frames == [
        "sum (https://shop.example/app.js:10:5)",
        "https://shop.example/app.js:40:12",
    ]


def test_a_multi_line_message_keeps_its_lines() -> None:
    split = split_error_text(
        "Error: two problems\nfirst\nsecond\n    at f (https://a.example/x.js:1:2)"
    )
    assert split.message == "Error: two problems\nfirst\nsecond"
    assert split.frames == ["f (https://a.example/x.js:1:2)"]


def test_text_that_only_mentions_at_or_an_address_stays_whole() -> None:
    for text in (
        "at least one item is required",
        "mail support@shop.example",
        "retry at 10:05",
        "cart\n",
    ):
        split = split_error_text(text)
        assert (split.message, split.frames) == (text, [])


def test_the_artifact_alone_goes() -> None:
    split = split_error_text(f"Error: no stack\n{ERROR_ARTIFACT}")
    assert (split.message, split.frames) == ("Error: no stack", [])


@given(st.text())
def test_every_line_is_kept_once_as_message_or_frame(text: str) -> None:
    split = split_error_text(text)
    kept = [line for line in text.split("\n") if line.strip() != ERROR_ARTIFACT]
    message_lines = split.message.split("\n") if split.message else []
    # Frames lose their "at " and their indent; everything else stays as it was.
    assert len(message_lines) + len(split.frames) <= len(kept)
    for frame in split.frames:
        assert any(frame in line for line in kept) or "@" in text
    if not split.frames and ERROR_ARTIFACT not in text:
        assert split.message == text
