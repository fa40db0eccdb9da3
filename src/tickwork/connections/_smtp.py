"""Outgoing e-mail over SMTP, on the standard library (smtplib and email).

:class:`SMTPMessage` is what a service fills in; :class:`SMTPConnection`
sends it, with STARTTLS (the default), implicit TLS or neither, and login
when credentials are set. Sessions are kept open for reuse between sends for
``keep_alive`` seconds, so a job that mails every minute logs in once, not
every time. Failures raise :class:`~tickwork.SMTPError`; nothing returns False.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import smtplib
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any, Literal

from .._exceptions import SMTPError
from .._service import new_cid
from ._common import MASK, check_name, check_timeout, tls_context

__all__ = ["Attachment", "SMTPClient", "SMTPConnection", "SMTPMessage"]

Security = Literal["starttls", "ssl", "none"]
_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
_RESERVED_HEADERS = {"to", "cc", "bcc", "from", "subject"}


class Attachment:
    """One attached file: its name, content and MIME type."""

    __slots__ = ("data", "mime_type", "name")

    def __init__(self, name: str, data: str | bytes, mime_type: str) -> None:
        self.name = name
        self.data = data
        self.mime_type = mime_type

    def __repr__(self) -> str:
        size = f"{len(self.data)} {type(self.data).__name__}"
        return f"Attachment({self.name!r}, {size}, {self.mime_type!r})"


class SMTPMessage:
    """An e-mail to send: fill it in, attach files, hand it to ``conn.send``.

    ``to``, ``cc`` and ``bcc`` take one address, a comma-separated string or
    a list (``"Ann <ann@example.com>"`` forms work). ``from_`` defaults to the
    connection's sender. Bcc recipients get the message but no header names them.

    Example::

        message = tw.SMTPMessage(subject="New data", to="ops@example.com")
        message.body = "Check attached data"
        message.attach("data.csv", "a,b\\n1,2\\n")
        self.email.smtp["My SMTP"].conn.send(message)
    """

    def __init__(
        self,
        subject: str = "",
        body: str = "",
        to: str | Iterable[str] | None = None,
        cc: str | Iterable[str] | None = None,
        bcc: str | Iterable[str] | None = None,
        from_: str | None = None,
        is_html: bool = False,
        headers: Mapping[str, str] | None = None,
        reply_to: str | None = None,
        charset: str = "utf-8",
    ) -> None:
        self.subject = subject
        self.body = body
        self.to = to
        self.cc = cc
        self.bcc = bcc
        self.from_ = from_
        self.is_html = is_html
        self.headers: dict[str, str] = dict(headers or {})
        self.reply_to = reply_to
        self.charset = charset
        self.attachments: list[Attachment] = []

    def attach(self, name: str, data: str | bytes, mime_type: str | None = None) -> None:
        """Attach a file. Text (str) goes as text in the message's charset;
        bytes go as they are. The MIME type is guessed from ``name`` when None.

        Raises:
            TypeError: ``data`` is neither str nor bytes.
            ValueError: ``name`` is empty or ``mime_type`` is not ``type/subtype``.
        """
        if not isinstance(name, str) or not name.strip() or any(c in name for c in "\r\n"):
            raise ValueError(f"an attachment needs a one-line file name, got {name!r}")
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        if not isinstance(data, str | bytes):
            raise TypeError(
                f"attachment {name!r}: data must be str or bytes, got {type(data).__name__}"
            )
        if mime_type is None:
            guessed, _encoding = mimetypes.guess_type(name, strict=False)
            if guessed is None:
                guessed = "text/plain" if isinstance(data, str) else "application/octet-stream"
            mime_type = guessed
        maintype, _, subtype = mime_type.partition("/")
        if not maintype or not subtype or "/" in subtype or any(c in mime_type for c in " \r\n"):
            raise ValueError(f"attachment {name!r}: mime_type {mime_type!r} is not type/subtype")
        self.attachments.append(Attachment(name, data, mime_type.lower()))

    def recipients(self) -> list[str]:
        """Every address the message goes to (to, cc and bcc), each once."""
        return _unique(self._parsed_recipients())

    def _parsed_recipients(self) -> tuple[list[Address], list[Address], list[Address]]:
        return _addresses("to", self.to), _addresses("cc", self.cc), _addresses("bcc", self.bcc)

    def build(self, default_from: str | None = None, cid: str | None = None) -> EmailMessage:
        """The MIME message as it will be sent (without a Bcc header).

        Raises:
            ValueError: no recipients, no sender, or a field that is not valid
                (an address without ``@``, a line break in a header); the
                message names the field.
        """
        return self._compose(default_from, cid)[0]

    def _compose(
        self, default_from: str | None, cid: str | None
    ) -> tuple[EmailMessage, str, list[str]]:
        """The MIME message, the envelope sender and the envelope recipients,
        from one reading of the addresses (see :meth:`build` for the errors)."""
        sender = self.from_ if self.from_ is not None else default_from
        if not sender:
            raise ValueError("SMTPMessage has no sender: set from_, or from_ on the connection")
        senders = _addresses("from_", sender)
        if len(senders) != 1:
            raise ValueError(f"SMTPMessage from_ must be one address, got {sender!r}")
        to, cc, bcc = self._parsed_recipients()
        recipients = _unique((to, cc, bcc))
        if not recipients:
            raise ValueError("SMTPMessage has no recipients: set to, cc or bcc")
        for field in ("subject", "body"):
            if not isinstance(getattr(self, field), str):
                raise TypeError(f"SMTPMessage {field} must be a string")
        if any(c in self.subject for c in "\r\n"):
            raise ValueError("SMTPMessage subject must be one line")
        msg = EmailMessage()
        msg["Subject"] = self.subject
        msg["From"] = senders[0]
        if to:
            msg["To"] = to
        if cc:
            msg["Cc"] = cc
        if self.reply_to:
            msg["Reply-To"] = _addresses("reply_to", self.reply_to)
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = make_msgid(domain=senders[0].domain or None)
        if cid is not None:
            msg["X-Correlation-ID"] = cid
        for key, value in self.headers.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"SMTPMessage header {key!r} must map a string to a string")
            if key.lower() in _RESERVED_HEADERS:
                raise ValueError(f"SMTPMessage header {key!r}: set it as an attribute instead")
            if not key or any(c in key for c in ": \r\n") or any(c in value for c in "\r\n"):
                raise ValueError(
                    f"SMTPMessage header {key!r} is not a valid name or one-line value"
                )
            if key in msg:
                del msg[key]
            msg[key] = value
        msg.set_content(
            self.body, subtype="html" if self.is_html else "plain", charset=self.charset
        )
        for item in self.attachments:
            maintype, subtype = item.mime_type.split("/", 1)
            if isinstance(item.data, str):
                # Encoded, not re-flowed: the receiver decodes the text exactly as given.
                params = {"charset": self.charset} if maintype == "text" else {}
                msg.add_attachment(
                    item.data.encode(self.charset),
                    maintype,
                    subtype,
                    filename=item.name,
                    params=params,
                )
            else:
                msg.add_attachment(item.data, maintype, subtype, filename=item.name)
        return msg, senders[0].addr_spec, recipients

    def __repr__(self) -> str:
        return (
            f"SMTPMessage(subject={self.subject!r}, to={self.to!r}, cc={self.cc!r}, "
            f"bcc={self.bcc!r}, attachments={[a.name for a in self.attachments]!r})"
        )


def _unique(groups: Iterable[list[Address]]) -> list[str]:
    """The addresses' addr-specs, each once, in order."""
    return list(dict.fromkeys(address.addr_spec for group in groups for address in group))


def _addresses(field: str, value: object) -> list[Address]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, Iterable):
        items = list(value)
    else:
        raise TypeError(f"SMTPMessage {field} takes a string or a list of strings")
    found = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"SMTPMessage {field}: {item!r} is not a string")
        if any(c in item for c in "\r\n"):
            raise ValueError(f"SMTPMessage {field}: {item!r} holds a line break")
        for display, addr in getaddresses([item]):
            if not addr and not display:
                continue
            local, at, domain = addr.rpartition("@")
            if not at or not local or not domain or " " in addr:
                raise ValueError(f"SMTPMessage {field}: {item!r} is not an e-mail address")
            found.append(Address(display_name=display, username=local, domain=domain))
    return found


class SMTPConnection:
    """A named outgoing SMTP connection.

    Args:
        name: the name services look it up by.
        host, port: the server; port defaults to 587 for ``starttls``, 465
            for ``ssl`` and 25 for ``none``.
        username, password: log in with these when given (both or neither).
        security: ``starttls`` (upgrade a plain connection; the server must
            offer it), ``ssl`` (TLS from the first byte) or ``none``.
        from_: the sender for messages that do not set one.
        timeout: seconds for connecting and for each reply.
        verify: check the server's certificate: True (system CAs), False
            (tests only), a CA bundle path or an ``ssl.SSLContext``.
        keep_alive: seconds an idle session is kept for the next send; 0 closes
            each session after its message.
        allow_insecure_auth: log in over a connection without TLS (``none``);
            refused by default, as the password would travel in clear text.

    Raises:
        ValueError, TypeError: a bad argument, named in the message.
    """

    kind = "SMTP"

    def __init__(
        self,
        name: str,
        host: str,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        security: Security = "starttls",
        from_: str | None = None,
        timeout: float | None = 10.0,
        *,
        verify: bool | str | ssl.SSLContext = True,
        keep_alive: float = 30.0,
        max_idle: int = 4,
        local_hostname: str | None = None,
        allow_insecure_auth: bool = False,
    ) -> None:
        self.name = check_name("SMTP", name)
        where = f"SMTP connection {name!r}"
        if not isinstance(host, str) or not host.strip() or any(c in host for c in "/ \r\n"):
            raise ValueError(f"{where}: host must be a host name or address, got {host!r}")
        if security not in _DEFAULT_PORTS:
            raise ValueError(
                f"{where}: security must be 'starttls', 'ssl' or 'none', got {security!r}"
            )
        if port is None:
            port = _DEFAULT_PORTS[security]
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"{where}: port must be an int in 1-65535, got {port!r}")
        if (username is None) != (password is None):
            raise ValueError(f"{where}: give both username and password, or neither")
        if username is not None and not (isinstance(username, str) and isinstance(password, str)):
            raise TypeError(f"{where}: username and password must be strings")
        if username is not None and security == "none" and not allow_insecure_auth:
            raise ValueError(
                f"{where}: logging in with security='none' would send the password in clear "
                "text; use 'starttls' or 'ssl' (or allow_insecure_auth=True)"
            )
        if from_ is not None:
            try:
                senders = _addresses("from_", from_)
            except (TypeError, ValueError):
                senders = []
            if len(senders) != 1:
                raise ValueError(f"{where}: from_ must be one e-mail address, got {from_!r}")
        if (
            isinstance(keep_alive, bool)
            or not isinstance(keep_alive, int | float)
            or keep_alive < 0
        ):
            raise ValueError(f"{where}: keep_alive must be seconds >= 0, got {keep_alive!r}")
        if isinstance(max_idle, bool) or not isinstance(max_idle, int) or max_idle < 0:
            raise ValueError(f"{where}: max_idle must be an int >= 0, got {max_idle!r}")
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.security: Security = security
        self.from_ = from_
        self.timeout = check_timeout(where, timeout)
        self.verify = verify
        self._context = tls_context(where, verify) if security != "none" else None
        self.keep_alive = float(keep_alive)
        self.max_idle = max_idle
        self.local_hostname = local_hostname
        self._lock = threading.Lock()
        self._idle: list[tuple[smtplib.SMTP, float]] = []
        self._retired = False

    # -- sessions -----------------------------------------------------------
    def _where(self) -> str:
        return f"{self.host}:{self.port} ({self.security})"

    def _open(self) -> smtplib.SMTP:
        timeout = self.timeout if self.timeout is not None else 60.0
        try:
            if self.security == "ssl":
                session: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    local_hostname=self.local_hostname,
                    timeout=timeout,
                    context=self._context,
                )
            else:
                session = smtplib.SMTP(
                    self.host, self.port, local_hostname=self.local_hostname, timeout=timeout
                )
        except ssl.SSLError as exc:
            raise self._error("tls", f"TLS with {self._where()} failed: {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise self._error(
                "connect", f"cannot connect to {self._where()}: {_text(exc)}", exc
            ) from exc
        try:
            if self.security == "starttls":
                try:
                    session.ehlo()
                    if not session.has_extn("starttls"):
                        raise self._error(
                            "tls", f"{self._where()} does not offer STARTTLS; set security"
                        )
                    session.starttls(context=self._context)
                    session.ehlo()
                except (ssl.SSLError, ssl.CertificateError) as exc:
                    raise self._error(
                        "tls", f"STARTTLS with {self._where()} failed: {exc}"
                    ) from exc
            if self.username is not None and self.password is not None:
                try:
                    session.login(self.username, self.password)
                except smtplib.SMTPNotSupportedError as exc:
                    raise self._error(
                        "auth", f"{self._where()} does not offer AUTH to this client", exc
                    ) from exc
                except smtplib.SMTPException as exc:
                    raise self._error(
                        "auth",
                        f"login as {self.username!r} at {self._where()} failed: {_text(exc)}",
                        exc,
                    ) from exc
        except SMTPError:
            _close(session)
            raise
        except (OSError, smtplib.SMTPException) as exc:
            _close(session)
            raise self._error(
                "connect", f"{self._where()} dropped the session: {_text(exc)}", exc
            ) from exc
        return session

    def _take(self) -> tuple[smtplib.SMTP, bool]:
        """A session: an idle one (True) or a new one (False)."""
        now = time.monotonic()
        stale = []
        session = None
        with self._lock:
            while self._idle:
                candidate, since = self._idle.pop()
                if now - since <= self.keep_alive:
                    session = candidate
                    break
                stale.append(candidate)
        for old in stale:
            _close(old)
        if session is not None:
            return session, True
        return self._open(), False

    def _give_back(self, session: smtplib.SMTP) -> None:
        if self.keep_alive > 0:
            with self._lock:
                if not self._retired and len(self._idle) < self.max_idle:
                    self._idle.append((session, time.monotonic()))
                    return
        _quit(session)

    def retire(self) -> None:
        """Close the idle sessions and keep no more (on replace and remove)."""
        with self._lock:
            self._retired = True
        self.close()

    def close(self) -> None:
        """Close the idle sessions now; the next send opens a new one."""
        with self._lock:
            idle, self._idle = self._idle, []
        for session, _since in idle:
            _quit(session)

    # -- sending -------------------------------------------------------------
    def send(self, message: SMTPMessage, cid: str | None = None) -> str:
        """Send ``message``; returns its Message-ID.

        A session kept from an earlier send that the server has dropped
        meanwhile is replaced and the message sent once on a new one.

        Raises:
            SMTPError: connecting, TLS, login or sending failed (``stage``
                says which); also when the server refused any recipient.
            ValueError, TypeError: the message is not valid (no recipients, a
                bad address); nothing was sent.
        """
        if not isinstance(message, SMTPMessage):
            raise TypeError(f"send() takes an SMTPMessage, got {type(message).__name__}")
        msg, envelope_from, recipients = message._compose(
            self.from_, cid if cid is not None else new_cid()
        )
        session, reused = self._take()
        try:
            refused = session.send_message(msg, envelope_from, recipients)
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException) as exc:
            _close(session)
            stale = isinstance(exc, smtplib.SMTPServerDisconnected) or (
                isinstance(exc, smtplib.SMTPSenderRefused) and exc.smtp_code == 421
            )
            if not (reused and stale):
                raise self._send_error(exc) from exc
            session = self._open()
            try:
                refused = session.send_message(msg, envelope_from, recipients)
            except (OSError, smtplib.SMTPException) as again:
                _close(session)
                raise self._send_error(again) from again
        except (OSError, smtplib.SMTPException) as exc:
            _close(session)
            raise self._send_error(exc) from exc
        self._give_back(session)
        if refused:
            detail = {k: (v[0], _decode(v[1])) for k, v in refused.items()}
            raise SMTPError(
                self.name,
                f"{self._where()} refused {len(detail)} of {len(recipients)} recipients "
                f"({', '.join(f'{k}: {c} {r}' for k, (c, r) in detail.items())}); "
                "the message went to the others",
                stage="send",
                refused=detail,
            )
        return str(msg["Message-ID"])

    async def asend(self, message: SMTPMessage, cid: str | None = None) -> str:
        """:meth:`send` for async services; runs in a worker thread."""
        return await asyncio.to_thread(self.send, message, cid)

    def _send_error(self, exc: BaseException) -> SMTPError:
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            detail = {k: (v[0], _decode(v[1])) for k, v in exc.recipients.items()}
            return SMTPError(
                self.name,
                f"{self._where()} refused every recipient "
                f"({', '.join(f'{k}: {c} {r}' for k, (c, r) in detail.items())})",
                stage="send",
                refused=detail,
            )
        return self._error("send", f"sending to {self._where()} failed: {_text(exc)}", exc)

    def _error(self, stage: str, detail: str, exc: BaseException | None = None) -> SMTPError:
        code = getattr(exc, "smtp_code", None)
        return SMTPError(
            self.name, detail, stage=stage, code=code if isinstance(code, int) else None
        )

    def __repr__(self) -> str:
        return (
            f"SMTPConnection(name={self.name!r}, host={self.host!r}, port={self.port}, "
            f"security={self.security!r}, username={self.username!r}, "
            f"password={None if self.password is None else MASK!r}, from_={self.from_!r})"
        )


class SMTPClient:
    """What a service holds as ``self.email.smtp[name].conn``: ``send(message)``
    (and ``asend`` for async services), with the run's cid as ``X-Correlation-ID``."""

    __slots__ = ("_cid", "connection")

    def __init__(self, connection: SMTPConnection, cid: str | None = None) -> None:
        self.connection = connection
        self._cid = cid

    def send(self, message: SMTPMessage) -> str:
        """Send ``message``; see :meth:`SMTPConnection.send`."""
        return self.connection.send(message, self._cid)

    async def asend(self, message: SMTPMessage) -> str:
        return await self.connection.asend(message, self._cid)

    def __repr__(self) -> str:
        return f"SMTPClient({self.connection.name!r}, cid={self._cid!r})"


def _decode(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _text(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_decode(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _close(session: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        session.close()


def _quit(session: smtplib.SMTP) -> None:
    try:
        session.quit()
    except (OSError, smtplib.SMTPException):
        _close(session)
