"""Domain errors and the one error body every service answers with."""

from __future__ import annotations

import json
import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import EmulatedDBAPIException, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .db import causes, database_unavailable
from .i18n import SHARED_MESSAGES_ZH, localize, preferred_lang

log = logging.getLogger("xinren.errors")


class DomainError(Exception):
    """Base of every error a handler raises on purpose; `status` is the HTTP status it maps to."""

    status: int = 400
    code: str = "BAD_REQUEST"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details

    def response(self) -> JSONResponse:
        """The error body this error answers with."""
        return error_response(self.status, self.code, self.message, self.details)


# A business rule the database enforces at commit (a deferred trigger, say) refuses with this SQLSTATE and a JSON
# message {"code", "message", "details"}: the command is refused as a 409 with that code, like a handler's Conflict.
REFUSAL_SQLSTATE = "XR409"


def refusal_of(exc: BaseException) -> DomainError | None:
    """The DomainError a database refusal (REFUSAL_SQLSTATE) stands for, None for any other error."""
    for cause in causes(exc):
        message = getattr(cause, "message", None)
        if getattr(cause, "sqlstate", None) == REFUSAL_SQLSTATE and isinstance(message, str):
            try:
                said = json.loads(message)
            except ValueError:
                said = {"message": message}
            code, details = str(said.get("code", "CONFLICT")), said.get("details")
            return DomainError(str(said.get("message", "refused")), code=code, details=details, status=409)
    return None


class NotFound(DomainError):
    status, code = 404, "NOT_FOUND"


class Forbidden(DomainError):
    status, code = 403, "FORBIDDEN"


class Unauthorized(DomainError):
    status, code = 401, "UNAUTHORIZED"


class Conflict(DomainError):
    status, code = 409, "CONFLICT"


class Unprocessable(DomainError):
    status, code = 422, "UNPROCESSABLE"


class IllegalTransition(Conflict):
    """A state change the state machine does not allow; details carry the current status."""

    code = "ILLEGAL_TRANSITION"

    def __init__(self, entity: str, current: str, target: str):
        super().__init__(
            f"{entity} cannot go from {current} to {target}",
            details={"current_status": current, "requested_status": target},
        )
        self.current = current
        self.target = target


_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "TOO_MANY_REQUESTS",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """The one error body, as the OpenAPI documents declare it."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the error statuses it answers, each with the error body."""
    return {s: {"model": ErrorBody, "description": _STATUS_CODES.get(s, "error")} for s in statuses}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    # The raw errors may carry the offending input (bytes, huge bodies): keep location, message and type only.
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "VALIDATION_ERROR", "the request is not valid", _validation_details(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "HTTP_ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code.lower().replace("_", " ")
        return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        return await _unexpected(request, exc)

    # The database's errors and its connection's (refused, reset, timed out) are answered here, as the app's other
    # errors are. The answer of Starlette's last resort, the handler of `Exception` below, is followed by the error
    # raised again, and uvicorn then closes the connection: the client's keep-alive connection ended with every 503
    # while the database restarted (read errors of the next request on it). Only an error of no known kind is left
    # to it. EmulatedDBAPIException: the asyncpg adapter's own errors, raised unwrapped by a BEGIN sent on the driver
    # (sql.driver).
    for kind in (SQLAlchemyError, EmulatedDBAPIException, asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        app.add_exception_handler(kind, _database)

    def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The database cannot serve right now (restarting, unreachable): nothing was committed, retry later.
        log.warning("database unavailable: %s", exc)
        lang = preferred_lang(request.headers.get("accept-language"))
        message = localize(SHARED_MESSAGES_ZH, lang, "DATABASE_UNAVAILABLE", "the database is unavailable", None)
        headers = {"Retry-After": "2", "content-language": lang, "vary": "Accept-Language"}
        return error_response(503, "DATABASE_UNAVAILABLE", message, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if database_unavailable(exc):
            return _unavailable(request, exc)
        if (refusal := _input_postgres_refuses(exc)) is not None:
            # A value from the request that PostgreSQL cannot take: a NUL character in text, a number or a date out
            # of range (in a body, a query, a path or a cursor). The transaction rolled back: nothing changed.
            log.warning("refused a request value PostgreSQL cannot take (%s): %s", type(exc).__name__, refusal)
            message = f"the request holds a value this service cannot take: {refusal}"
            return error_response(422, "VALIDATION_ERROR", message)
        log.exception("unhandled error")
        # Answered outside every middleware (Starlette's last resort), so in the caller's language here.
        lang = preferred_lang(request.headers.get("accept-language"))
        message = localize(SHARED_MESSAGES_ZH, lang, "INTERNAL", "internal error", None)
        return error_response(500, "INTERNAL", message, headers={"content-language": lang, "vary": "Accept-Language"})


_REFUSED_BECAUSE = {
    "22021": "text must not contain NUL characters",  # character_not_in_repertoire
    "22P05": "text must not contain NUL characters",  # untranslatable_character (an escaped NUL in jsonb)
    "22001": "a text is too long",  # string_data_right_truncation
    "22003": "a number is out of range",  # numeric_value_out_of_range
    "22008": "a date or time is out of range",  # datetime_field_overflow
}


def _input_postgres_refuses(exc: BaseException | None) -> str | None:
    """What is wrong with the input when `exc` (or what caused it) is PostgreSQL refusing a value (SQLSTATE class
    22, data exception; asyncpg raises it too for an argument it cannot encode), else None."""
    for candidate in causes(exc, depth=5):
        sqlstate = getattr(candidate, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith("22"):
            return _REFUSED_BECAUSE.get(sqlstate, "a value is invalid or out of range")
    return None
