"""Stores: where jobs, their state and their history are kept."""

from ._base import Store
from ._memory import MemoryStore
from ._sqlite import SQLiteStore

__all__ = ["MemoryStore", "SQLiteStore", "Store"]
