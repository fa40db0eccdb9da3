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
    # connections
    "SMTPMessage", "BasicAuth", "BearerAuth",
    # errors
    "TickworkError", "InvalidTrigger", "ServiceNotFound", "JobNotFound",
    "DuplicateJob", "ConnectionNotFound", "StoreError", "StoreReset",
    "OutgoingError", "RESTError", "RESTTimeout", "SMTPError",
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
    for leaf in (tw.RESTError, tw.RESTTimeout, tw.SMTPError):
        assert issubclass(leaf, tw.OutgoingError)
        assert issubclass(leaf, tw.TickworkError)
    assert issubclass(tw.RESTTimeout, tw.RESTError)
    assert issubclass(tw.RESTTimeout, TimeoutError)
    assert issubclass(tw.StoreReset, tw.StoreError)
    assert issubclass(tw.StoreError, tw.TickworkError)


def test_connections_subpackage_exports() -> None:
    import tickwork.connections as connections

    assert set(connections.__all__) == {
        "KVDB", "Attachment", "BasicAuth", "BearerAuth", "Connections", "EmailAccess",
        "KVDBAccess", "OutgoingAccess", "RESTClient", "RESTConnection", "SMTPClient",
        "SMTPConnection", "SMTPMessage",
    }  # fmt: skip
    for name in connections.__all__:
        assert getattr(connections, name) is not None, name


def test_py_typed_is_shipped() -> None:
    from importlib.resources import files

    assert files("tickwork").joinpath("py.typed").is_file()
