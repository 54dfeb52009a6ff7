"""A ``TestClient`` without its thread, for tests that send thousands of requests.

Starlette's ``TestClient`` runs the app in an event loop on a thread of its own and crosses to it about
eight times per request (start, receive, each body part, completion): ~1.3 ms of CPU a request on this
host, more than a refused request costs the app itself. This client runs the app in an event loop of the
calling thread instead, one ``run_until_complete`` per request, with the same ASGI scope ``TestClient``
builds (client address, ``server``, ``state`` from the lifespan, the debug extensions), the lifespan run
on enter and exit, redirects followed and cookies kept as ``TestClient`` does. The app under test is the
same object, its middleware included; sync endpoints still run in anyio's worker threads.

Differences, on purpose: the response body is read whole before the answer returns (no test here
streams an endless body), and there is no WebSocket support (the app has no WebSocket route).
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any
from urllib.parse import unquote

import httpx

Message = dict[str, Any]


class _Transport(httpx.BaseTransport):
    def __init__(self, owner: InProcessClient) -> None:
        self.owner = owner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.owner.run(self._call(request))

    async def _call(self, request: httpx.Request) -> httpx.Response:
        owner = self.owner
        url = request.url
        port = url.port or {"http": 80, "https": 443}[url.scheme]
        headers = [] if "host" in request.headers else [(b"host", url.netloc)]
        headers += [(key.lower().encode(), value.encode()) for key, value in request.headers.multi_items()]
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": request.method,
            "path": unquote(url.path),
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "root_path": "",
            "scheme": url.scheme,
            "query_string": url.query,
            "headers": headers,
            "client": owner.client_address,
            "server": [url.raw_host.decode("ascii"), port],
            "extensions": {"http.response.debug": {}, "http.response.trailers": {}},
            "state": owner.app_state.copy(),
        }
        body = request.read()
        sent_body = False
        done = asyncio.Event()
        start: Message | None = None
        parts: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent_body
            if sent_body:
                await done.wait()
                return {"type": "http.disconnect"}
            sent_body = True
            return {"type": "http.request", "body": body}

        async def send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                assert start is None, 'Received multiple "http.response.start" messages.'
                start = message
            elif message["type"] == "http.response.body":
                assert start is not None, 'Received "http.response.body" without "http.response.start".'
                parts.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    done.set()

        try:
            await owner.app(scope, receive, send)
        except Exception:
            if owner.raise_server_exceptions:
                raise
        finally:
            done.set()
        if start is None:  # the app raised before answering: what TestClient answers then
            return httpx.Response(500, request=request)
        response_headers = [(key.decode(), value.decode()) for key, value in start.get("headers", [])]
        content = b"" if request.method == "HEAD" else b"".join(parts)
        return httpx.Response(start["status"], headers=response_headers, content=content, request=request)


class InProcessClient(httpx.Client):
    """``with InProcessClient(app, raise_server_exceptions=False) as client:`` as with ``TestClient``."""

    __test__ = False

    def __init__(
        self,
        app: Any,
        *,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        client: tuple[str, int] = ("testclient", 50000),
    ) -> None:
        self.app = app
        self.raise_server_exceptions = raise_server_exceptions
        self.client_address = client
        self.app_state: dict[str, Any] = {}
        self._loop = asyncio.new_event_loop()
        self._lifespan: asyncio.Task[None] | None = None
        self._to_app: asyncio.Queue[Message] | None = None
        self._from_app: asyncio.Queue[Message] | None = None
        self._server: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[tuple[Any, asyncio.Future[Any]]] = asyncio.Queue()
        super().__init__(
            base_url=base_url,
            headers={"user-agent": "testclient"},
            transport=_Transport(self),
            follow_redirects=True,
        )

    def run(self, coroutine: Any) -> Any:
        """``coroutine``'s result, awaited in the one task that serves every request: anyio ties its worker
        threads (sync endpoints and dependencies) to the task at the root, and a root task per request
        would start new threads for every request."""
        if self._server is None:
            self._server = self._loop.create_task(self._serve())
        answer = self._loop.create_future()
        self._inbox.put_nowait((coroutine, answer))
        return self._loop.run_until_complete(answer)

    async def _serve(self) -> None:
        while True:
            coroutine, answer = await self._inbox.get()
            if coroutine is None:
                answer.set_result(None)
                return
            try:
                answer.set_result(await coroutine)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
                answer.set_exception(exc)

    def __enter__(self) -> InProcessClient:
        self.run(self._lifespan_event("startup"))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        try:
            self.run(self._lifespan_event("shutdown"))
            if self._lifespan is not None:
                self.run(self._lifespan)
        finally:
            if self._server is not None:
                self.run(None)  # the server task ends: anyio stops the worker threads it started
                self._loop.run_until_complete(self._server)
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
            self._loop.close()
            super().__exit__(exc_type, exc, tb)

    async def _lifespan_event(self, event: str) -> None:
        if self._lifespan is None:
            self._to_app, self._from_app = asyncio.Queue(), asyncio.Queue()
            scope = {"type": "lifespan", "state": self.app_state}
            self._lifespan = asyncio.ensure_future(self.app(scope, self._to_app.get, self._from_app.put))
        assert self._to_app is not None and self._from_app is not None
        await self._to_app.put({"type": f"lifespan.{event}"})
        answer_task = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait({answer_task, self._lifespan}, return_when=asyncio.FIRST_COMPLETED)
        if not answer_task.done():  # the lifespan ended (raised) without answering
            answer_task.cancel()
            self._lifespan.result()
            raise RuntimeError(f"the app's lifespan ended without answering lifespan.{event}")
        answer = answer_task.result()
        if answer["type"] == f"lifespan.{event}.failed":
            raise RuntimeError(f"the app's lifespan {event} failed: {answer.get('message', '')}")
        assert answer["type"] == f"lifespan.{event}.complete", answer
