"""Stores: where jobs, their state and their history are kept."""

from ._base import NO_CLAIM, Store
from ._memory import MemoryStore
from ._redis import RedisStore
from ._sqlite import SQLiteStore

__all__ = ["NO_CLAIM", "MemoryStore", "RedisStore", "SQLiteStore", "Store"]
