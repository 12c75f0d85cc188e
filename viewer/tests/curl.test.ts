// "Copy as cURL": secrets never travel in the copy, and what remains pastes into a shell as is.
import assert from "node:assert/strict";
import { test } from "node:test";
import { curlCommand, isSecretHeader, redactBody, redactUrl, shellQuote } from "../src/curl";
import { readOpenAt, momentLink } from "../src/moment_link";

test("a plain GET is the URL alone", () => {
  assert.equal(curlCommand({ method: "get", url: "https://shop.test/api/cart" }), "curl 'https://shop.test/api/cart'");
});

test("credential headers are left out, the others kept", () => {
  const command = curlCommand({
    method: "POST",
    url: "https://shop.test/api/pay",
    requestHeaders: {
      authorization: "Bearer sk_live_abc",
      Cookie: "sid=abc",
      "set-cookie": "sid=abc",
      "proxy-authorization": "Basic abc",
      "x-api-key": "k_123",
      "X-Auth-Token": "t_123",
      "x-csrf-token": "c_123",
      "content-type": "application/json",
      "x-request-id": "req-42",
    },
    requestBody: '{"amount":89}',
  });
  for (const secret of ["sk_live_abc", "sid=abc", "Basic abc", "k_123", "t_123", "c_123"]) {
    assert.ok(!command.includes(secret), `${secret} in ${command}`);
  }
  assert.ok(command.includes("-H 'content-type: application/json'"));
  assert.ok(command.includes("-H 'x-request-id: req-42'"));
  assert.ok(command.includes("-X 'POST'"));
  assert.ok(command.includes(`--data-raw '{"amount":89}'`));
});

test("secret query parameters become placeholders; the fragment and userinfo go", () => {
  assert.equal(
    redactUrl("https://user:pw@shop.test/api/pay?session_token=tok_3F&id=7&api_key=k1&access_token=[secret]&token_type=bearer#x=1"),
    "https://shop.test/api/pay?session_token=REDACTED&id=7&api_key=REDACTED&access_token=REDACTED&token_type=bearer",
  );
  assert.equal(redactUrl("https://shop.test/a?q=lamps"), "https://shop.test/a?q=lamps");
  assert.equal(redactUrl("https://shop.test/a?%74oken=abc"), "https://shop.test/a?%74oken=REDACTED");
});

test("secret members of JSON and form bodies become placeholders", () => {
  assert.equal(
    redactBody('{"user":"jane","password":"hunter2","nested":{"refresh_token":"r1","code":"card_declined"}}'),
    '{"user":"jane","password":"REDACTED","nested":{"refresh_token":"REDACTED","code":"card_declined"}}',
  );
  assert.equal(redactBody("grant_type=password&username=jane&password=hunter2"), "grant_type=password&username=jane&password=REDACTED");
  assert.equal(redactBody('{"cut short'), '{"cut short');
});

test("hostile values stay inside their quotes", () => {
  assert.equal(shellQuote("it's $(rm -rf /)"), `'it'\\''s $(rm -rf /)'`);
  const command = curlCommand({ method: "POST'; rm -rf / #", url: "https://shop.test/'$(id)'", requestBody: "a'b" });
  assert.ok(command.includes(`-X 'POST'\\''; RM -RF / #'`));
  assert.ok(command.startsWith(`curl 'https://shop.test/'\\''$(id)'\\'''`));
});

test("header names are judged without regard to case", () => {
  for (const name of ["Authorization", "COOKIE", "x-session-id", "X-Amz-Security-Token"]) assert.ok(isSecretHeader(name), name);
  for (const name of ["content-type", "accept", "x-request-id"]) assert.ok(!isSecretHeader(name), name);
});

test("links to a moment carry the same token and the offset", () => {
  const link = momentLink("https://replay.test/replay/s-1?at=first-error", "tok.en.x", 4321.6);
  assert.equal(link, "https://replay.test/replay/s-1?at=4322#t=tok.en.x");
  assert.deepEqual(readOpenAt("?at=4322"), { kind: "offset", ms: 4322 });
  assert.deepEqual(readOpenAt("?at=first-error"), { kind: "first-error" });
  for (const odd of ["?at=-5", "?at=1e9", "?at=12.5s", "?at=", ""]) assert.equal(readOpenAt(odd), null, odd);
});
