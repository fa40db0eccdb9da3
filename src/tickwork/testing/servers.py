"""Real servers on loopback for tests and demos: an SMTP sink and a redis-server.

Connector tests talk to real servers, not mocks. These two start in a
fraction of a second on a free port of 127.0.0.1 and stop cleanly:

- :class:`SMTPSink`: an aiosmtpd server (``pip install aiosmtpd``) that keeps
  every message it accepts, with optional STARTTLS or implicit TLS and AUTH.
- :class:`RedisServer`: a ``redis-server`` process (the binary must be
  installed; Debian's package ``redis-server``) with no persistence.

Example::

    with SMTPSink() as smtp:
        app.connections.add_smtp("mail", host=smtp.host, port=smtp.port, security="none")
        app.invoke("report")
        assert smtp.wait_for(1)[0].message["Subject"] == "Daily report"
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import warnings
import weakref
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

__all__ = ["ReceivedMail", "RedisServer", "SMTPSink", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class ReceivedMail:
    """One message as the server received it: the envelope and the parsed message."""

    __slots__ = ("mail_from", "message", "peer", "raw", "rcpt_tos")

    def __init__(self, mail_from: str, rcpt_tos: list[str], raw: bytes, peer: Any) -> None:
        self.mail_from = mail_from
        self.rcpt_tos = rcpt_tos
        self.raw = raw
        self.peer = peer
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.message: EmailMessage = parsed

    def attachments(self) -> dict[str, bytes]:
        """File name -> decoded content of each attachment."""
        found = {}
        for part in self.message.iter_attachments():
            name = part.get_filename()
            payload = part.get_payload(decode=True)
            if name is not None and isinstance(payload, bytes):
                found[name] = payload
        return found

    def body(self) -> str:
        """The text (or HTML) body."""
        part = self.message.get_body(("plain", "html"))
        if part is None:
            return ""
        content: str = part.get_content()
        return content

    def __repr__(self) -> str:
        return (
            f"ReceivedMail(from={self.mail_from!r}, to={self.rcpt_tos!r}, "
            f"subject={self.message['Subject']!r})"
        )


class SMTPSink:
    """An SMTP server on loopback that keeps what it receives.

    Args:
        security: ``none``; ``starttls`` (offered, and required before MAIL);
            or ``ssl`` (TLS from the first byte). Both TLS forms need ``tls_context``,
            a server-side ``ssl.SSLContext`` (``trustme`` makes one in tests).
        username, password: require AUTH (PLAIN or LOGIN) with these.
        refuse: recipients to refuse with 550.

    Raises:
        ImportError: aiosmtpd is not installed.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        security: Literal["none", "starttls", "ssl"] = "none",
        tls_context: ssl.SSLContext | None = None,
        username: str | None = None,
        password: str | None = None,
        refuse: tuple[str, ...] = (),
    ) -> None:
        try:
            from aiosmtpd.controller import Controller
            from aiosmtpd.smtp import AuthResult, LoginPassword
        except ImportError as exc:
            raise ImportError("SMTPSink needs aiosmtpd: pip install aiosmtpd") from exc
        if security != "none" and tls_context is None:
            raise ValueError(f"SMTPSink(security={security!r}) needs a tls_context")
        self.host = host
        self.port = port or free_port(host)
        self.security = security
        self.messages: list[ReceivedMail] = []
        self.logins: list[str] = []
        self._arrived = threading.Condition()
        sink = self

        class Handler:
            async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
                self, server: Any, session: Any, envelope: Any, address: str, options: Any
            ) -> str:
                if address in refuse:
                    return "550 5.1.1 no such mailbox"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
                self, server: Any, session: Any, envelope: Any
            ) -> str:
                mail = ReceivedMail(
                    envelope.mail_from, list(envelope.rcpt_tos), envelope.content, session.peer
                )
                with sink._arrived:
                    sink.messages.append(mail)
                    sink._arrived.notify_all()
                return "250 Message accepted for delivery"

        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> Any:
            if not isinstance(data, LoginPassword):
                return AuthResult(success=False, handled=False)
            login = data.login.decode("utf-8", "replace")
            ok = login == username and data.password.decode("utf-8", "replace") == password
            if ok:
                sink.logins.append(login)
            return AuthResult(success=ok, handled=False)

        params: dict[str, Any] = {}
        if security == "starttls":
            params.update(tls_context=tls_context, require_starttls=True)
        if username is not None:
            # aiosmtpd counts only STARTTLS as TLS: with implicit TLS ("ssl")
            # it must not require TLS for AUTH, or it would never offer AUTH.
            params.update(
                authenticator=authenticator,
                auth_required=True,
                auth_require_tls=security == "starttls",
            )
        sessions: weakref.WeakSet[Any] = weakref.WeakSet()

        class SinkController(Controller):
            def factory(self) -> Any:
                with warnings.catch_warnings():
                    # Its warning for AUTH without STARTTLS: "ssl" is TLS, and
                    # "none" with a password is what a test asked for.
                    warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
                    server = super().factory()  # type: ignore[no-untyped-call]
                sessions.add(server)
                return server

            def cancel_tasks(self, stop_loop: bool = True) -> None:
                # Cancelling a session's task only begins a TLS shutdown that
                # the stopped loop never finishes; abort the connections so
                # their sockets close with the server.
                for server in list(sessions):
                    transport = getattr(server, "transport", None)
                    if transport is not None and not transport.is_closing():
                        transport.abort()
                super().cancel_tasks(stop_loop)

        self._controller = SinkController(
            Handler(),
            hostname=host,
            port=self.port,
            ssl_context=tls_context if security == "ssl" else None,
            server_hostname="localhost" if security == "ssl" else None,
            **params,
        )
        self._started = False

    def start(self) -> SMTPSink:
        self._controller.start()
        self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self._controller.stop()
            self._started = False

    def __enter__(self) -> SMTPSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """Wait until at least ``count`` messages have arrived; returns them all.

        Raises:
            TimeoutError: fewer arrived within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(self.messages)} of {count} messages arrived in {timeout} s"
                    )
                self._arrived.wait(left)
            return list(self.messages)

    def __repr__(self) -> str:
        return f"SMTPSink({self.host}:{self.port}, security={self.security!r})"


class RedisServer:
    """A ``redis-server`` on a free loopback port, with no persistence.

    Args:
        binary: the redis-server executable; found on PATH when None.
        password: require this password (``requirepass``).
        args: more command-line options for redis-server.

    Raises:
        FileNotFoundError: no redis-server binary was found.
        RuntimeError: it did not answer PING within 10 s (the message names its log).
    """

    def __init__(
        self,
        binary: str | None = None,
        *,
        password: str | None = None,
        args: tuple[str, ...] = (),
        workdir: str | Path | None = None,
    ) -> None:
        found = binary or shutil.which("redis-server")
        if found is None:
            raise FileNotFoundError(
                "redis-server is not installed (Debian: apt-get install redis-server)"
            )
        self.binary = found
        self.password = password
        self.args = args
        self.host = "127.0.0.1"
        self.port = 0
        self._workdir = Path(workdir) if workdir is not None else None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/0"

    def start(self) -> RedisServer:
        if self._workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tickwork-redis-")
            workdir = Path(self._tmp.name)
        else:
            workdir = self._workdir
        self.port = free_port()
        log = workdir / "redis.log"
        command = [
            self.binary, "--port", str(self.port), "--bind", self.host, "--save", "",
            "--appendonly", "no", "--dir", str(workdir), "--logfile", str(log),
        ]  # fmt: skip
        if self.password:
            command += ["--requirepass", self.password]
        command += list(self.args)
        self._proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        hello = b"PING\r\n"
        if self.password:
            hello = f"AUTH {self.password}\r\nPING\r\n".encode()
        while True:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as conn:
                    conn.sendall(hello)
                    time.sleep(0.01)
                    if b"+PONG" in conn.recv(64):
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline or self._proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"redis-server did not start; see {log}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RedisServer({self.host}:{self.port})"
