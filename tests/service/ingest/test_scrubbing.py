"""Behaviour of the PII and secret scrubbers applied to console and network text at ingest."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from service.ingest.scrubbing import (
    is_sensitive_header,
    scrub_body,
    scrub_headers,
    scrub_text,
    scrub_url,
)

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


# --- e-mail addresses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("contact bob@example.com now", "contact [email] now"),
        ("Bob.Smith+orders@mail.example.co.uk", "[email]"),
        ("<jane_doe-1@sub.example.io>", "<[email]>"),
        ("users: a@x.com, b@y.org", "users: [email], [email]"),
        ("email=bob%40example.com&x=1", "email=[email]&x=1"),
        # JSON text: the escape's letter must not shield the address behind it.
        ('{"note":"hi\\nbob@example.com"}', '{"note":"hi\\n[email]"}'),
    ],
)
def test_email_addresses_are_replaced(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "follow @replaydesk",
        "https://medium.com/@someone/post",
        "a@b",
        "price @ 5.00",
        "user@localhost",
    ],
)
def test_at_signs_that_are_not_addresses_stay(text: str) -> None:
    assert scrub_text(text) == text


# --- payment cards ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "4111111111111111",  # Visa
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5555555555554444",  # Mastercard
        "2223003122003222",  # Mastercard 2-series
        "378282246310005",  # Amex
        "3782 822463 10005",
        "30569309025904",  # Diners, 14 digits
        "6011111111111117",  # Discover
        "3530111333300000",  # JCB
        "4222222222222",  # 13-digit Visa
    ],
)
def test_card_numbers_that_pass_luhn_are_replaced(number: str) -> None:
    assert scrub_text(f"paid with {number}.") == "paid with [card]."


@pytest.mark.parametrize(
    "text",
    [
        "order 4000123456789010 shipped",  # card-shaped, fails Luhn
        "4111 1111 1111 1112",  # one digit off a real test card
        "ts=1700000000004",  # epoch ms that happens to pass Luhn
        "created 1700000000012345",  # epoch microseconds
        "ORD-1234567890128",  # order id starting with 1, passes Luhn
        "41111111111111110000",  # 20 digits: too long to be a card
        "call +1 555-123-4567",
        "2024-01-15 12:30:00",
        "version 4.1.1.1",
    ],
)
def test_numbers_that_are_not_cards_stay(text: str) -> None:
    assert scrub_text(text) == text


def test_card_followed_by_another_number_still_goes() -> None:
    assert scrub_text("4111 1111 1111 1111 12/27") == "[card] 12/27"
    assert scrub_text("4111-1111-1111-1111 12") == "[card] 12"


# --- tokens and keys --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc123.def-456", "Authorization: Bearer [secret]"),
        (
            "authorization: bearer 9f86d081884c7d659a2feaa0c55ad015",
            "authorization: bearer [secret]",
        ),
        ("Basic dXNlcjpwYXNzd29yZA==", "Basic [secret]"),
        ("Basic dXNlcjpwYXNz", "Basic [secret]"),
        (f"Bearer {JWT}", "Bearer [secret]"),
    ],
)
def test_authorization_credentials_are_replaced(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


@pytest.mark.parametrize("text", ["Basic information", "Bearer token missing", "basic plan"])
def test_ordinary_words_after_basic_or_bearer_stay(text: str) -> None:
    assert scrub_text(text) == text


def test_jwts_are_replaced() -> None:
    assert scrub_text(f"id_token={JWT}; next") == "id_token=[jwt]; next"
    assert scrub_text(f'{{"jwt":"{JWT}"}}') == '{"jwt":"[jwt]"}'


@pytest.mark.parametrize(
    "key",
    [
        "sk_live_51HqLyjWDarjtT1zdp7dcXYZabcdEF",
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "rk_live_51HqLyjWDarjtT1zdp7dcXYZ",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "xoxp-123456789012-abcdefghijklmnop",
        "AKIAIOSFODNN7EXAMPLE",
        "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
        "glpat-xxxxxxxxxxxxxxxxxxxx",
        "sk-proj-abcdefghijklmnopqrstuvwx",
    ],
)
def test_api_keys_with_known_prefixes_are_replaced(key: str) -> None:
    assert scrub_text(f"key={key} ok") == "key=[secret] ok"


@pytest.mark.parametrize("text", ["sk_test_short", "task-manager", "ghp_", "sk-1", "AKIA"])
def test_short_or_prefix_lookalikes_stay(text: str) -> None:
    assert scrub_text(text) == text


def test_plain_text_is_returned_unchanged() -> None:
    text = "TypeError: Cannot read properties of undefined (reading 'id') at main.4f3a2b.js:1:234"
    assert scrub_text(text) == text


def test_scrubbing_twice_changes_nothing_more() -> None:
    text = f"bob@example.com 4111111111111111 Bearer abc123 {JWT} sk_live_51HqLyjWDarjtT1zdp7dc"
    once = scrub_text(text)
    assert once == "[email] [card] Bearer [secret] [jwt] [secret]"
    assert scrub_text(once) == once


# --- URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
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
        "session",
        "sig",
        "signature",
        "code",
        "TOKEN",
        "Api_Key",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "csrf_token",
    ],
)
def test_sensitive_query_parameters_are_blanked(name: str) -> None:
    url = f"https://app.example.com/cb?page=2&{name}=s3cr3tValue&sort=asc"
    assert scrub_url(url) == f"https://app.example.com/cb?page=2&{name}=[secret]&sort=asc"


def test_fragment_parameters_are_blanked() -> None:
    url = "https://app.example.com/callback#access_token=abc&token_type=bearer&expires_in=3600"
    assert scrub_url(url) == (
        "https://app.example.com/callback#access_token=[secret]&token_type=bearer&expires_in=3600"
    )


def test_hash_route_queries_are_blanked() -> None:
    url = "https://app.example.com/#/orders/42?token=abc&tab=items"
    assert scrub_url(url) == "https://app.example.com/#/orders/42?token=[secret]&tab=items"


def test_matrix_session_ids_are_blanked() -> None:
    url = "https://shop.example.com/cart;jsessionid=A1B2C3?step=2"
    assert scrub_url(url) == "https://shop.example.com/cart;jsessionid=[secret]?step=2"


def test_userinfo_password_is_blanked() -> None:
    assert scrub_url("https://admin:hunter2@db.example.com/x") == (
        "https://admin:[secret]@db.example.com/x"
    )


def test_rest_of_url_is_kept_byte_for_byte() -> None:
    url = "https://app.example.com/search?q=caf%C3%A9+au+lait&page=2&empty=&flag#section-3"
    assert scrub_url(url) == url


def test_email_in_path_and_query_value_is_replaced() -> None:
    url = "https://app.example.com/users/bob@example.com/orders?cc=jane%40example.org"
    assert scrub_url(url) == "https://app.example.com/users/[email]/orders?cc=[email]"


def test_empty_sensitive_value_stays_empty() -> None:
    assert scrub_url("https://x.example/login?password=&next=/") == (
        "https://x.example/login?password=&next=/"
    )


# --- URLs inside text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "GET https://api.example.com/me?access_token=abc123&password=hunter2 401",
            "GET https://api.example.com/me?access_token=[secret]&password=[secret] 401",
        ),
        # Chrome, Firefox and bare stack frames: the position after the URL stays.
        (
            "    at load (https://cdn.example.com/app.js?api_key=AbC123:1:2345)",
            "    at load (https://cdn.example.com/app.js?api_key=[secret]:1:2345)",
        ),
        (
            "load@https://cdn.example.com/app.js?api_key=AbC123:12:34",
            "load@https://cdn.example.com/app.js?api_key=[secret]:12:34",
        ),
        ("    at app.js?api_key=AbC123:1:2", "    at app.js?api_key=[secret]:1:2"),
        # Relative URLs with a query or a fragment, and the punctuation of the sentence.
        ("POST /api/login?password=x failed", "POST /api/login?password=[secret] failed"),
        ("redirected to /#/cb#access_token=t0k.", "redirected to /#/cb#access_token=[secret]."),
        ('fetch("/api/x?sig=abc&page=2")', 'fetch("/api/x?sig=[secret]&page=2")'),
        # In JSON text, quotes and escapes end the URL.
        (
            '{"next":"https://x.example/cb?code=c0de\\nmore","n":1}',
            '{"next":"https://x.example/cb?code=[secret]\\nmore","n":1}',
        ),
        (
            "url=https://x.example/?user[password]=pw&x=1",
            "url=https://x.example/?user[password]=[secret]&x=1",
        ),
        (
            "cart https://shop.example.com/c;jsessionid=A1B2 ok",
            "cart https://shop.example.com/c;jsessionid=[secret] ok",
        ),
        (
            "db at https://admin:hunter2@db.example.com/x down",
            "db at https://admin:[secret]@db.example.com/x down",
        ),
    ],
)
def test_urls_inside_text_lose_their_secrets(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "GET https://api.example.com/v1/orders?page=2&sort=desc 404 (Not Found)",
        "    at OrderList.render (https://app.example.com/static/js/main.4f3a2b.js:1:23456)",
        "onClick@https://shop.example.com/assets/app.js:12:345",
        "fetch /api/session?user=42&token_type=bearer took 120ms",
        "let a = b ? c : d; key=5",
        "div#main[data-key=foo] is hidden",
        "Is it done? token=abc",  # not a URL: a space after the "?"
        "https://x.example/login?password=&next=/",
    ],
)
def test_text_with_urls_but_no_secrets_is_unchanged(text: str) -> None:
    assert scrub_text(text) == text


# Parameter names that must always be taken for secrets, in the spellings sites use.
_SECRET_NAMES = st.sampled_from(
    [
        "token",
        "access_token",
        "ACCESS_TOKEN",
        "id_token",
        "api_key",
        "apiKey",
        "key",
        "password",
        "Passwd",
        "pwd",
        "client_secret",
        "auth",
        "session",
        "PHPSESSID",
        "jsessionid",
        "sig",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "csrf_token",
        "code",
        "jwt",
        "otp",
    ]
)
# Characters a value carries in a URL: unreserved, percent-escapes, base64 and padding.
_VALUE_ALPHABET = string.ascii_letters + string.digits + "-._~%+/="
_URL_BASES = st.sampled_from(
    [
        "https://app.example.com/cb?",
        "http://localhost:8080/api/v1/login?",
        "https://cdn.example.com/static/app.js?v=3&",
        "https://app.example.com/#/orders/42?",
        "https://app.example.com/callback#",
        "/api/login?",
        "app.js?",
        "../x?a=1;",
    ]
)
_FREE_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from(" ()\"'\n:=?&#@"),
    max_size=40,
)


@st.composite
def _text_with_secret_url(draw: st.DrawFn) -> tuple[str, str]:
    """Free text around a URL whose sensitive parameter holds a secret; (text, secret)."""
    # A digit keeps the secret from being spelled by a placeholder like "[secret]".
    secret = draw(st.text(_VALUE_ALPHABET, min_size=4, max_size=40).filter(_has_digit))
    before, after = draw(_FREE_TEXT), draw(_FREE_TEXT)
    base, name = draw(_URL_BASES), draw(_SECRET_NAMES)
    rest = draw(st.sampled_from(["", "&page=2", "&next=%2Fhome#top", ":10:5", ")", "."]))
    # Only the secret's place in the URL is under test, not its chance reappearance elsewhere.
    assume(secret not in f"{before} {base}{name}={rest} {after}")
    return f"{before} {base}{name}={secret}{rest} {after}", secret


def _has_digit(text: str) -> bool:
    return any(char.isdigit() for char in text)


@given(_text_with_secret_url())
def test_a_secret_in_a_url_inside_text_never_survives(case: tuple[str, str]) -> None:
    text, secret = case
    assert secret not in scrub_text(text)


@given(st.one_of(_text_with_secret_url().map(lambda case: case[0]), _FREE_TEXT))
def test_scrub_text_is_idempotent(text: str) -> None:
    once = scrub_text(text)
    assert scrub_text(once) == once


# --- headers and bodies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "proxy-authorization",
        "Cookie",
        "Set-Cookie",
        "X-Api-Key",
        "X-Auth-Token",
        "X-CSRF-Token",
        "X-Client-Secret",
        "X-Password",
        "Sec-WebSocket-Key",
    ],
)
def test_credential_headers_are_dropped(name: str) -> None:
    assert is_sensitive_header(name)
    assert scrub_headers({name: "value", "Accept": "application/json"}) == {
        "Accept": "application/json"
    }


def test_kept_header_values_are_scrubbed_and_input_left_alone() -> None:
    headers = {
        "Content-Type": "application/json",
        "X-Debug-User": "bob@example.com",
        "Location": "https://app.example.com/next?code=abc123",
        "Cookie": "sid=1",
    }
    assert scrub_headers(headers) == {
        "Content-Type": "application/json",
        "X-Debug-User": "[email]",
        "Location": "https://app.example.com/next?code=[secret]",
    }
    assert headers["Cookie"] == "sid=1"


def test_json_body_secrets_are_blanked_but_error_codes_stay() -> None:
    body = (
        '{"email":"bob@example.com","password":"hun\\"ter2","refresh_token":"r1",'
        '"code":"card_declined","items":3}'
    )
    assert scrub_body(body) == (
        '{"email":"[email]","password":"[secret]","refresh_token":"[secret]",'
        '"code":"card_declined","items":3}'
    )


def test_form_body_secrets_are_blanked() -> None:
    body = "grant_type=authorization_code&code=XyZ&client_secret=s3&redirect_uri=%2Fdone"
    assert scrub_body(body) == (
        "grant_type=authorization_code&code=[secret]&client_secret=[secret]&redirect_uri=%2Fdone"
    )


def test_body_without_sensitive_names_only_gets_text_scrubbing() -> None:
    assert (
        scrub_body('{"qty":2,"note":"call bob@example.com"}') == '{"qty":2,"note":"call [email]"}'
    )


# --- robustness -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\x00",
        "\ud800 lone surrogate",
        "🙂@🙂.com",
        "٤١١١١١١١١١١١١١١١",  # Arabic-Indic digits are not card digits
        "%",
        "?",
        "#&=;?=&",
        "http://:@",
        "https://@/?=#=",
        "Bearer",
        "eyJ..",
        '"\\',
    ],
)
def test_odd_input_never_raises(text: str) -> None:
    for scrub in (scrub_text, scrub_url, scrub_body):
        assert isinstance(scrub(text), str)
    assert isinstance(scrub_headers({text: text}), dict)


ADVERSARIAL = [
    "a" * 1_000_000,
    "1 " * 500_000,
    "4 " * 500_000,
    "4444 " * 200_000,
    "4111" * 250_000,
    "a@" * 500_000,
    "@" * 1_000_000,
    "a." * 500_000 + "@",
    "a@" + "a." * 500_000,
    "x" * 500_000 + "@" + "y" * 500_000,
    "%40" * 333_333,
    "eyJ." * 250_000,
    "eyJ" + "a" * 1_000_000 + ".",
    "Bearer " * 150_000,
    "Bearer " + "A" * 1_000_000,
    "sk_live_" * 125_000,
    "a-" * 500_000,
    "\\n" * 500_000,
    '"a":"' * 200_000,
    '"password":"' + "x" * 1_000_000,
    "?" + "a" * 1_000_000,
    "?a" * 500_000,
    "&=" * 500_000,
    "a://" * 250_000 + "=",
    "?token=" * 150_000,
    "=" + "a:" * 500_000 + "?",
    "https://a:" + "b" * 1_000_000 + "=",
    "x?a=" + ":1" * 500_000,
    "=?" + "." * 1_000_000,
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=[repr(t[:10]) for t in ADVERSARIAL])
def test_megabyte_adversarial_input_completes(text: str) -> None:
    assert isinstance(scrub_text(text), str)
    assert isinstance(scrub_url(text), str)
    assert isinstance(scrub_body(text), str)
