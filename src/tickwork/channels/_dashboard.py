"""The dashboard's files: plain HTML, CSS and JavaScript written here, served at ``/dashboard/``.

They hold no data and no secret, so they are served without the token; the
page asks for the token and sends it with every call to the admin API. A
strict Content-Security-Policy allows scripts and styles from this origin
only (no inline script, no inline style, no third party).
"""

from __future__ import annotations

from importlib.resources import files

__all__ = ["CSP", "static_file"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

_FILES = {
    "": ("index.html", "text/html; charset=utf-8"),
    "index.html": ("index.html", "text/html; charset=utf-8"),
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "style.css": ("style.css", "text/css; charset=utf-8"),
    "favicon.svg": ("favicon.svg", "image/svg+xml"),
}
_cache: dict[str, tuple[bytes, str]] = {}


def static_file(name: str) -> tuple[bytes, str] | None:
    """The content and type of a dashboard file, or None when there is none by that name."""
    entry = _FILES.get(name)
    if entry is None:
        return None
    cached = _cache.get(entry[0])
    if cached is None:
        data = (
            files(__package__ or "tickwork.channels").joinpath("dashboard", entry[0]).read_bytes()
        )
        cached = _cache[entry[0]] = (data, entry[1])
    return cached
