"""The OpenAPI 3.1 document of the HTTP channel (``GET /openapi.json``).

Kept by hand next to the routes in ``http.py``; tests check that every route
is in it and run schemathesis against a live server with it. Request schemas
are never stricter than the server (what they reject, it rejects), so
generated invalid data must get a 4xx.
"""

from __future__ import annotations

import copy
from typing import Any

from .._jobspec import MAX_ATTEMPTS, MAX_FACTOR, MAX_SECONDS

__all__ = ["openapi_document"]

_JSON = "application/json"

_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_TIME = {"type": "string", "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description: str, schema: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {_JSON: {"schema": _ref(schema)}},
    }
    if headers:
        answer["headers"] = headers
    return answer


def _error(description: str) -> dict[str, Any]:
    return _answer(description, "Error")


_CID_HEADER = {
    "X-Correlation-ID": {
        "description": "The run's correlation id (its cid).",
        "schema": {"type": "string"},
    }
}

_ERRORS = {
    "BadRequest": _error(
        "Bad input: malformed JSON, a bad parameter or job spec (the field is named)."
    ),
    "Unauthorized": {
        **_error("No bearer token, or a wrong one."),
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
    "Forbidden": _error("The read-only token may only read (GET)."),
    "NotFound": _error("No such job or service, or the channel serves no scheduler."),
    "Conflict": _error("A job by that name exists already (pass replace=true)."),
    "LengthRequired": _error("A chunked body the server cannot delimit."),
    "TooLarge": _error("The body is larger than the channel's max_body."),
    "UnsupportedMediaType": _error("A body that is not application/json."),
    "ServiceError": {
        **_error(
            "The service raised (code service_error: its exception's type and message, "
            "never a traceback) or answered a payload that is not JSON (bad_response)."
        ),
        "headers": _CID_HEADER,
    },
    "StoreError": _error("The job store failed (the details are in the server's log)."),
}


def _errors(*codes: int) -> dict[str, Any]:
    names = {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        409: "Conflict",
        411: "LengthRequired",
        413: "TooLarge",
        415: "UnsupportedMediaType",
        503: "StoreError",
    }
    return {str(code): {"$ref": f"#/components/responses/{names[code]}"} for code in codes}


def _param(name: str, where: str, schema: dict[str, Any], description: str, **more: Any) -> Any:
    return {"name": name, "in": where, "schema": schema, "description": description, **more}


_JOB_NAME = _param(
    "name",
    "path",
    {"type": "string"},
    "The job's name, percent-encoded (a slash is %2F).",
    required=True,
)
_SERVICE_NAME = _param(
    "name", "path", {"type": "string"}, "The service's name, percent-encoded.", required=True
)
_TZ = _param(
    "tz",
    "query",
    {"type": "string"},
    "The IANA zone for the times in the answer (default: the channel's, UTC unless set).",
)
_LIMIT = _param(
    "limit",
    "query",
    {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    "At most this many.",
)
_COUNT = _param(
    "count",
    "query",
    {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
    "How many fire times.",
)
_AFTER = _param(
    "after",
    "query",
    {"type": "string"},
    "An ISO 8601 instant to start after (naive: in the answer's zone; default: now, "
    "or for a job, just before its next due time).",
)

_HISTORY_OFFSET = _param(
    "offset",
    "query",
    {"type": "integer", "minimum": 0, "maximum": 100000, "default": 0},
    "Skip this many of the newest runs (the next page starts at offset + limit).",
)
_OUTCOMES = ["ok", "error", "timeout", "skipped", "missed"]

_WRITE = (400, 401, 403, 404, 411, 413, 415, 503)


def _job_op(summary: str, description: str, code: str, answer: dict[str, Any], *errors: int) -> Any:
    return {
        "summary": summary,
        "description": description,
        "parameters": [_JOB_NAME, _TZ],
        "responses": {code: answer, **_errors(*errors)},
    }


_PATHS: dict[str, Any] = {
    "/health": {
        "get": {
            "summary": "Liveness",
            "description": "Answers without a token.",
            "security": [],
            "responses": {"200": _answer("Alive.", "Health")},
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 document.",
                    "content": {_JSON: {"schema": {"type": "object"}}},
                }
            },
        }
    },
    "/session": {
        "get": {
            "summary": "What this token may do",
            "description": "Whether the token is the read-only one, and whether the channel "
            "serves a scheduler (the dashboard asks, to hide what it cannot do).",
            "responses": {"200": _answer("The token's rights.", "Session"), **_errors(401)},
        }
    },
    "/services": {
        "get": {
            "summary": "List the registered services",
            "responses": {"200": _answer("The services, by name.", "ServiceList"), **_errors(401)},
        }
    },
    "/services/{name}": {
        "post": {
            "summary": "Invoke a service",
            "description": (
                "The JSON body (none: null) is the service's request.raw_request, parsed into "
                'request.payload as a job\'s extra is (a string like "a=1" becomes an object). '
                "The answer is the service's response payload as JSON; the run's cid is in "
                "X-Correlation-ID."
            ),
            "parameters": [_SERVICE_NAME],
            "requestBody": {"required": False, "content": {_JSON: {"schema": {}}}},
            "responses": {
                "200": {
                    "description": "The service's response payload.",
                    "headers": _CID_HEADER,
                    "content": {_JSON: {"schema": {}}},
                },
                **_errors(400, 401, 403, 404, 411, 413, 415),
                "500": {"$ref": "#/components/responses/ServiceError"},
            },
        }
    },
    "/jobs": {
        "get": {
            "summary": "List jobs",
            "description": "A page of the jobs, sorted by name.",
            "parameters": [
                _LIMIT,
                _param(
                    "offset",
                    "query",
                    {"type": "integer", "minimum": 0, "default": 0},
                    "Skip this many.",
                ),
                _param(
                    "q",
                    "query",
                    {"type": "string"},
                    "Only jobs whose name or service contains this (any case).",
                ),
                _param(
                    "active",
                    "query",
                    {"type": "boolean"},
                    "Only active (true) or paused (false) jobs.",
                ),
                _param(
                    "outcomes",
                    "query",
                    {"type": "integer", "minimum": 0, "maximum": 20, "default": 0},
                    "Add each job's newest outcomes, newest first, as last_outcomes "
                    "(0: leave them out).",
                ),
                _TZ,
            ],
            "responses": {
                "200": _answer("A page of jobs.", "JobList"),
                **_errors(400, 401, 404, 503),
            },
        },
        "post": {
            "summary": "Add a job",
            "parameters": [
                _param(
                    "replace",
                    "query",
                    {"type": "boolean", "default": False},
                    "Replace a job of the same name instead of answering 409.",
                ),
                _TZ,
            ],
            "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("JobSpec")}}},
            "responses": {
                "201": _answer(
                    "The job as added.",
                    "Job",
                    {"Location": {"description": "The job's URL.", "schema": {"type": "string"}}},
                ),
                **_errors(*_WRITE, 409),
            },
        },
    },
    "/jobs/{name}": {
        "get": _job_op("Get a job", "", "200", _answer("The job.", "Job"), 400, 401, 404, 503),
        "patch": {
            **_job_op(
                "Change a job",
                "Only the fields given change; a new trigger takes effect at once; "
                "active pauses or resumes it. A name, if given, must be the job's.",
                "200",
                _answer("The job as changed.", "Job"),
                *_WRITE,
            ),
            "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("JobPatch")}}},
        },
        "delete": {
            "summary": "Remove a job",
            "description": "Its history stays (GET /history?job=...).",
            "parameters": [_JOB_NAME],
            "responses": {"204": {"description": "Removed."}, **_errors(401, 403, 404, 503)},
        },
    },
    "/jobs/{name}/pause": {
        "post": _job_op(
            "Pause a job", "", "200", _answer("The job, paused.", "Job"), 400, 401, 403, 404, 503
        )
    },
    "/jobs/{name}/resume": {
        "post": _job_op(
            "Resume a job",
            "It fires again from its first fire time after now.",
            "200",
            _answer("The job, active.", "Job"),
            400,
            401,
            403,
            404,
            503,
        )
    },
    "/jobs/{name}/execute": {
        "post": {
            "summary": "Run a job now",
            "description": (
                "Once, on the scheduler's executor, even when paused; its next fire time and "
                "run count stay. extra, when given and not null, replaces the job's for this run."
            ),
            "parameters": [_JOB_NAME],
            "requestBody": {"required": False, "content": {_JSON: {"schema": _ref("Execute")}}},
            "responses": {
                "202": _answer("Started; the run's cid.", "Started", _CID_HEADER),
                **_errors(*_WRITE),
            },
        }
    },
    "/jobs/{name}/history": {
        "get": {
            "summary": "A job's runs",
            "description": "Newest first. 404 when the job does not exist (see GET /history).",
            "parameters": [_JOB_NAME, _LIMIT, _HISTORY_OFFSET, _TZ],
            "responses": {"200": _answer("Runs.", "RunList"), **_errors(400, 401, 404, 503)},
        }
    },
    "/jobs/{name}/next": {
        "get": {
            "summary": "A job's next fire times",
            "description": (
                "From its next due time (a paused job: from now), each with the DST rule that "
                "shaped it, if one did (cron triggers)."
            ),
            "parameters": [_JOB_NAME, _COUNT, _AFTER, _TZ],
            "responses": {
                "200": _answer("Fire times.", "JobFireTimes"),
                **_errors(400, 401, 404, 503),
            },
        }
    },
    "/history": {
        "get": {
            "summary": "Runs of every job",
            "description": "Newest first; removed jobs' runs included.",
            "parameters": [
                _LIMIT,
                _HISTORY_OFFSET,
                _param("job", "query", {"type": "string"}, "Only this job's runs."),
                _TZ,
            ],
            "responses": {"200": _answer("Runs.", "RunList"), **_errors(400, 401, 404, 503)},
        }
    },
    "/overview": {
        "get": {
            "summary": "Job counts and run counts over time",
            "description": (
                "For a dashboard: how many jobs there are (active, paused), the runs and "
                "failures (outcome error or timeout) of the last hour in 5-minute buckets, and "
                "a chart of runs and failures per bucket over the range. A run counts when it "
                "was recorded (finished; skipped and missed records when they were judged); runs "
                "still going do not. The chart's buckets last bucket_seconds = ceil(range / "
                "buckets), are aligned to multiples of that in the answer's zone, and the last "
                "holds now. Counted server-side by the job store."
            ),
            "parameters": [
                _param(
                    "range",
                    "query",
                    {"type": "integer", "minimum": 300, "maximum": 2592000, "default": 3600},
                    "The chart's span in seconds (5 minutes to 30 days).",
                ),
                _param(
                    "buckets",
                    "query",
                    {"type": "integer", "minimum": 1, "maximum": 500, "default": 60},
                    "At most this many buckets in the chart.",
                ),
                _TZ,
            ],
            "responses": {
                "200": _answer("The overview.", "Overview"),
                **_errors(400, 401, 404, 503),
            },
        }
    },
    "/upcoming": {
        "get": {
            "summary": "The next fire times of all active jobs",
            "description": (
                "The soonest fire times across every active job, merged and sorted (ties by "
                "job name), each with the DST rule that shaped it, if one did (cron triggers). "
                "A job's first is its next due time, as the scheduler holds it."
            ),
            "parameters": [
                _param(
                    "count",
                    "query",
                    {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                    "How many fire times.",
                ),
                _TZ,
            ],
            "responses": {
                "200": _answer("Fire times, soonest first.", "Upcoming"),
                **_errors(400, 401, 404, 503),
            },
        }
    },
    "/cron/preview": {
        "get": {
            "summary": "Preview a cron expression",
            "description": (
                "Its next fire times, read in tz (which is also the zone shown), each with the "
                "DST rule that shaped it, and the expression in words. Needs no scheduler."
            ),
            "parameters": [
                _param(
                    "expr",
                    "query",
                    {"type": "string", "minLength": 1},
                    "The cron expression.",
                    required=True,
                ),
                _param(
                    "tz",
                    "query",
                    {"type": "string"},
                    "The IANA zone the expression is read in (default: the channel's).",
                ),
                _COUNT,
                _AFTER,
            ],
            "responses": {"200": _answer("The preview.", "CronPreview"), **_errors(400, 401)},
        }
    },
}

_DURATION = {
    "type": ["number", "null"],
    "minimum": 0,
    "maximum": MAX_SECONDS,
    "description": "Seconds, or null.",
}
_POSITIVE_DURATION = {
    "type": ["number", "null"],
    "exclusiveMinimum": 0,
    "maximum": MAX_SECONDS,
    "description": "Seconds, or null.",
}
_UNITS = ("weeks", "days", "hours", "minutes", "seconds")
_COUNT_OF = {"type": "integer", "minimum": 0}


def _series(length: int | None) -> dict[str, Any]:
    series: dict[str, Any] = {"type": "array", "items": _COUNT_OF}
    if length is not None:
        series.update(minItems=length, maxItems=length)
    return series


def _trigger(kind: str, required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", *required],
        "properties": {"type": {"const": kind}, **properties},
        "additionalProperties": False,
    }


_SPEC_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "pattern": r"\S"},
    "service": {"type": "string", "minLength": 1, "pattern": r"\S"},
    "trigger": _ref("TriggerSpec"),
    "extra": {"description": "The service's request.raw_request: any JSON value."},
    "misfire": {"enum": ["coalesce", "skip", "all"]},
    "overlap": {"enum": ["skip", "queue", "allow"]},
    "grace": _DURATION,
    "jitter": _POSITIVE_DURATION,
    "timeout": _POSITIVE_DURATION,
    "retry": {"anyOf": [_ref("Retry"), {"type": "null"}]},
    "active": {"type": "boolean"},
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                    "cid": {"type": "string"},
                },
            }
        },
    },
    "Session": {
        "type": "object",
        "required": ["read_only", "scheduler"],
        "properties": {"read_only": {"type": "boolean"}, "scheduler": {"type": "boolean"}},
        "additionalProperties": False,
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"const": "ok"}},
    },
    "Service": {
        "type": "object",
        "required": ["name", "async", "exposed", "doc"],
        "properties": {
            "name": {"type": "string"},
            "async": {"type": "boolean"},
            "exposed": {"type": "boolean", "description": "Invocable over HTTP."},
            "doc": _NULLABLE_STRING,
        },
    },
    "ServiceList": {
        "type": "object",
        "required": ["services"],
        "properties": {"services": {"type": "array", "items": _ref("Service")}},
    },
    "TriggerSpec": {
        "oneOf": [_ref("IntervalTrigger"), _ref("CronTrigger"), _ref("OneTimeTrigger")],
        "discriminator": {
            "propertyName": "type",
            "mapping": {
                "interval": "#/components/schemas/IntervalTrigger",
                "cron": "#/components/schemas/CronTrigger",
                "onetime": "#/components/schemas/OneTimeTrigger",
            },
        },
    },
    "IntervalTrigger": _trigger(
        "interval",
        [],
        {
            **{unit: {"type": "number"} for unit in _UNITS},
            "start": _NULLABLE_STRING,
            "end": _NULLABLE_STRING,
            "repeats": {"type": ["integer", "null"], "minimum": 1},
            "tz": _NULLABLE_STRING,
        },
    ),
    "CronTrigger": _trigger(
        "cron",
        ["expr"],
        {
            "expr": {"type": "string"},
            "tz": _NULLABLE_STRING,
            "start": _NULLABLE_STRING,
            "end": _NULLABLE_STRING,
        },
    ),
    "OneTimeTrigger": _trigger(
        "onetime", ["at"], {"at": {"type": "string"}, "tz": _NULLABLE_STRING}
    ),
    "Retry": {
        "type": "object",
        "properties": {
            "attempts": {"type": "integer", "minimum": 1, "maximum": MAX_ATTEMPTS},
            "backoff": {"type": "number", "minimum": 0, "maximum": MAX_SECONDS},
            "factor": {"type": "number", "minimum": 1, "maximum": MAX_FACTOR},
            "max_backoff": _DURATION,
        },
        "additionalProperties": False,
    },
    "JobSpec": {
        "type": "object",
        "required": ["name", "service", "trigger"],
        "properties": _SPEC_PROPERTIES,
        "additionalProperties": False,
    },
    "JobPatch": {
        "type": "object",
        "properties": _SPEC_PROPERTIES,
        "additionalProperties": False,
    },
    "Job": {
        "type": "object",
        "required": [
            "name",
            "service",
            "trigger",
            "trigger_text",
            "extra",
            "active",
            "status",
            "next_fire_time",
            "runs",
            "misfire",
            "grace",
            "overlap",
            "jitter",
            "timeout",
            "retry",
        ],
        "properties": {
            "name": {"type": "string"},
            "service": {"type": "string"},
            "trigger": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"enum": ["interval", "cron", "onetime"]}},
            },
            "trigger_text": {"type": "string"},
            "extra": {},
            "active": {"type": "boolean"},
            "status": {
                "enum": ["active", "paused", "done"],
                "description": "done: no fire time left (kept until removed or replaced).",
            },
            "next_fire_time": _NULLABLE_TIME,
            "runs": {"type": "integer", "minimum": 0},
            "misfire": {"type": "string"},
            "grace": _DURATION,
            "overlap": {"type": "string"},
            "jitter": _DURATION,
            "timeout": _DURATION,
            "retry": {"type": ["object", "null"]},
            "last_outcomes": {
                "type": "array",
                "items": {"enum": _OUTCOMES},
                "description": "With ?outcomes=n: its newest n outcomes, newest first.",
            },
        },
    },
    "JobList": {
        "type": "object",
        "required": ["jobs", "total", "limit", "offset"],
        "properties": {
            "jobs": {"type": "array", "items": _ref("Job")},
            "total": {"type": "integer", "description": "How many jobs match, on all pages."},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
        },
    },
    "Run": {
        "type": "object",
        "required": [
            "cid",
            "job",
            "service",
            "scheduled_for",
            "started_at",
            "finished_at",
            "duration",
            "outcome",
            "error",
            "run_number",
            "attempt",
            "manual",
        ],
        "properties": {
            "cid": {"type": "string"},
            "job": {"type": "string"},
            "service": {"type": "string"},
            "scheduled_for": _TIME,
            "started_at": _NULLABLE_TIME,
            "finished_at": _NULLABLE_TIME,
            "duration": {"type": ["number", "null"], "description": "Seconds."},
            "outcome": {"enum": [*_OUTCOMES, None]},
            "error": _NULLABLE_STRING,
            "run_number": {"type": "integer"},
            "attempt": {"type": "integer"},
            "manual": {"type": "boolean"},
        },
    },
    "RunList": {
        "type": "object",
        "required": ["runs", "limit", "offset", "job"],
        "properties": {
            "runs": {"type": "array", "items": _ref("Run")},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "job": _NULLABLE_STRING,
        },
    },
    "Overview": {
        "type": "object",
        "required": ["now", "tz", "jobs", "last_hour", "chart"],
        "properties": {
            "now": _TIME,
            "tz": {"type": "string"},
            "jobs": {
                "type": "object",
                "required": ["total", "active", "paused"],
                "properties": {
                    "total": _COUNT_OF,
                    "active": _COUNT_OF,
                    "paused": _COUNT_OF,
                },
            },
            "last_hour": {
                "type": "object",
                "description": "The 60 whole minutes that end with the current one.",
                "required": [
                    "start",
                    "end",
                    "bucket_seconds",
                    "runs",
                    "failures",
                    "runs_series",
                    "failures_series",
                ],
                "properties": {
                    "start": _TIME,
                    "end": _TIME,
                    "bucket_seconds": {"const": 300},
                    "runs": _COUNT_OF,
                    "failures": _COUNT_OF,
                    "runs_series": _series(12),
                    "failures_series": _series(12),
                },
            },
            "chart": {
                "type": "object",
                "required": ["start", "end", "bucket_seconds", "runs", "failures"],
                "properties": {
                    "start": _TIME,
                    "end": _TIME,
                    "bucket_seconds": {"type": "integer", "minimum": 1},
                    "runs": _series(None),
                    "failures": _series(None),
                },
            },
        },
    },
    "UpcomingTime": {
        "type": "object",
        "required": ["job", "service", "at", "utc", "dst"],
        "properties": {
            "job": {"type": "string"},
            "service": {"type": "string"},
            "at": {**_TIME, "description": "In the answer's zone."},
            "utc": _TIME,
            "dst": {
                **_NULLABLE_STRING,
                "description": "The DST rule that shaped this time, in a sentence, or null.",
            },
        },
    },
    "Upcoming": {
        "type": "object",
        "required": ["tz", "count", "times"],
        "properties": {
            "tz": {"type": "string"},
            "count": {"type": "integer"},
            "times": {"type": "array", "items": _ref("UpcomingTime")},
        },
    },
    "Execute": {
        "type": "object",
        "properties": {"extra": {"description": "This run's extra (null: the job's)."}},
        "additionalProperties": False,
    },
    "Started": {
        "type": "object",
        "required": ["cid", "job"],
        "properties": {"cid": {"type": "string"}, "job": {"type": "string"}},
    },
    "FireTime": {
        "type": "object",
        "required": ["at", "utc", "dst"],
        "properties": {
            "at": {**_TIME, "description": "In the answer's zone."},
            "utc": _TIME,
            "dst": {
                **_NULLABLE_STRING,
                "description": "The DST rule that shaped this time, in a sentence, or null.",
            },
        },
    },
    "JobFireTimes": {
        "type": "object",
        "required": ["job", "active", "trigger_text", "tz", "times"],
        "properties": {
            "job": {"type": "string"},
            "active": {"type": "boolean"},
            "trigger_text": {"type": "string"},
            "tz": {"type": "string"},
            "times": {"type": "array", "items": _ref("FireTime")},
        },
    },
    "CronPreview": {
        "type": "object",
        "required": ["expr", "tz", "description", "fixed_time", "times"],
        "properties": {
            "expr": {"type": "string"},
            "tz": {"type": "string"},
            "description": {"type": "string"},
            "fixed_time": {
                "type": "boolean",
                "description": "Seconds, minutes and hours are fixed (the DST rules of "
                "fixed-time jobs apply), not wildcards.",
            },
            "times": {"type": "array", "items": _ref("FireTime")},
        },
    },
}


def _document() -> dict[str, Any]:
    from .. import __version__

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tickwork HTTP channel",
            "version": __version__,
            "description": (
                "Invoke services and administer a scheduler's jobs. Every operation but "
                "/health and /openapi.json needs 'Authorization: Bearer <token>'. Errors are "
                '{"error": {"code", "message", "field"?, "cid"?}}. Times are ISO 8601 in the '
                "channel's zone or ?tz=."
            ),
        },
        "security": [{"bearer": []}],
        "paths": _PATHS,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": _ERRORS,
            "schemas": _SCHEMAS,
        },
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the HTTP channel, a fresh dict to change at will."""
    return copy.deepcopy(_document())
