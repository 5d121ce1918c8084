"""Every error the API returns is RFC 9457 `application/problem+json`."""

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.contract.errors import ProgramError
from app.contract.schemas import Problem
from app.server.workers import SaturatedError

PROBLEM_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_TYPE,
        headers=headers,
    )


def program_problem(error: ProgramError) -> Problem:
    return Problem(
        type=PROBLEM_BASE + error.slug,
        title=error.title,
        status=422,
        detail=error.detail,
        line=error.line,
        column=error.column,
    )


async def _program_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ProgramError)
    return problem_response(program_problem(error))


def validation_problem(errors: Sequence[Any]) -> Problem:
    """A request that is not a GraphRequest (pydantic's errors), said in a few words."""
    return Problem(
        type=PROBLEM_BASE + "invalid-request",
        title="Invalid request",
        status=422,
        detail="; ".join(_describe(e) for e in errors[:5]),
    )


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return problem_response(validation_problem(error.errors()))


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where or 'body'}: {error.get('msg', 'invalid')}"


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    return problem_response(
        Problem(
            title=_title(error.status_code), status=error.status_code, detail=str(error.detail)
        ),
        headers=dict(error.headers or {}),
    )


# What a SaturatedError tells the user, from the API or the local client.
BUSY = Problem(
    type=PROBLEM_BASE + "busy",
    title="Server busy",
    status=503,
    detail="Every worker is busy; try again in a moment.",
)


async def _saturated(_: Request, __: Exception) -> JSONResponse:
    return problem_response(BUSY, headers={"Retry-After": "2"})


async def _unexpected(_: Request, __: Exception) -> JSONResponse:
    return problem_response(
        Problem(
            title="Internal Server Error", status=500, detail="Something went wrong on the server."
        )
    )


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProgramError, _program_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(SaturatedError, _saturated)
    app.add_exception_handler(Exception, _unexpected)
