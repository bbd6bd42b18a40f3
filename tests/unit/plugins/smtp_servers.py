# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Real SMTP servers on 127.0.0.1 for the tests: aiosmtpd (STARTTLS, implicit TLS, AUTH) and scripted raw-socket servers
that misbehave on purpose. Certificates come from trustme. Every wait is bounded."""

from __future__ import annotations

import base64
import contextlib
import datetime
import hmac
import socket
import ssl
import threading
import time
import typing as t
from dataclasses import dataclass, field

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USERNAME = "alerts@example.test"
PASSWORD = "S3cr3t-Pa55w0rd!xyz"
# RFC 4616: SASL PLAIN carries UTF-8. Letters from three scripts, an astral-plane character and a German sharp s.
UTF8_USERNAME = "jörg.müller@exämple.test"
UTF8_PASSWORD = "Pässwörd-Ωμέγα-密码-🔑-ß"
QUEUE_ID = "4FQ2Z1XK9C"
# Every trickling server stops by itself after this many seconds, whether or not the client is still there.
TRICKLE_LIMIT = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    return free_port()


@dataclass
class Certs:
    ca: trustme.CA
    ca_file: str
    good: trustme.LeafCert
    expired: trustme.LeafCert
    wrong_name: trustme.LeafCert
    self_signed: trustme.LeafCert  # issued by a CA the client never gets

    def server_context(self, leaf: trustme.LeafCert, *, max_version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(ctx)
        if max_version is not None:
            ctx.maximum_version = max_version
        return ctx


def make_certs(directory: str) -> Certs:
    ca = trustme.CA()
    other_ca = trustme.CA()
    ca_file = f"{directory}/ca.pem"
    ca.cert_pem.write_to_path(ca_file)
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=2)
    return Certs(
        ca=ca,
        ca_file=ca_file,
        good=ca.issue_cert("localhost", "127.0.0.1"),
        expired=ca.issue_cert("localhost", "127.0.0.1", not_before=past - datetime.timedelta(days=30), not_after=past),
        wrong_name=ca.issue_cert("mail.example.test"),
        self_signed=other_ca.issue_cert("localhost", "127.0.0.1"),
    )


class RecordingHandler:
    """aiosmtpd handler that records envelopes and answers with canned replies for special addresses."""

    def __init__(self) -> None:
        self.messages: list[dict[str, t.Any]] = []
        self.commands: list[str] = []
        self.mail_replies: dict[str, str] = {
            "notallowed@example.test": "550 5.7.27 Sender address not allowed for this account",
            "busy@example.test": "451 4.3.0 Temporary lookup failure, try again later",
        }
        self.rcpt_replies: dict[str, str] = {
            "nobody@example.test": "550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown in virtual mailbox table",
            "someone@elsewhere.test": "554 5.7.1 <someone@elsewhere.test>: Relay access denied",
        }
        self.data_reply = f"250 2.0.0 Ok: queued as {QUEUE_ID}"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.commands.append(f"MAIL {address}")
        reply = self.mail_replies.get(address)
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.commands.append(f"RCPT {address}")
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        self.commands.append("DATA")
        content = envelope.content.decode("utf-8", "replace") if isinstance(envelope.content, bytes) else envelope.content
        if self.data_reply.startswith("250"):
            self.messages.append({"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos), "content": content})
        return self.data_reply


def authenticator(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword):
        pair = (auth_data.login.decode("utf-8", "replace"), auth_data.password.decode("utf-8", "replace"))
        ok = pair in ((USERNAME, PASSWORD), (UTF8_USERNAME, UTF8_PASSWORD))
        return AuthResult(success=ok, handled=False, message=None if ok else "535 5.7.8 Error: authentication failed: authentication failure")
    return AuthResult(success=False, handled=False)


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1.

    mode: 'plain' (no TLS), 'starttls' (offers STARTTLS), 'tls' (implicit TLS).
    """

    def __init__(
        self,
        certs: Certs | None = None,
        *,
        mode: str = "starttls",
        leaf: str = "good",
        auth: bool = True,
        auth_require_tls: bool = True,
        require_starttls: bool = False,
        auth_required: bool = False,
        max_tls_version: ssl.TLSVersion | None = None,
    ) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        ctx = certs.server_context(getattr(certs, leaf), max_version=max_tls_version) if certs is not None and mode != "plain" else None
        server_kwargs: dict[str, t.Any] = {
            # aiosmtpd only counts STARTTLS as TLS; on an implicit TLS port the connection is encrypted anyway.
            "auth_require_tls": auth_require_tls and mode != "tls",
            "auth_required": auth_required,
            "require_starttls": require_starttls,
        }
        if auth:
            server_kwargs["authenticator"] = authenticator
        if mode == "starttls":
            server_kwargs["tls_context"] = ctx
        kwargs: dict[str, t.Any] = {"hostname": "127.0.0.1", "port": self.port, "server_hostname": "mx.example.test", "ready_timeout": 5.0}
        if mode == "tls":
            kwargs["ssl_context"] = ctx
        self.controller = Controller(self.handler, server_kwargs=server_kwargs, **kwargs)

    @property
    def messages(self) -> list[dict[str, t.Any]]:
        return self.handler.messages

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc_info: t.Any) -> None:
        self.controller.stop()


# ---------------------------------------------------------------------------------------------------------------------
# Scripted raw-socket servers that misbehave on purpose


class Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.file = sock.makefile("rb")
        self.received: list[str] = []

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            self.sock.close()

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\r\n")

    def readline(self) -> str:
        line = self.file.readline(4096).decode("utf-8", "replace").rstrip("\r\n")
        self.received.append(line)
        return line


Script = t.Callable[[Conn], None]


@dataclass
class ScriptedServer:
    """A TCP server on 127.0.0.1 that runs `script` for every connection in its own thread."""

    script: Script
    port: int = 0
    connections: list[Conn] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _addr = self._listener.accept()
            except OSError:
                continue
            sock.settimeout(10)
            conn = Conn(sock)
            self.connections.append(conn)
            thread = threading.Thread(target=self._run_script, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _run_script(self, conn: Conn) -> None:
        with contextlib.suppress(OSError):
            self.script(conn)
        conn.close()

    def __enter__(self) -> ScriptedServer:
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: t.Any) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        for conn in self.connections:
            conn.close()
        for thread in self._threads:
            thread.join(5)

    @property
    def received(self) -> list[str]:
        return [line for conn in self.connections for line in conn.received]


def _ehlo_until(conn: Conn, ehlo_lines: t.Sequence[str], delay: float = 0.0) -> str:
    """Greet, answer EHLO with the given keywords; return the next command after EHLO. Each reply waits `delay` first."""
    time.sleep(delay)
    conn.send("220 scripted.example.test ESMTP")
    while True:
        line = conn.readline()
        if not line:
            return ""
        if line.upper().startswith(("EHLO", "HELO")):
            time.sleep(delay)
            lines = ["scripted.example.test", *ehlo_lines]
            conn.send("\r\n".join(f"250{'-' if index < len(lines) - 1 else ' '}{text}" for index, text in enumerate(lines)))
            continue
        return line


def script_drop_at_starttls(conn: Conn) -> None:
    _ehlo_until(conn, ["PIPELINING", "STARTTLS"])
    # the command after EHLO is STARTTLS: hang up without answering


def script_hang(conn: Conn) -> None:
    # accept and never say anything; bounded by the server socket timeout
    conn.sock.settimeout(8)
    conn.readline()


def script_http(conn: Conn) -> None:
    conn.send("HTTP/1.1 400 Bad Request")
    conn.send("Content-Length: 0")
    conn.send("")
    conn.readline()


def script_banner(reply: str) -> Script:
    def script(conn: Conn) -> None:
        conn.send(reply)
        conn.readline()

    return script


def script_reply_to(command: str, reply: str, ehlo: t.Sequence[str] = ("PIPELINING", "AUTH PLAIN LOGIN"), delay: float = 0.0) -> Script:
    """Answer `reply` to the first command starting with `command`; 250 to everything else before it.

    With `delay`, every reply comes that many seconds after the command: a slow server that is never silent for long."""

    def script(conn: Conn) -> None:
        line = _ehlo_until(conn, ehlo, delay)
        while line:
            time.sleep(delay)
            upper = line.upper()
            if upper.startswith(command):
                conn.send(reply)
            elif upper.startswith("AUTH"):
                conn.send("235 2.7.0 Authentication successful")
            elif upper.startswith("QUIT"):
                conn.send("221 2.0.0 Bye")
                return
            elif upper == "DATA":
                conn.send("354 End data with <CR><LF>.<CR><LF>")
                while conn.readline() not in (".", ""):
                    pass
                conn.send(f"250 2.0.0 Ok: queued as {QUEUE_ID}")
            else:
                conn.send("250 2.0.0 Ok")
            line = conn.readline()

    return script


# ---------------------------------------------------------------------------------------------------------------------
# Servers that try to keep a client busy or flood it. Each stops by itself (TRICKLE_LIMIT, or when the client hangs up).


def _trickle(conn: Conn, pattern: bytes, interval: float, limit: float = TRICKLE_LIMIT) -> None:
    """Send `pattern` over and over, one byte every `interval` seconds, for at most `limit` seconds."""
    end = time.monotonic() + limit
    index = 0
    while time.monotonic() < end:
        conn.sock.sendall(pattern[index % len(pattern) : index % len(pattern) + 1])
        index += 1
        time.sleep(interval)


def script_trickle_banner(interval: float = 0.05) -> Script:
    """An endless multi-line banner, one byte at a time: every read returns something, no reply ever ends."""

    def script(conn: Conn) -> None:
        _trickle(conn, b"220-trickle.example.test still greeting\r\n", interval)

    return script


def script_trickle_ehlo(interval: float = 0.05) -> Script:
    """A prompt banner, then an endless multi-line EHLO reply, one byte at a time."""

    def script(conn: Conn) -> None:
        conn.send("220 trickle.example.test ESMTP")
        if conn.readline().upper().startswith(("EHLO", "HELO")):
            _trickle(conn, b"250-TRICKLE still listing keywords\r\n", interval)

    return script


def script_huge_banner(size: int = 10 * 1024 * 1024, line_length: int = 80) -> Script:
    """A multi-line banner of `size` bytes sent as fast as the client reads (line_length 0: one line without end)."""

    def script(conn: Conn) -> None:
        if line_length:
            line = b"220-" + b"x" * (line_length - 6) + b"\r\n"
            chunk = line * max(1, 65536 // len(line))
        else:
            chunk = b"220-" + b"x" * 65532
        sent = 0
        while sent < size:
            conn.sock.sendall(chunk)
            sent += len(chunk)
        conn.send("220 huge.example.test ESMTP")
        conn.readline()

    return script


def script_tls_trickle(interval: float = 0.05) -> Script:
    """Answers a TLS client hello with the header of a 16 KiB handshake record, then trickles its body."""

    def script(conn: Conn) -> None:
        conn.sock.recv(4096)  # the client hello
        conn.sock.sendall(b"\x16\x03\x03\x40\x00")
        _trickle(conn, b"\x00", interval)

    return script


def script_cram_md5(username: str, password: str) -> Script:
    """Offers only AUTH CRAM-MD5 and checks the digest (RFC 2195) of the UTF-8 password."""

    def script(conn: Conn) -> None:
        line = _ehlo_until(conn, ["PIPELINING", "AUTH CRAM-MD5"])
        while line:
            upper = line.upper()
            if upper == "AUTH CRAM-MD5":
                challenge = b"<1896.697170952@scripted.example.test>"
                conn.send("334 " + base64.b64encode(challenge).decode())
                answer = base64.b64decode(conn.readline()).decode("utf-8")
                expected = username + " " + hmac.new(password.encode("utf-8"), challenge, "md5").hexdigest()
                conn.send("235 2.7.0 Authentication successful" if answer == expected else "535 5.7.8 Authentication credentials invalid")
            elif upper.startswith("QUIT"):
                conn.send("221 2.0.0 Bye")
                return
            else:
                conn.send("250 2.0.0 Ok")
            line = conn.readline()

    return script
