"""`replaydesk plugin new NAME`: a pip-installable plugin package that passes its own tests.

It writes the hooks of a comment-writing tracker plugin (settings, provider, ticket-ID check,
attach and find, a signed webhook), a fake tracker on the test kit, tests on the kit's harness
(exactly one comment under a 429, a lost reply and a duplicate webhook) and a README: the next
integration starts from working code and changes endpoints, not plumbing.
"""

from __future__ import annotations

import argparse
import keyword
import re
import sys
from pathlib import Path

from service import __version__
from service.cli.plugin_template import FILES

__all__ = ["plugin_new", "render_plugin", "validate_name"]

_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def validate_name(name: str) -> str | None:
    """Why `name` cannot be a plugin name, or None when it can."""
    if not _NAME.fullmatch(name):
        return "use lower-case letters, digits and _ (a letter first, at most 40 characters)"
    if keyword.iskeyword(name) or name.endswith("_") or "__" in name:
        return "it must be usable as a Python name, without leading, trailing or double _"
    return None


def _next_minor(version: str) -> str:
    major, minor = (int(part) for part in version.split(".")[:2])
    return f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"


def render_plugin(name: str) -> dict[str, str]:
    """The package's files, path → text, for plugin `name` (already validated)."""
    values = {
        "name": name,
        "package": f"replaydesk_{name}",
        "dist": f"replaydesk-{name.replace('_', '-')}",
        "header": name.replace("_", "-"),
        "title": "".join(part.capitalize() for part in name.split("_")),
        "upper": name.upper(),
        "version": __version__,
        "next_minor": _next_minor(__version__),
    }
    return {
        path.replace("$package", values["package"]).replace("$name", name): template.substitute(
            values
        )
        for path, template in FILES.items()
    }


def plugin_new(_settings: object, args: argparse.Namespace) -> int:
    name: str = args.name
    problem = validate_name(name)
    if problem is not None:
        print(f"replaydesk: {name!r} is no plugin name: {problem}", file=sys.stderr)
        return 2
    files = render_plugin(name)
    target = Path(args.dir or ".") / f"replaydesk-{name.replace('_', '-')}"
    if target.exists():
        print(f"replaydesk: {target} exists already; nothing written", file=sys.stderr)
        return 1
    for path, text in files.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_text(text)
    print(f"wrote {target}/ ({len(files)} files). Next:")
    print(f"  cd {target} && pip install -e '.[test]' && pytest")
    return 0
