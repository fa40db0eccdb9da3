"""Schemathesis against the HTTP channel's OpenAPI document, on a live loopback server.

Every operation gets generated requests, valid and invalid; every answer is
checked: no 5xx, status codes the document lists, bodies and headers that
conform to it, invalid input refused with a 4xx, no answer without the token
but a 401.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

import tickwork as tw
from tickwork.channels.http import HTTPChannel, openapi_document, serve

schemathesis = pytest.importorskip("schemathesis")

TOKEN = "schemathesis-token-0123456789"


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    app = tw.App()

    @app.service("echo")
    def echo(request: tw.Request) -> Any:
        return request.payload

    @app.service("hidden", expose_http=False)
    def hidden(request: tw.Request) -> None:
        return None

    sched = tw.Scheduler(app, clock=tw.FakeClock(start="2026-03-28T00:00:00Z"))
    sched.add_job("sample", "echo", tw.Cron("30 1 * * *", tz="Europe/London"))
    sched.add_job("a/b", "echo", tw.Interval(minutes=5), extra="region=eu")
    sched.add_job("paused", "echo", tw.OneTime("2026-04-01 09:00"), active=False)
    sched.execute_now("sample")
    channel = HTTPChannel(app, sched, token=TOKEN)
    server = serve(channel, port=0)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        app.close()


schema = schemathesis.openapi.from_dict(openapi_document())
# The token is sent with every request (below), so the Authorization header is
# not one of the parameters to vary; the ignored_auth check still sends
# requests without it and wants a 401.
schema.config.generation.update(with_security_parameters=False)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)
def test_the_api_keeps_its_document(case: Any, live_url: str) -> None:
    case.call_and_validate(
        base_url=live_url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        # A schema cannot say "a known IANA zone", "a cron expression that
        # parses" or "a trigger that fires again", so input valid by the
        # document may rightly get a 400; every other check runs.
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )
