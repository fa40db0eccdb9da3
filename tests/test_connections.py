"""The connections registry: names, lookups from services, changes while a scheduler runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tickwork as tw
from tickwork.testing.servers import SMTPSink


@pytest.fixture
def sink() -> Iterator[SMTPSink]:
    with SMTPSink() as server:
        yield server


class Mail(tw.Service):
    name = "mail"

    def handle(self) -> None:
        message = tw.SMTPMessage(subject=f"run {self.request.job.run_number}", to="a@example.com")
        self.email.smtp["Mail"].conn.send(message)


def test_names_and_repr() -> None:
    app = tw.App()
    assert app.connections.names() == {"rest": [], "smtp": [], "kvdb": []}
    app.connections.add_smtp("b", host="127.0.0.1", security="none")
    app.connections.add_smtp("a", host="127.0.0.1", security="none")
    assert app.connections.names()["smtp"] == ["a", "b"]
    assert repr(app.connections) == "Connections(rest=[], smtp=['a', 'b'], kvdb=None)"


def test_a_taken_name_needs_replace() -> None:
    app = tw.App()
    app.connections.add_smtp("Mail", host="127.0.0.1", security="none")
    with pytest.raises(ValueError, match=r"'Mail' exists already; pass replace=True"):
        app.connections.add_smtp("Mail", host="127.0.0.2", security="none")
    assert app.connections.smtp("Mail").host == "127.0.0.1"  # unchanged
    app.connections.add_smtp("Mail", host="127.0.0.2", security="none", replace=True)
    assert app.connections.smtp("Mail").host == "127.0.0.2"


def test_bad_arguments_change_nothing() -> None:
    app = tw.App()
    app.connections.add_smtp("Mail", host="127.0.0.1", security="none")
    with pytest.raises(ValueError, match="security"):
        app.connections.add_smtp("Mail", host="127.0.0.1", security="tls", replace=True)  # type: ignore[arg-type]
    assert app.connections.smtp("Mail").security == "none"
    for bad in ("", "  ", None):
        with pytest.raises(ValueError, match="non-empty string name"):
            app.connections.add_smtp(bad, host="127.0.0.1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lookup", "kind"),
    [
        (lambda s: s.email.smtp["Mial"], "SMTP"),
        (lambda s: s.out.plain_http["Mial"], "REST"),
        (lambda s: s.out.rest["Mial"], "REST"),
    ],
)
def test_a_missing_name_in_a_service_names_it_and_the_known_ones(lookup: object, kind: str) -> None:
    app = tw.App()
    app.connections.add_smtp("Mail", host="127.0.0.1", security="none")

    class Looks(tw.Service):
        name = "looks"

        def handle(self) -> None:
            lookup(self)  # type: ignore[operator]

    app.add_service(Looks)
    with pytest.raises(tw.ConnectionNotFound) as info:
        app.invoke("looks")
    known = "'Mail'" if kind == "SMTP" else "none"
    assert str(info.value) == (
        f"No {kind} connection by the name of 'Mial'; the known ones are: {known}"
    )
    assert info.value.name == "Mial"


def test_lookups_read_like_a_mapping() -> None:
    app = tw.App()
    app.connections.add_smtp("Mail", host="127.0.0.1", security="none")
    seen = {}

    class Looks(tw.Service):
        name = "looks"

        def handle(self) -> None:
            smtp = self.email.smtp
            seen.update(
                names=list(smtp),
                has="Mail" in smtp,
                missing=smtp.get("nope"),
                entry=repr(smtp["Mail"]),
                conn=repr(smtp["Mail"].conn),
                cid=self.cid,
            )

    app.add_service(Looks)
    app.invoke("looks")
    assert seen["names"] == ["Mail"]
    assert seen["has"] is True
    assert seen["missing"] is None
    assert seen["entry"] == "<SMTP connection 'Mail'>"
    assert seen["conn"] == f"SMTPClient('Mail', cid={seen['cid']!r})"


def test_connections_change_while_the_scheduler_runs(sink: SMTPSink) -> None:
    """A run that cannot find its connection fails with the reason in its
    history; once the connection is added the next run sends; a removed one
    fails again; the scheduler never stops."""
    app = tw.App()
    app.add_service(Mail)
    clock = tw.FakeClock("2026-01-01T00:00:00Z")
    sched = tw.Scheduler(app, clock=clock)
    sched.add_job("mail", "mail", tw.Interval(minutes=1))
    [first] = sched.advance(minutes=1)
    assert first.outcome == "error"
    assert "No SMTP connection by the name of 'Mail'" in (first.error or "")
    app.connections.add_smtp(
        "Mail", host=sink.host, port=sink.port, security="none", from_="s@example.com"
    )
    [second] = sched.advance(minutes=1)
    assert second.outcome == "ok"
    assert sink.wait_for(1)[0].message["Subject"] == "run 2"
    app.connections.remove_smtp("Mail")
    [third] = sched.advance(minutes=1)
    assert third.outcome == "error"
    sched.shutdown()
    app.close()


def test_replacing_a_connection_is_seen_by_the_next_run(sink: SMTPSink) -> None:
    with SMTPSink() as other:
        app = tw.App()
        app.add_service(Mail)
        app.connections.add_smtp(
            "Mail", host=sink.host, port=sink.port, security="none", from_="s@example.com"
        )
        sched = tw.Scheduler(app, clock=tw.FakeClock("2026-01-01T00:00:00Z"))
        sched.add_job("mail", "mail", tw.Interval(minutes=1))
        sched.advance(minutes=1)
        app.connections.add_smtp(
            "Mail",
            host=other.host,
            port=other.port,
            security="none",
            from_="s@example.com",
            replace=True,
        )
        sched.advance(minutes=1)
        sched.shutdown()
        app.close()
        assert [m.message["Subject"] for m in sink.wait_for(1)] == ["run 1"]
        assert [m.message["Subject"] for m in other.wait_for(1)] == ["run 2"]


def test_function_services_reach_connections_through_a_second_argument(sink: SMTPSink) -> None:
    app = tw.App()
    app.connections.add_smtp(
        "Mail", host=sink.host, port=sink.port, security="none", from_="s@example.com"
    )

    @app.service("notify")
    def notify(request: tw.Request, service: tw.Service) -> str:
        message = tw.SMTPMessage(subject=request.payload["subject"], to="a@example.com")
        return service.email.smtp["Mail"].conn.send(message)

    @app.service("anotify")
    async def anotify(request: tw.Request, service: tw.Service) -> str:
        message = tw.SMTPMessage(subject="async", to="a@example.com")
        return await service.email.smtp["Mail"].conn.asend(message)

    @app.service("defaults")
    def defaults(request: tw.Request, limit: int = 10) -> int:
        return limit  # a second parameter with a default keeps it

    message_id = app.invoke("notify", {"subject": "from a function"})
    assert app.invoke("anotify").startswith("<")
    assert app.invoke("defaults") == 10
    received = sink.wait_for(2)
    assert received[0].message["Message-ID"] == message_id
    assert [m.message["Subject"] for m in received] == ["from a function", "async"]
    app.close()
