"""Channels: the ways in from outside, besides the scheduler and ``app.invoke``.

- :mod:`tickwork.channels.http`: a WSGI application that invokes services
  (``POST /services/{name}``) and administers a scheduler's jobs over a JSON
  API, behind a bearer token; ``app.wsgi(sched)`` builds it. Standard library
  only.
- The command line (``tickwork``) lives in ``tickwork._cli``.
"""

__all__: list[str] = []
