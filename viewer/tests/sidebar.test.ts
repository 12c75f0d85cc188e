// The Zendesk sidebar's choices: whom it looks up, which session it puts first, what it says.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  candidates,
  durationText,
  environmentText,
  lookupOrder,
  nearestSession,
  needsOlderPage,
  orderForTicket,
  signalsText,
  type SessionSummary,
} from "../src/sidebar/sessions";
import { apiError } from "../src/sidebar/zaf";

const MINUTE = 60_000;
const T = Date.parse("2026-09-21T12:00:00Z");

function session(id: string, startOffsetMin: number, minutes: number, extra: Partial<SessionSummary> = {}): SessionSummary {
  const start = T + startOffsetMin * MINUTE;
  return {
    session_id: id,
    user_id: "u42",
    started_at: new Date(start).toISOString(),
    ended_at: new Date(start + minutes * MINUTE).toISOString(),
    duration_ms: minutes * MINUTE,
    pages: ["https://shop.test/cart"],
    counts: { events: 10, clicks: 2, errors: 0, failed_requests: 0, rage_clicks: 0 },
    first_error_at: null,
    active: false,
    ...extra,
  };
}

test("lookup settings: known fields in order, anything else is no setting", () => {
  assert.deepEqual(lookupOrder("external_id,email"), ["external_id", "email"]);
  assert.deepEqual(lookupOrder(" email , external_id,email"), ["email", "external_id"]);
  assert.equal(lookupOrder("email,phone"), null);
  assert.equal(lookupOrder(""), null);
  assert.equal(lookupOrder(undefined), null);
  assert.equal(lookupOrder(42), null);
});

test("candidates follow the lookup order and skip blank and repeated values", () => {
  const requester = { externalId: " u42 ", email: "jane@shop.test" };
  assert.deepEqual(candidates(requester, ["external_id", "email"]), [
    { field: "external_id", userId: "u42" },
    { field: "email", userId: "jane@shop.test" },
  ]);
  assert.deepEqual(candidates(requester, ["email", "external_id"])[0], { field: "email", userId: "jane@shop.test" });
  assert.deepEqual(candidates({ externalId: "", email: null }, ["external_id", "email"]), []);
  assert.deepEqual(candidates({ externalId: "same", email: "same" }, ["external_id", "email"]).length, 1);
  assert.deepEqual(candidates({ externalId: 1234 }, ["external_id"]), [{ field: "external_id", userId: "1234" }]);
});

test("the session running at the ticket comes first, the others newest first", () => {
  const sessions = [
    session("newest", 120, 5),
    session("during", -10, 30),
    session("oldest", -3000, 5),
  ];
  const ordered = orderForTicket(sessions, T);
  assert.equal(ordered.nearest, "during");
  assert.deepEqual(
    ordered.sessions.map((s) => s.session_id),
    ["during", "newest", "oldest"],
  );
});

test("two tabs open at the ticket: the one started last; none open: the one that ended last before", () => {
  assert.equal(nearestSession([session("a", -30, 60), session("b", -5, 60)], T)?.session_id, "b");
  assert.equal(nearestSession([session("ended-early", -300, 5), session("ended-late", -60, 20)], T)?.session_id, "ended-late");
  // Within the two minutes the clocks may disagree by, a session still counts as running.
  assert.equal(nearestSession([session("just-before", -20, 19), session("older", -100, 10)], T)?.session_id, "just-before");
});

test("only sessions after the ticket: the first one after it; no ticket time: newest first, none marked", () => {
  assert.equal(nearestSession([session("later", 300, 5), session("soon", 30, 5)], T)?.session_id, "soon");
  const ordered = orderForTicket([session("a", -10, 1), session("b", 10, 1)], null);
  assert.equal(ordered.nearest, null);
  assert.deepEqual(ordered.sessions.map((s) => s.session_id), ["b", "a"]);
});

test("a session listed twice (two pages) is shown once", () => {
  const twice = [session("x", -10, 30), session("y", 10, 1), session("x", -10, 30)];
  assert.deepEqual(orderForTicket(twice, T).sessions.map((s) => s.session_id), ["x", "y"]);
});

test("an older page is fetched only when the newest full page is all after the ticket", () => {
  const after = [session("a", 500, 1), session("b", 400, 1)];
  assert.equal(needsOlderPage({ sessions: after, next_before: "2026-09-21T18:00:00Z" }, T), true);
  assert.equal(needsOlderPage({ sessions: after, next_before: null }, T), false);
  assert.equal(needsOlderPage({ sessions: [...after, session("c", -5, 10)], next_before: "x" }, T), false);
  assert.equal(needsOlderPage({ sessions: after, next_before: "x" }, null), false);
});

test("texts: duration, signals and environment", () => {
  assert.equal(durationText(245_000), "4:05");
  assert.equal(durationText(3_725_000), "1:02:05");
  assert.equal(durationText(0), "0:00");
  const busy = session("s", 0, 1, {
    pages: ["a", "b", "c"],
    counts: { events: 1, clicks: 1, errors: 1, failed_requests: 0, rage_clicks: 2 },
  });
  assert.equal(signalsText(busy), "3 pages · 1 error · 2 rage clicks");
  assert.equal(environmentText({ browser: "Chrome", browser_version: "131", os: "Windows", os_version: "10" }), "Chrome 131 · Windows 10");
  assert.equal(environmentText({ browser: "Safari", os: "iOS", device: "mobile" }), "Safari · iOS · mobile");
  assert.equal(environmentText(null), "");
});

test("a refusal from Zendesk's proxy keeps its status and the service's detail", () => {
  const refused = apiError({ status: 403, responseText: '{"detail": "it needs the scope \'links:create\'"}' });
  assert.equal(refused.status, 403);
  assert.match(refused.detail, /links:create/);
  assert.equal(apiError({ status: 502, responseText: "<html>bad gateway</html>" }).detail, "");
  assert.equal(apiError({ status: 401, responseJSON: { detail: "no key" } }).detail, "no key");
  assert.equal(apiError(new Error("offline")).status, 0);
});
