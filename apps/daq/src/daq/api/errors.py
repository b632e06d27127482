"""The one place where domain errors become HTTP statuses and codes; the body is labkit's
problem details (the exception's message as ``detail``), like every app's. Only errors
``core`` defines are mapped: the drivers raise those too."""

from __future__ import annotations

from typing import Any

from daq.core.errors import (
    BadReply,
    Conflict,
    Disconnected,
    InstrumentDown,
    InstrumentError,
    InstrumentFault,
    NotFound,
    NotReady,
    OutcomeUnknown,
    ReplyTimeout,
    SafetyRefused,
    StorageError,
    UnknownInstrument,
    ValueRefused,
)
from labkit.errors import ErrorMap, problem_responses

HTTP_ERRORS: ErrorMap = {
    UnknownInstrument: (404, "unknown_instrument"),
    NotFound: (404, "not_found"),
    ValueRefused: (422, "value_refused"),
    SafetyRefused: (403, "safety_refused"),
    Conflict: (409, "conflict"),
    NotReady: (409, "not_ready"),
    StorageError: (507, "storage"),
    Disconnected: (503, "disconnected"),
    InstrumentDown: (503, "instrument_down"),
    ReplyTimeout: (504, "no_answer"),
    OutcomeUnknown: (504, "outcome_unknown"),
    InstrumentError: (502, "instrument_error"),
    BadReply: (502, "bad_reply"),
    InstrumentFault: (502, "instrument_fault"),
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = problem_responses(
    {
        403: "Refused by the safety policy, or a wrong token",
        404: "No such instrument, acquisition or scan",
        409: "Conflicts with what is running, or the instrument is not ready",
        502: "The instrument reported an error or answered nonsense",
        503: "The instrument is down (port gone, or no good exchange since a failure), "
        "or no token is configured",
        504: "The instrument did not answer in time, or did not confirm a command it was sent",
        507: "The data directory cannot take the file",
    }
)
