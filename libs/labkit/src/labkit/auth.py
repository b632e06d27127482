"""Token auth for an app's commands and streams, the same rules in every app.

A request presents the token as ``Authorization: Bearer TOKEN`` or ``X-API-Token: TOKEN``
(the header the dome's clients already send). The answer, as a :mod:`labkit.errors`
problem body:

- the app has no token configured: **503** ``token_not_configured`` (what needs the token is
  disabled; a service without a secret never falls back to open),
- no token given: **401** ``token_missing`` with ``WWW-Authenticate: Bearer``,
- a token that does not match: **403** ``token_wrong``,
- the app's **read token** (optional, see below) on a command: **403** ``token_read_only``.

A read token is a second secret that opens only what an instance made with ``reads=True``
guards (status, history, streams): a client that only watches (Home Assistant, a
dashboard) holds it, and losing that client does not hand out the commands. On a command
it is refused with 403, not 401: the client did authenticate (it holds a token the app
knows), the token just does not grant this (RFC 9110 section 15.5.4: with credentials
given, 403 says they are insufficient; 401 asks for credentials, and re-sending the same
read token would not help). It is the same class of answer as ``token_wrong``, with its own
``code`` and a detail saying why. A read token also gets stream tickets (streams are reads);
a ticket opens streams only, never commands.

Tokens are compared in constant time (SHA-256 of both, then ``hmac.compare_digest``, so the
comparison does not even reveal the length).

Streams (server-sent events, WebSocket) opened by a browser cannot carry headers:
``EventSource`` has no way to set one and ``new WebSocket()`` neither. They present a
**stream ticket** instead, ``?ticket=...``, which the page gets first from
:meth:`TokenAuth.ticket_router`'s route with its token in the header. A ticket is an HMAC,
under a key random to this process, of its expiry time (60 s ahead): it is not the token,
cannot be turned into it, opens only stream routes, and is useless a minute later. That is
why the token itself is never accepted in the query string: URLs end up in proxy and access
logs, browser history and error reports, where a long-lived secret must not be. (The
WebSocket subprotocol header would hide a token from logs too, but serves WebSocket only,
not ``EventSource``; one mechanism for both is simpler to get right.) Non-browser clients
can use the header on streams as well.
"""

# No `from __future__ import annotations` here: FastAPI reads the dependencies' signatures
# at run time, and they refer to this instance's security schemes.

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, SecretStr
from starlette.exceptions import WebSocketException
from starlette.requests import HTTPConnection
from starlette.status import WS_1008_POLICY_VIOLATION

from labkit.errors import HTTPProblem

TokenSource = Callable[[HTTPConnection], SecretStr | str | None]
"""Where the expected token comes from: the app's settings, read per request so tests can
swap them. ``None`` or empty: no token configured."""

TICKET_PARAM = "ticket"


class StreamTicket(BaseModel):
    """A short-lived credential for one stream URL: ``...?ticket=<ticket>``."""

    ticket: str
    expires_at: int = Field(description="Unix time after which the ticket is refused")
    param: str = Field(default=TICKET_PARAM, description="The query parameter to put it in")


def _value(token: SecretStr | str | None) -> str | None:
    if isinstance(token, SecretStr):
        token = token.get_secret_value()
    return token or None


def tokens_match(presented: str, expected: str | SecretStr) -> bool:
    """Constant-time comparison that reveals neither the content nor the length."""
    if isinstance(expected, SecretStr):
        expected = expected.get_secret_value()
    given = hashlib.sha256(presented.encode()).digest()
    wanted = hashlib.sha256(expected.encode()).digest()
    return hmac.compare_digest(given, wanted)


class TokenAuth:
    """The dependencies that guard an app's routes with its token.

    ``setting`` is the environment variable that sets the token; errors name it.
    ``required`` (default: always) decides per request whether the token is needed at all
    (the dome's reads are open unless configured otherwise). ``read_token`` is the app's
    read-only token (``None`` or empty: none); ``reads=True`` makes this instance a guard
    of reads, where it is accepted, and everywhere else it is refused as read-only. Give
    both instances of an app (reads and commands) the same ``read_token``, so that the
    command guard recognises it and says why it refuses it.

    >>> auth = TokenAuth(lambda conn: conn.app.state.settings.api_token, setting="DOME_API_TOKEN")
    >>> Command = Depends(auth.require)  # doctest: +SKIP
    """

    def __init__(
        self,
        token: TokenSource,
        *,
        setting: str,
        required: Callable[[HTTPConnection], bool] | None = None,
        read_token: TokenSource | None = None,
        reads: bool = False,
        header: str = "X-API-Token",
        ticket_seconds: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.setting = setting
        self.ticket_seconds = ticket_seconds
        self._token = token
        self._required = required
        self._read_token = read_token
        self.reads = reads
        self._clock = clock
        # Tickets are signed with a key of this process, not with the token: a leaked ticket
        # says nothing about the token, and a restart invalidates every ticket.
        self._ticket_key = secrets.token_bytes(32)
        bearer = HTTPBearer(auto_error=False, description=f"The token ({setting})")
        api_key = APIKeyHeader(
            name=header, auto_error=False, description=f"The token ({setting}), another way"
        )

        async def require(
            request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
            key: Annotated[str | None, Depends(api_key)],
        ) -> None:
            """Refuse the request unless it carries the token (header only)."""
            self.check(request, credentials.credentials if credentials else key)

        self.require = require
        """The dependency for ordinary routes: ``dependencies=[Depends(auth.require)]``."""
        self._header = header

    def needed(self, conn: HTTPConnection) -> bool:
        return self._required is None or self._required(conn)

    def _expected(self, conn: HTTPConnection) -> str | None:
        return _value(self._token(conn))

    def _expected_read(self, conn: HTTPConnection) -> str | None:
        return None if self._read_token is None else _value(self._read_token(conn))

    def refusal(self, conn: HTTPConnection, presented: str | None) -> HTTPProblem | None:
        """Why the token ``presented`` is refused, or ``None`` when it is accepted."""
        if not self.needed(conn):
            return None
        expected, read = self._expected(conn), self._expected_read(conn)
        # On a read the read token alone is enough to be configured; a command needs the
        # main token whatever else is set.
        if expected is None and not (self.reads and read is not None):
            return HTTPProblem(
                503,
                f"disabled: {self.setting} is not set, so nothing that needs the token runs",
                code="token_not_configured",
            )
        if not presented:
            return HTTPProblem(
                401,
                f"a token is required: send Authorization: Bearer TOKEN ({self.setting})",
                code="token_missing",
                headers={"WWW-Authenticate": "Bearer"},
            )
        # Both comparisons always run (constant time each), so the time taken does not
        # tell which of the two tokens, if any, was presented.
        is_main = expected is not None and tokens_match(presented, expected)
        is_read = read is not None and tokens_match(presented, read)
        if is_main or (is_read and self.reads):
            return None
        if is_read:
            return HTTPProblem(
                403,
                "a read-only token: it reads status but cannot send commands; "
                f"commands need {self.setting}",
                code="token_read_only",
            )
        return HTTPProblem(403, "wrong token", code="token_wrong")

    def check(self, conn: HTTPConnection, presented: str | None) -> None:
        """Raise the :class:`~labkit.errors.HTTPProblem` that refuses ``presented``, if any."""
        problem = self.refusal(conn, presented)
        if problem is not None:
            raise problem

    # streams ----------------------------------------------------------------------------

    def presented(self, conn: HTTPConnection) -> str | None:
        """The token in the request's headers, if any."""
        scheme, _, credentials = conn.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
        return conn.headers.get(self._header) or None

    def issue_ticket(self) -> StreamTicket:
        expires = int(self._clock()) + self.ticket_seconds
        return StreamTicket(ticket=f"{expires}.{self._sign(expires)}", expires_at=expires)

    def _sign(self, expires: int) -> str:
        message = f"labkit-stream-ticket:{expires}".encode()
        return hmac.new(self._ticket_key, message, hashlib.sha256).hexdigest()

    def ticket_valid(self, ticket: str) -> bool:
        expires_text, _, signature = ticket.partition(".")
        if not expires_text.isdigit():
            return False
        expires, now = int(expires_text), self._clock()
        if not now <= expires <= now + self.ticket_seconds + 1:
            return False
        return hmac.compare_digest(signature.encode(), self._sign(expires).encode())

    async def require_stream(
        self,
        conn: HTTPConnection,
        ticket: Annotated[
            str | None,
            Query(description="A stream ticket (POST the ticket route with the token)"),
        ] = None,
    ) -> None:
        """The dependency for SSE and WebSocket routes: the token in a header, or a valid
        ``?ticket=``. A refused WebSocket is closed before it is accepted (policy
        violation), which the server answers with HTTP 403."""
        if ticket is not None and self.needed(conn) and self.ticket_valid(ticket):
            return
        problem = self.refusal(conn, self.presented(conn))
        if problem is not None and ticket is not None and problem.status_code == 401:
            problem = HTTPProblem(403, "wrong or expired stream ticket", code="ticket_wrong")
        if problem is None:
            return
        if conn.scope["type"] == "websocket":
            raise WebSocketException(WS_1008_POLICY_VIOLATION, reason=str(problem.detail))
        raise problem

    def ticket_router(
        self, path: str, *, operation_id: str = "stream_ticket", tags: list[str] | None = None
    ) -> APIRouter:
        """A router with ``POST path``: a new stream ticket for a client that has the token
        (or the read token, on an instance with ``reads=True``; or for anyone, where
        ``required`` says no token is needed)."""
        router = APIRouter(tags=list(tags or []))

        @router.post(
            path,
            response_model=StreamTicket,
            operation_id=operation_id,
            dependencies=[Depends(self.require)],
            summary="A stream ticket, for clients that cannot send headers (browsers)",
        )
        async def stream_ticket() -> StreamTicket:
            return self.issue_ticket()

        return router
