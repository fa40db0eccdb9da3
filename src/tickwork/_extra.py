"""Reading a job's extra context into a request payload."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["parse_extra"]


def parse_extra(extra: Any) -> Any:
    """The payload a service sees for a job's ``extra``.

    - Not a string (None, a dict, a list...): the value itself.
    - JSON text: the JSON value.
    - Text whose every non-empty part is ``key=value`` (parts split on
      newlines, then on ``;``; the first ``=`` separates key and value; both
      stripped): a dict.
    - Anything else: the text itself.
    """
    if not isinstance(extra, str):
        return extra
    text = extra.strip()
    if not text:
        return extra
    if text[0] in '{["-0123456789tfn':
        try:
            return json.loads(text)
        except ValueError:
            pass
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        for part in line.split(";"):
            if not part.strip():
                continue
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                return extra
            pairs[key.strip()] = value.strip()
    return pairs if pairs else extra
