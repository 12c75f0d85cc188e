"""The spec checker itself: Zendesk's own example passes, what Zendesk would refuse does not."""

from __future__ import annotations

import httpx

from tests.plugins.zendesk.contract import example, request_violations, schema_violations

NOTE = example("add-internal-note.authored.request.json")


def put(path: str, body: object) -> httpx.Request:
    return httpx.Request("PUT", f"https://acme.zendesk.com{path}", json=body)


def test_zendesks_examples_pass() -> None:
    assert schema_violations(example("update-ticket.request.json"), "TicketUpdateRequest") == []
    assert request_violations(put("/api/v2/tickets/35436", NOTE)) == []


def test_wrong_types_unknown_keys_and_read_only_keys_are_caught() -> None:
    comment = {"html_bdy": "<p>x</p>", "public": "no", "id": 1}
    problems = schema_violations({"ticket": {"comment": comment}}, "TicketUpdateRequest")
    assert any("'no' is not of type 'boolean'" in problem for problem in problems)
    assert any("comment.html_bdy is not in the spec" in problem for problem in problems)
    assert any("comment.id is read-only" in problem for problem in problems)


def test_paths_methods_and_parameters_are_checked() -> None:
    assert request_violations(put("/api/v2/tickets/35436/notes", NOTE)) == [
        "PUT /api/v2/tickets/35436/notes is not an operation of the spec"
    ]
    assert "path parameter ticket_id='T-1' is not an integer" in request_violations(
        put("/api/v2/tickets/T-1", NOTE)
    )
    upload = httpx.Request("POST", "https://acme.zendesk.com/api/v2/uploads?name=a.txt")
    assert request_violations(upload) == [
        "query parameter name is not declared",
        "required query parameter filename is missing",
    ]
    form = httpx.Request("PUT", "https://acme.zendesk.com/api/v2/tickets/1", data={"a": "b"})
    assert "the body is not sent as application/json" in request_violations(
        httpx.Request("PUT", form.url, headers=form.headers, content=b"{}")
    )
