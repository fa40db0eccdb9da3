"""The package exports exactly the documented public names."""

import tickwork as tw

DOCUMENTED = {
    # services and the app
    "App", "Service", "service", "Request", "Response", "JobInfo",
    # triggers
    "Trigger", "OneTime", "Interval", "Cron",
    # the scheduler and its records
    "Scheduler", "Job", "Run", "Retry", "Event",
    # clocks, executors, stores
    "Clock", "SystemClock", "FakeClock",
    "Executor", "InlineExecutor", "ThreadExecutor", "AsyncioExecutor",
    "Store", "MemoryStore", "SQLiteStore", "RedisStore",
    # errors
    "TickworkError", "InvalidTrigger", "ServiceNotFound", "JobNotFound",
    "DuplicateJob", "ConnectionNotFound", "StoreError",
    "__version__",
}  # fmt: skip


def test_exports_exactly_the_documented_names() -> None:
    assert set(tw.__all__) == DOCUMENTED


def test_every_export_resolves() -> None:
    for name in tw.__all__:
        assert getattr(tw, name) is not None, name


def test_error_tree() -> None:
    assert issubclass(tw.InvalidTrigger, tw.TickworkError)
    assert issubclass(tw.InvalidTrigger, ValueError)
    assert issubclass(tw.ServiceNotFound, LookupError)
    assert issubclass(tw.JobNotFound, LookupError)
    assert issubclass(tw.DuplicateJob, ValueError)
    assert issubclass(tw.ConnectionNotFound, LookupError)
    for leaf in (tw.ServiceNotFound, tw.JobNotFound, tw.DuplicateJob, tw.ConnectionNotFound):
        assert issubclass(leaf, tw.TickworkError)


def test_py_typed_is_shipped() -> None:
    from importlib.resources import files

    assert files("tickwork").joinpath("py.typed").is_file()
