"""Outgoing connections: REST (httpx), SMTP (standard library) and the KVDB (Redis).

Configure them on ``app.connections``; services reach them as
``self.out.plain_http[name].conn`` (also ``self.out.rest``),
``self.email.smtp[name].conn`` and ``self.kvdb.conn``. httpx and redis-py load
only when a REST connection or the KVDB is configured.
"""

from ._kvdb import KVDB
from ._registry import Connections, EmailAccess, KVDBAccess, OutgoingAccess
from ._rest import BasicAuth, BearerAuth, RESTClient, RESTConnection
from ._smtp import Attachment, SMTPClient, SMTPConnection, SMTPMessage

__all__ = [
    "KVDB",
    "Attachment",
    "BasicAuth",
    "BearerAuth",
    "Connections",
    "EmailAccess",
    "KVDBAccess",
    "OutgoingAccess",
    "RESTClient",
    "RESTConnection",
    "SMTPClient",
    "SMTPConnection",
    "SMTPMessage",
]
