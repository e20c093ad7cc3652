"""One pure-ASGI middleware that adds fixed headers to HTTP responses (streaming still works)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class AddHeaders:
    """Adds ``headers`` to every HTTP response, or only to those under ``prefix`` if given.

    Headers a response already has are kept, so a page may still set its own.
    """

    def __init__(self, app: ASGIApp, headers: Mapping[str, str], prefix: str | None = None) -> None:
        self.app = app
        self.headers = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
        self.prefix = prefix

    def _applies(self, scope: Scope) -> bool:
        if scope["type"] != "http":
            return False
        if self.prefix is None:
            return True
        path = scope.get("path", "")
        return path == self.prefix or path.startswith(self.prefix + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._applies(scope):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in self.headers:
                    if name not in present:
                        headers.append((name, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
