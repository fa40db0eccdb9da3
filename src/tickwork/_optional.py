"""Optional dependencies: imported when a part that needs them is used."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import an optional dependency, or say which extra brings it.

    Raises:
        ImportError: the module is not installed; the message has the pip line.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{what} needs the {module!r} package, which is not installed; "
            f"install it with: pip install 'tickwork[{extra}]'"
        ) from exc
