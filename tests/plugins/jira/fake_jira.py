"""A stand-in Jira Cloud on respx: issues in memory, answers from the saved vendor examples,
every request checked against Jira's own spec and the ADF schema."""

from __future__ import annotations

import email
import email.policy
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import respx

from tests.plugins.jira.contract import adf_violations, body_violations, example, operation

__all__ = ["FakeJira", "Fault", "Part"]

# Where a JSON body holds a document in Atlassian Document Format, by operation.
ADF_FIELDS = {
    "addComment": lambda body: body.get("body"),
    "createIssue": lambda body: body.get("fields", {}).get("description"),
}


@dataclass(frozen=True)
class Fault:
    """How the next call of an operation goes wrong."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    lands: bool = False
    """True: the write happens, then the answer is an error (the reply got lost)."""


@dataclass(frozen=True)
class Part:
    """One part of a multipart upload."""

    name: str | None
    filename: str | None
    content_type: str
    content: bytes


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"errorMessages": [message], "errors": {}}
    return httpx.Response(status, json=body, headers=headers)


def _parts(request: httpx.Request) -> list[Part]:
    head = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
    message = email.message_from_bytes(head + request.content, policy=email.policy.HTTP)
    return [
        Part(
            name=part.get_param("name", header="content-disposition"),
            filename=part.get_filename(),
            content_type=part.get_content_type(),
            content=part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    ]


class FakeJira:
    """Jira's issue endpoints, as far as the plugin uses them (install with `respx.mock`)."""

    def __init__(self, router: respx.MockRouter, authorization: str) -> None:
        self.authorization = authorization
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.remote_links: dict[str, dict[str, dict[str, Any]]] = {}
        self.link_posts: list[dict[str, Any]] = []
        self.attachments: dict[str, list[dict[str, Any]]] = {}
        self.uploads: list[list[Part]] = []
        self.created: list[dict[str, Any]] = []
        self.labels: dict[str, list[str]] = {}
        """Labels of the issues created, by key (for the search)."""
        self.missing: set[str] = set()
        self.page_size = 100
        """Jira may answer with fewer comments than asked for; a test can make pages short."""
        self.problems: list[str] = []
        """Requests Jira would refuse or not understand: a test fails when any are left."""
        self.calls: list[str] = []
        """`operationId`s in the order they came."""
        self._faults: dict[str, deque[Fault]] = {}
        self._lock = threading.Lock()
        self._next_id = 10000
        router.route().mock(side_effect=self._handle)

    def fail_next(self, operation_id: str, *faults: Fault) -> None:
        """The next calls of the operation (`addComment`, ...) fail like this, in order."""
        with self._lock:
            self._faults.setdefault(operation_id, deque()).extend(faults)

    def comments_on(self, key: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.comments.get(key, []))

    def _id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            path = unquote(request.url.path)
            found = operation(request.method, request.url.path)
            if found is None:
                self.problems.append(f"Jira has no {request.method} {path}")
                return _error(404, "not found")
            template, operation_id = found
            self.calls.append(operation_id)
            if request.headers.get("authorization") != self.authorization:
                return _error(401, "You are not authenticated.")
            if request.headers.get("accept") != "application/json":
                self.problems.append(f"{operation_id}: no Accept: application/json")
            if not request.headers.get("user-agent", "").startswith("ReplayDesk/"):
                self.problems.append(f"{operation_id}: no ReplayDesk User-Agent")
            body = None
            if request.headers.get("content-type", "").startswith("application/json"):
                body = json.loads(request.content)
                problems = body_violations(request.method, template, body)
                if operation_id in ADF_FIELDS:
                    document = ADF_FIELDS[operation_id](body)
                    problems += [f"ADF {p}" for p in adf_violations(document)]
                if problems:
                    self.problems += [f"{operation_id}: {p}" for p in problems]
                    return _error(400, "; ".join(problems))
            key = path.split("/")[5] if path.count("/") >= 5 else ""
            if key in self.missing:
                return _error(404, "Issue does not exist or you do not have permission to see it.")
            faults = self._faults.get(operation_id)
            fault = faults.popleft() if faults else None
            if fault is not None and not fault.lands:
                return _error(fault.status, "scripted fault", fault.headers)
            response = getattr(self, f"_{operation_id}")(request, key, body)
            if fault is not None:
                return _error(fault.status, "scripted fault after the write", fault.headers)
            return response

    def _addComment(self, request: httpx.Request, key: str, body: Any) -> httpx.Response:
        answer = example("add-comment.201.response.json")
        comment_id = self._id()
        answer.update(id=comment_id, body=body["body"])
        answer["self"] = f"{request.url.scheme}://{request.url.host}{request.url.path}/{comment_id}"
        self.comments.setdefault(key, []).append(answer)
        return httpx.Response(201, json=answer)

    def _getComments(self, request: httpx.Request, key: str, body: Any) -> httpx.Response:
        comments = list(self.comments.get(key, []))
        if request.url.params.get("orderBy") == "-created":
            comments.reverse()
        start = int(request.url.params.get("startAt", 0))
        count = min(int(request.url.params.get("maxResults", 100)), self.page_size)
        page = {
            "startAt": start,
            "maxResults": count,
            "total": len(comments),
            "comments": comments[start : start + count],
        }
        return httpx.Response(200, json=page)

    def _createOrUpdateRemoteIssueLink(
        self, request: httpx.Request, key: str, body: Any
    ) -> httpx.Response:
        self.link_posts.append(body)
        links = self.remote_links.setdefault(key, {})
        global_id = body.get("globalId") or self._id()
        known = links.get(global_id)
        link_id = known["id"] if known else int(self._id())
        links[global_id] = {**body, "id": link_id}
        answer = example(f"remotelink.{200 if known else 201}.response.json")
        answer.update(id=link_id, self=f"{request.url}/{link_id}")
        return httpx.Response(200 if known else 201, json=answer)

    def _getIssue(self, request: httpx.Request, key: str, body: Any) -> httpx.Response:
        answer = example("get-issue.200.response.json")
        answer.update(key=key)
        answer["fields"]["attachment"] = list(self.attachments.get(key, []))
        return httpx.Response(200, json=answer)

    def _addAttachment(self, request: httpx.Request, key: str, body: Any) -> httpx.Response:
        if request.headers.get("x-atlassian-token") != "no-check":
            self.problems.append("addAttachment without X-Atlassian-Token: no-check")
            return _error(403, "XSRF check failed")
        parts = _parts(request)
        self.uploads.append(parts)
        files = [part for part in parts if part.name == "file"]
        if len(files) != len(parts) or not files:
            self.problems.append(f"addAttachment parts not all named 'file': {parts}")
        template = example("add-attachment.200.response.json")[1]
        added = []
        for part in files:
            attachment = {
                **template,
                "id": self._id(),
                "filename": part.filename,
                "mimeType": part.content_type,
                "size": len(part.content),
            }
            added.append(attachment)
        self.attachments.setdefault(key, []).extend(added)
        return httpx.Response(200, json=added)

    def _createIssue(self, request: httpx.Request, key: str, body: Any) -> httpx.Response:
        answer = example("create-issue.201.response.json")
        number = int(answer["key"].split("-")[1]) + len(self.created)
        answer.update(key=f"{body['fields']['project']['key']}-{number}", id=self._id())
        self.created.append(body)
        self.labels[answer["key"]] = list(body["fields"].get("labels", []))
        return httpx.Response(201, json=answer)

    def _searchAndReconsileIssuesUsingJql(
        self, request: httpx.Request, key: str, body: Any
    ) -> httpx.Response:
        # Only the query the plugin makes: one label, quoted.
        matched = re.fullmatch(r'labels = "((?:[^"\\]|\\.)*)"', request.url.params["jql"])
        if matched is None:
            self.problems.append(f"searchAndReconsileIssuesUsingJql: jql {request.url.params}")
            return _error(400, "unexpected JQL")
        label = re.sub(r"\\(.)", r"\1", matched.group(1))
        keys = [k for k, labels in self.labels.items() if label in labels]
        issues = [
            {"id": self._id(), "key": k} for k in keys[: int(request.url.params["maxResults"])]
        ]
        return httpx.Response(200, json={"issues": issues, "isLast": True})
