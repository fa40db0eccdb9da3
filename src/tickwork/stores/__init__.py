"""Stores: where jobs, their state and their history are kept."""

from ._base import NO_CLAIM, SHARDS, Store, shard_of
from ._memory import MemoryStore
from ._redis import RedisStore
from ._sqlite import SQLiteStore

__all__ = ["NO_CLAIM", "SHARDS", "MemoryStore", "RedisStore", "SQLiteStore", "Store", "shard_of"]
