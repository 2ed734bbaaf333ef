"""Everything the soak asks over HTTP, as people and scripts do, round-robin over the server
processes; each answer is tallied in the current window (5xx apart from other surprises).

Sign-ins go through /accounts/login/ as a browser's form post. The servers run with their
defaults, so the session and CSRF cookies are `Secure`; over the soak's plain http to
127.0.0.1 the client sends them itself (a browser would only do so behind TLS), which keeps
COLLAB_SECURE_COOKIES at its default.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter

import requests

from tests.support.soak.cast import Cast, Person, Room

FAILURES_KEPT = 20  # the first surprises, word for word, for the report
CONTENT_FORMATS = ("text", "html", "json")


class Http:
    def __init__(self, servers: list) -> None:
        self.servers = servers
        self._turn = itertools.count()
        self.window: Counter = Counter()
        self.failures: list[str] = []

    def next_server(self):
        return self.servers[next(self._turn) % len(self.servers)]

    async def call(
        self, kind: str, method: str, path: str, *, expect=(200,), token=None, server=None, **kw
    ) -> requests.Response | None:
        """The answer, or None when there was none; a status outside `expect` is a failure."""
        server = server or self.next_server()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = await asyncio.to_thread(
                requests.request,
                method,
                server.http + path,
                headers=headers,
                timeout=30,
                allow_redirects=False,
                **kw,
            )
        except requests.RequestException as exc:
            self._failure("http_errors", f"{kind}: {method} {path}: {exc!r}")
            return None
        self.window["requests"] += 1
        self.window[kind] += 1
        status = response.status_code
        if status >= 500:
            self._failure("http_5xx", f"{kind}: {method} {path}: {status} {response.text[:200]}")
        elif status not in expect:
            self._failure("http_errors", f"{kind}: {method} {path}: {status} {response.text[:200]}")
        return response

    def _failure(self, counter: str, description: str) -> None:
        self.window[counter] += 1
        if len(self.failures) < FAILURES_KEPT:
            self.failures.append(description)

    def take_window(self) -> Counter:
        window, self.window = self.window, Counter()
        return window


async def api_traffic(http: Http, cast: Cast, per_second: float, rng: random.Random) -> None:
    """What API clients ask all day: lists, metadata, content, versions and members of the
    long-lived documents (their owners asking), `per_second` calls one after the other."""
    while True:
        room = rng.choice(cast.rooms)
        document = f"/api/documents/{room.document}/"
        path, kind = rng.choice(
            [
                ("/api/documents/", "list"),
                (document, "metadata"),
                (f"{document}content?format={rng.choice(CONTENT_FORMATS)}", "content"),
                (f"{document}versions/", "versions"),
                (f"{document}members/", "members"),
            ]
        )
        await http.call(kind, "GET", path, token=room.owner.token)
        await asyncio.sleep(1 / per_second)


async def create_document(http: Http, owner: Person, editors, title: str) -> str | None:
    """A document made through the API and shared with `editors`: its id, or None."""
    created = await http.call(
        "create", "POST", "/api/documents/", expect=(201,), token=owner.token, json={"title": title}
    )
    if created is None or created.status_code != 201:
        return None
    document = created.json()["id"]
    for editor in editors:
        await http.call(
            "share",
            "POST",
            f"/api/documents/{document}/members/",
            expect=(201,),
            token=owner.token,
            json={"username": editor.username, "role": "editor"},
        )
    return document


async def name_version(http: Http, room: Room, name: str) -> None:
    await http.call(
        "name version",
        "POST",
        f"/api/documents/{room.document}/versions/",
        expect=(201,),
        token=room.owner.token,
        json={"name": name},
    )


async def sign_in(http: Http, person: Person) -> None:
    """Sign in with the form, list documents with the session, sign out."""
    server = http.next_server()
    form = await http.call("sign-in", "GET", "/accounts/login/", server=server)
    if form is None or "csrftoken" not in form.cookies:
        return
    csrf = form.cookies["csrftoken"]
    signed_in = await http.call(
        "sign-in",
        "POST",
        "/accounts/login/",
        expect=(302,),
        server=server,
        cookies={"csrftoken": csrf},
        data={
            "username": person.username,
            "password": person.password,
            "csrfmiddlewaretoken": csrf,
        },
    )
    if signed_in is None or "sessionid" not in signed_in.cookies:
        return
    cookies = {"csrftoken": signed_in.cookies.get("csrftoken", csrf)}
    cookies["sessionid"] = signed_in.cookies["sessionid"]
    await http.call("session", "GET", "/api/documents/", server=server, cookies=cookies)
    await http.call(
        "sign-out",
        "POST",
        "/accounts/logout/",
        expect=(302,),
        server=server,
        cookies=cookies,
        data={"csrfmiddlewaretoken": cookies["csrftoken"]},
    )


async def failed_sign_in(http: Http, attempt: int) -> None:
    """A wrong password for a name nobody has (a new name each time, so nobody gets locked
    out): the form comes back with its error, and the attempt is recorded."""
    server = http.next_server()
    form = await http.call("sign-in", "GET", "/accounts/login/", server=server)
    if form is None or "csrftoken" not in form.cookies:
        return
    csrf = form.cookies["csrftoken"]
    await http.call(
        "refused sign-in",
        "POST",
        "/accounts/login/",
        server=server,
        cookies={"csrftoken": csrf},
        data={"username": f"nobody-{attempt}", "password": "wrong", "csrfmiddlewaretoken": csrf},
    )


async def sign_ins(http: Http, cast: Cast, per_window: int, window_seconds: float) -> None:
    """`per_window` people sign in and out each window, and one stranger fails to."""
    people = itertools.cycle(cast.people)
    for attempt in itertools.count():
        for _ in range(per_window):
            await sign_in(http, next(people))
            await asyncio.sleep(window_seconds / (per_window + 1))
        await failed_sign_in(http, attempt)
        await asyncio.sleep(window_seconds / (per_window + 1))
