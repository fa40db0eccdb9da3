"""tickwork: embeddable, service-oriented job scheduling.

Services hold integration logic; a :class:`Scheduler` runs them as one-time,
interval and cron jobs, correct across time zones and DST, and testable with
a :class:`FakeClock`.

Example::

    import tickwork as tw

    app = tw.App()

    @app.service("hello")
    def hello(request):
        print("hello", request.payload)

    sched = tw.Scheduler(app)
    sched.add_job("greet", "hello", tw.Interval(seconds=5), extra="who=world")
    sched.run_forever()
"""

from ._app import App
from ._clock import Clock, FakeClock, SystemClock
from ._exceptions import (
    ConnectionNotFound,
    DuplicateJob,
    InvalidTrigger,
    JobNotFound,
    OutgoingError,
    RESTError,
    RESTTimeout,
    ServiceNotFound,
    SMTPError,
    StoreError,
    StoreReset,
    TickworkError,
)
from ._model import Event, Job, Retry, Run
from ._scheduler import Scheduler
from ._service import JobInfo, Request, Response, Service, service
from .connections import BasicAuth, BearerAuth, SMTPMessage
from .executors import AsyncioExecutor, Executor, InlineExecutor, ThreadExecutor
from .stores import MemoryStore, RedisStore, SQLiteStore, Store
from .triggers import Cron, Interval, OneTime, Trigger

__version__ = "0.1.0"

__all__ = [
    "App",
    "AsyncioExecutor",
    "BasicAuth",
    "BearerAuth",
    "Clock",
    "ConnectionNotFound",
    "Cron",
    "DuplicateJob",
    "Event",
    "Executor",
    "FakeClock",
    "InlineExecutor",
    "Interval",
    "InvalidTrigger",
    "Job",
    "JobInfo",
    "JobNotFound",
    "MemoryStore",
    "OneTime",
    "OutgoingError",
    "RESTError",
    "RESTTimeout",
    "RedisStore",
    "Request",
    "Response",
    "Retry",
    "Run",
    "SMTPError",
    "SMTPMessage",
    "SQLiteStore",
    "Scheduler",
    "Service",
    "ServiceNotFound",
    "Store",
    "StoreError",
    "StoreReset",
    "SystemClock",
    "ThreadExecutor",
    "TickworkError",
    "Trigger",
    "__version__",
    "service",
]
