"""Server-side removal of personal data and secrets from recorded text, URLs and headers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote_plus

__all__ = [
    "CARD_PLACEHOLDER",
    "EMAIL_PLACEHOLDER",
    "JWT_PLACEHOLDER",
    "SECRET_PLACEHOLDER",
    "is_sensitive_header",
    "is_sensitive_param",
    "scrub_body",
    "scrub_header_value",
    "scrub_headers",
    "scrub_text",
    "scrub_url",
]

EMAIL_PLACEHOLDER = "[email]"
CARD_PLACEHOLDER = "[card]"
JWT_PLACEHOLDER = "[jwt]"
SECRET_PLACEHOLDER = "[secret]"  # noqa: S105 - the marker that replaces secrets, not one

# Payment card numbers are 13 (old Visa) to 19 (Visa, Discover, UnionPay) digits long.
_CARD_MIN_DIGITS = 13
_CARD_MAX_DIGITS = 19

# Vendor key formats put at least this many random characters after the prefix; shorter
# strings with the same prefix are usually identifiers in prose or code, not keys.
_MIN_KEY_BODY = 16

# A word after "Bearer"/"Basic" needs one of these to be taken for a credential; without the
# rule, "Basic information" in a log line would be mangled.
_TOKEN_SYMBOLS = frozenset("0123456789+/=._~-")

# A match may start where the previous character could not continue it, or right after a JSON
# escape such as \n: bodies are often JSON text, and "\nbob@x.com" must still lose the address.
_AFTER_JSON_ESCAPE = r"(?<=\\[nrtbf])"


def _start(run_chars: str) -> str:
    """A start guard for a run of `run_chars` (a regex class body)."""
    # The backslash goes first so that a trailing "-" in `run_chars` stays a literal.
    return rf"(?:(?<![\\{run_chars}])|{_AFTER_JSON_ESCAPE})"


# Every pattern is linear-time: each repeat is bounded or followed by something it cannot
# match, and a start is only tried where the previous character could not belong to the same
# run, so a long run is walked once instead of once per position.
_EMAIL_RE = re.compile(
    _start("A-Za-z0-9._%+-")
    + r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
# Issuer prefixes 2-6 cover Mastercard, Amex, Diners, JCB, Visa, Discover, UnionPay and
# Maestro. Millisecond and microsecond epoch timestamps start with 1 for the next two
# centuries, so they are never taken for cards even when they pass Luhn (one in ten does).
# Cards are written unseparated or in the groupings issuers print: 4-4-4-4 with an optional
# short last group, and 4-6-5 / 4-6-4 (Amex, Diners).
_CARD_RE = re.compile(
    r"(?<![0-9])[2-6](?:"
    r"[0-9]{12,18}"
    r"|[0-9]{3}(?:[ -][0-9]{4}){3}(?:[ -][0-9]{1,3})?"
    r"|[0-9]{3}[ -][0-9]{6}[ -][0-9]{4,5}"
    r")(?![0-9])"
)
_AUTH_SCHEME_RE = re.compile(
    _start("A-Za-z0-9_") + r"((?i:bearer|basic))[ \t]+([A-Za-z0-9._~+/=-]+)"
)
_JWT_RE = re.compile(_start("A-Za-z0-9_-") + r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_KEY_BODY = rf"{{{_MIN_KEY_BODY},}}"
_API_KEY_RE = re.compile(
    _start("A-Za-z0-9_-")
    + r"(?:"
    + rf"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{_KEY_BODY}"  # Stripe secret / restricted
    + rf"|whsec_[A-Za-z0-9]{_KEY_BODY}"  # Stripe webhook signing secret
    + rf"|gh[pousr]_[A-Za-z0-9]{_KEY_BODY}"  # GitHub
    + rf"|github_pat_[A-Za-z0-9_]{_KEY_BODY}"
    + rf"|glpat-[A-Za-z0-9_-]{_KEY_BODY}"  # GitLab
    + rf"|xox[abprs]-[A-Za-z0-9-]{_KEY_BODY}"  # Slack
    + r"|(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"  # AWS access key id: exactly 16 more
    + r"|AIza[A-Za-z0-9_-]{35}"  # Google API key: exactly 35 more
    + rf"|sk-(?:ant-|proj-)?[A-Za-z0-9_-]{_KEY_BODY}"  # OpenAI, Anthropic
    + rf"|SG\.[A-Za-z0-9_-]{_KEY_BODY}\.[A-Za-z0-9_-]+"  # SendGrid
    + rf"|(?:npm|shpat|shpss|dop_v1|hf)_[A-Za-z0-9]{_KEY_BODY}"  # npm, Shopify, DO, HF
    + r")"
)
_ANY_DIGIT_RE = re.compile(r"[0-9]")

# A parameter: a name at the start or after ?, &, ; or #, then its value up to a separator.
_PARAM_RE = re.compile(r"(?:^|(?<=[?&;#]))([^=&;#?\s]+)=([^&;#?\s]*)")
_USERINFO_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*):([^/?#@]*)@")

# URLs inside free text (console lines, stack frames, bodies). A URL runs until one of these:
# whitespace, quotes, angle brackets, parentheses (Chrome wraps a frame's URL in them), braces
# and backslashes (JSON escapes). None of them is valid unencoded in a URL or in a token.
_URL_END = r"\s\"'`<>(){}\\"
# The parameters of a URL in text: from its first ?, # or ; to where the URL ends, so absolute
# and relative URLs alike ("/login?password=x", "app.js?api_key=k:1:2"). What comes before
# the separator holds no parameter and is never looked at; starting at a separator lets the
# regex engine skip ahead to candidates instead of trying every position.
_URL_PARAMS_IN_TEXT_RE = re.compile(rf"[?#;][^{_URL_END}]*")
# "scheme://user:password@", found from its "://" for the same reason.
_USERINFO_IN_TEXT_RE = re.compile(rf"(://[^{_URL_END}/?#@:]*):([^{_URL_END}/?#@]*)@")
# Sentence punctuation after a URL ("see https://x/?a=1.") belongs to the sentence.
_URL_TRAILING_PUNCTUATION = ".,:!"
# A JSON string member "name": "value", the value written as the usual unrolled escape loop.
_JSON_MEMBER_RE = re.compile(r'"([^"\\]{1,100})"(\s*:\s*)"([^"\\]*(?:\\.[^"\\]*)*)"')

_SENSITIVE_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "id_token",
        "refresh_token",
        "key",
        "api_key",
        "apikey",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "pwd",
        "auth",
        "authorization",
        "session",
        "sessionid",
        "session_id",
        "sid",
        "sig",
        "signature",
        "code",
        "jwt",
        "otp",
    }
)
# Names containing these are sensitive whatever surrounds them (X-Amz-Signature, csrf_token,
# jsessionid, PHPSESSID).
_SENSITIVE_PARAM_PARTS = (
    "token",
    "secret",
    "passw",
    "signature",
    "credential",
    "apikey",
    "api_key",
    "api-key",
    "session",
    "sessid",
)
# Substrings every sensitive parameter name contains; bodies without any skip the member scan.
_SENSITIVE_NAME_HINTS = (
    "passw",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "sess",
    "sig",
    "credential",
    "code",
    "jwt",
    "otp",
    "sid",
)
# Parameters without any of them (or a %-escape that could spell one) are left unparsed.
# Matched against lowered text: re.IGNORECASE makes the search several times slower.
_SENSITIVE_NAME_HINT_RE = re.compile("|".join(_SENSITIVE_NAME_HINTS) + "|%")
# OAuth responses put these next to the token; they describe it and give nothing away.
_NOT_SECRET_PARAMS = frozenset({"token_type", "expires_in", "session_state"})
# In JSON bodies "code" is nearly always an error code ("card_declined"), which triage needs;
# the OAuth authorization code travels in URLs and form bodies, where it is still blanked.
_JSON_MEMBER_EXEMPT = frozenset({"code"})

_DROPPED_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}
)
_SENSITIVE_HEADER_PARTS = ("token", "secret", "password", "key")
# Headers whose values are URLs, so their query strings can carry tokens.
_URL_HEADERS = frozenset({"location", "content-location", "referer"})


def _is_card(digits: str) -> bool:
    if not _CARD_MIN_DIGITS <= len(digits) <= _CARD_MAX_DIGITS:
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - ord("0")
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _digits(candidate: str) -> str:
    return candidate.replace(" ", "").replace("-", "")


def _replace_card(match: re.Match[str]) -> str:
    candidate = match.group()
    if _is_card(_digits(candidate)):
        return CARD_PLACEHOLDER
    # The optional short last group may have swallowed a number after the card ("... 12/27").
    cut = max(candidate.rfind(" "), candidate.rfind("-"))
    if cut > 0 and _is_card(_digits(candidate[:cut])):
        return CARD_PLACEHOLDER + candidate[cut:]
    return candidate


def _looks_like_token(word: str) -> bool:
    if any(char in _TOKEN_SYMBOLS for char in word):
        return True
    # Mixed case past the first letter: base64 does this, capitalised English words do not.
    return any(char.isupper() for char in word[1:])


def _replace_auth(match: re.Match[str]) -> str:
    if _looks_like_token(match.group(2)):
        return f"{match.group(1)} {SECRET_PLACEHOLDER}"
    return match.group()


def scrub_text(text: str) -> str:
    """Replace e-mail addresses, card numbers, auth tokens, JWTs and API keys in `text`, and
    blank secrets in the URLs it holds as `scrub_url` does (sensitive parameters, userinfo
    passwords), leaving the rest of the text as it was."""
    # Substring checks first: nearly every string triggers none of the patterns, and `in` is
    # far cheaper than even a failing regex scan.
    if "earer" in text or "asic" in text or "EARER" in text or "ASIC" in text:
        text = _AUTH_SCHEME_RE.sub(_replace_auth, text)
    if "eyJ" in text:
        text = _JWT_RE.sub(JWT_PLACEHOLDER, text)
    if (
        "_" in text
        or "-" in text
        or "AKIA" in text
        or "ASIA" in text
        or "AIza" in text
        or "SG." in text
    ):
        text = _API_KEY_RE.sub(SECRET_PLACEHOLDER, text)
    # "user:password@" follows a "://"; Firefox's "function@https://..." frames do not count.
    scheme_end = text.find("://") if "@" in text else -1
    has_userinfo = scheme_end >= 0 and text.find("@", scheme_end) >= 0
    if has_userinfo:
        # Before the e-mail pass, which would take "hunter2@db.example.com" for an address.
        text = _USERINFO_IN_TEXT_RE.sub(_replace_userinfo, text)
    if "@" in text or "%40" in text:
        text = _EMAIL_RE.sub(EMAIL_PLACEHOLDER, text)
    if _ANY_DIGIT_RE.search(text) is not None:
        text = _CARD_RE.sub(_replace_card, text)
    # URL parameters last: a value the passes above shortened to a placeholder is still one
    # value here, and nothing above can turn a blanked "name=[secret]" into a new match, so a
    # second scrub changes nothing. A sensitive parameter needs an "="; most lines have none.
    if "=" in text and ("?" in text or "#" in text or ";" in text):
        text = _URL_PARAMS_IN_TEXT_RE.sub(_scrub_url_in_text, text)
    if has_userinfo:
        # Again: a spaced card number that became "[card]" can close up a userinfo password.
        text = _USERINFO_IN_TEXT_RE.sub(_replace_userinfo, text)
    return text


def is_sensitive_param(name: str) -> bool:
    """Whether a query, fragment or form parameter called `name` carries a credential."""
    if "%" in name or "+" in name:
        name = unquote_plus(name)
    lowered = name.lower()
    if lowered in _NOT_SECRET_PARAMS:
        return False
    return lowered in _SENSITIVE_PARAMS or any(part in lowered for part in _SENSITIVE_PARAM_PARTS)


def _replace_param(match: re.Match[str]) -> str:
    if match.group(2) and is_sensitive_param(match.group(1)):
        return f"{match.group(1)}={SECRET_PLACEHOLDER}"
    return match.group()


def _replace_userinfo(match: re.Match[str]) -> str:
    return f"{match.group(1)}:{SECRET_PLACEHOLDER}@"


def _scrub_params(url: str) -> str:
    """Blank sensitive parameter values, looked for after the first ?, # or ; (matrix
    parameters like ;jsessionid=)."""
    cut = len(url)
    for separator in "?#;":
        found = url.find(separator, 0, cut)
        if found >= 0:
            cut = found
    params = url[cut:]
    if _SENSITIVE_NAME_HINT_RE.search(params.lower()) is None:
        return url
    return url[:cut] + _PARAM_RE.sub(_replace_param, params)


def _is_ascii_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _scrub_url_in_text(match: re.Match[str]) -> str:
    """`_scrub_params` for the parameters of one URL in free text (from its first separator),
    minus the sentence punctuation or stack position that follows them."""
    run = match.group()
    if _SENSITIVE_NAME_HINT_RE.search(run.lower()) is None:
        return run  # the common case, decided before any slicing
    end = len(run.rstrip(_URL_TRAILING_PUNCTUATION))
    # A stack frame's ":line:column" after the URL stays readable after "[secret]".
    head, _, column = run[:end].rpartition(":")
    params, _, line = head.rpartition(":")
    if params and _is_ascii_number(line) and _is_ascii_number(column):
        end = len(params)
    # The run starts at its separator, as _PARAM_RE expects.
    return _PARAM_RE.sub(_replace_param, run[:end]) + run[end:]


def scrub_url(url: str) -> str:
    """Blank sensitive parameter values and userinfo passwords, then `scrub_text` it all.

    Everything else is kept byte-for-byte, so the URL still reads and links as recorded.
    """
    url = _scrub_params(url)
    if "@" in url and "://" in url:
        url = _USERINFO_RE.sub(_replace_userinfo, url, count=1)
    return scrub_text(url)


def _replace_json_member(match: re.Match[str]) -> str:
    name = match.group(1)
    if match.group(3) and name.lower() not in _JSON_MEMBER_EXEMPT and is_sensitive_param(name):
        return f'"{name}"{match.group(2)}"{SECRET_PLACEHOLDER}"'
    return match.group()


def scrub_body(body: str) -> str:
    """`scrub_text` plus blanking sensitive JSON string members and form fields.

    Login and token-exchange bodies carry passwords and secrets under telling names, in values
    that none of the patterns of `scrub_text` would recognise.
    """
    lowered = body.lower()
    if any(hint in lowered for hint in _SENSITIVE_NAME_HINTS):
        if '"' in body:
            body = _JSON_MEMBER_RE.sub(_replace_json_member, body)
        if "=" in body:
            body = _PARAM_RE.sub(_replace_param, body)
    return scrub_text(body)


def is_sensitive_header(name: str) -> bool:
    """Whether a header called `name` is dropped outright rather than scrubbed."""
    lowered = name.lower()
    return lowered in _DROPPED_HEADERS or any(part in lowered for part in _SENSITIVE_HEADER_PARTS)


def scrub_header_value(name: str, value: str) -> str:
    """Scrub one kept header value; URL-valued headers get the URL treatment."""
    return scrub_url(value) if name.lower() in _URL_HEADERS else scrub_text(value)


def scrub_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Drop credential-bearing headers and scrub the values of the rest."""
    return {
        name: scrub_header_value(name, value)
        for name, value in headers.items()
        if not is_sensitive_header(name)
    }
