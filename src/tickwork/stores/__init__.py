"""Stores: where jobs, their state and their history are kept."""

from ._base import NO_CLAIM, SHARDS, RunRequest, Store, shard_of
from ._memory import MemoryStore
from ._redis import RedisStore
from ._sqlite import SQLiteStore

__all__ = [
    "NO_CLAIM",
    "SHARDS",
    "MemoryStore",
    "RedisStore",
    "RunRequest",
    "SQLiteStore",
    "Store",
    "shard_of",
]
