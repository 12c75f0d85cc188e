"""The URLs a piece of CSS loads: `url(...)`, `image-set(...)` strings and `@import`, read
with a real CSS tokenizer (tinycss2), so comments, escapes and strings are read as browsers
read them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
import tinycss2
from tinycss2 import ast

__all__ = ["CssReference", "css_references"]

# Functions whose string arguments are URLs (`url("x")` is a function to the tokenizer,
# `url(x)` a URL token; `src()` is CSS's newer spelling of `url()`).
_URL_FUNCTIONS = frozenset({"url", "src"})
_IMAGE_SET_FUNCTIONS = frozenset({"image-set", "-webkit-image-set"})


class CssReference(msgspec.Struct, frozen=True):
    """One URL as the CSS wrote it (not yet resolved); `imported` for `@import`."""

    url: str
    imported: bool = False


def css_references(css: str) -> list[CssReference]:
    """Every URL the CSS text (a stylesheet or a `style` attribute's declarations) loads, in
    order of appearance."""
    return list(_references(tinycss2.parse_component_value_list(css, skip_comments=True)))


def _references(tokens: Iterable[Any]) -> Iterator[CssReference]:
    pending_import = False
    for token in tokens:
        if isinstance(token, ast.WhitespaceToken):
            continue
        if pending_import:
            pending_import = False
            if isinstance(token, ast.StringToken):
                yield CssReference(token.value, imported=True)
                continue
            if isinstance(token, ast.URLToken):
                yield CssReference(token.value, imported=True)
                continue
            if isinstance(token, ast.FunctionBlock) and token.lower_name in _URL_FUNCTIONS:
                for url in _string_arguments(token.arguments, first_only=True):
                    yield CssReference(url, imported=True)
                continue
        if isinstance(token, ast.AtKeywordToken) and token.lower_value == "import":
            pending_import = True
        elif isinstance(token, ast.URLToken):
            yield CssReference(token.value)
        elif isinstance(token, ast.FunctionBlock):
            name = token.lower_name
            if name in _URL_FUNCTIONS:
                for url in _string_arguments(token.arguments, first_only=True):
                    yield CssReference(url)
            elif name in _IMAGE_SET_FUNCTIONS:
                for url in _string_arguments(token.arguments, first_only=False):
                    yield CssReference(url)
                yield from _references(token.arguments)
            else:
                yield from _references(token.arguments)
        elif isinstance(token, (ast.CurlyBracketsBlock, ast.SquareBracketsBlock)):
            yield from _references(token.content)
        elif isinstance(token, ast.ParenthesesBlock):
            yield from _references(token.content)


def _string_arguments(arguments: Iterable[Any], *, first_only: bool) -> Iterator[str]:
    for token in arguments:
        if isinstance(token, ast.WhitespaceToken):
            continue
        if isinstance(token, ast.StringToken):
            yield token.value
        if first_only:
            return
