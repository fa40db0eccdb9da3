"""Stores: where jobs, their state and their history are kept."""

from ._base import Store
from ._memory import MemoryStore

__all__ = ["MemoryStore", "Store"]
