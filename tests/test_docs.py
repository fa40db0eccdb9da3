"""The Python examples in the documentation run, and their assertions hold.

Each page's ```python blocks run in order in one namespace (a page may build
on its earlier blocks), with ``import tickwork as tw`` done first.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(p for p in DOCS.glob("*.md") if "```python" in p.read_text(encoding="utf-8"))
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_there_are_pages_with_examples() -> None:
    assert {p.name for p in PAGES} >= {"concepts.md", "triggers.md", "policies.md", "testing.md"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_examples_run(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    namespace: dict[str, object] = {"__name__": f"docs.{page.stem}"}
    exec("import tickwork as tw", namespace)
    disabled = logging.root.manager.disable  # a page may silence logging for its examples
    try:
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start(1)) + 1
            code = compile("\n" * (line - 1) + match.group(1), str(page), "exec")
            exec(code, namespace)
    finally:
        logging.disable(disabled)
