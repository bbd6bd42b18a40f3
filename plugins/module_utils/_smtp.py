# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One SMTP session, stage by stage, with a redacted swaks-style transcript and a diagnosis.

The stages are ``connect``, ``tls`` (implicit TLS, right after connect), ``banner``, ``ehlo``, ``tls`` (STARTTLS)
followed by a second ``ehlo``, ``auth``, ``mail``, ``rcpt``, ``data`` and ``quit``. A session never falls back to
plaintext: when TLS was requested and cannot be established, the session stops there.

:func:`run_session` never raises for network or protocol errors; it returns a :class:`SessionResult` whose
:meth:`SessionResult.as_dict` is the result of the ``smtp_test`` module. Only invalid input raises
:class:`SmtpConfigError`, before any connection is made: every value that reaches the wire or a header is checked
first (:func:`check_host`, :func:`check_helo`, :func:`check_address`, ...).

Every wait is bounded. ``timeout`` bounds each whole reply (a server that sends a reply byte by byte is cut off
when the timeout has passed since the reply began, not since the last byte), the TCP connection, the TLS handshake
and each write; the whole session ends at the latest :data:`SESSION_TIMEOUT_FACTOR` times ``timeout`` after it
began. A reply may have at most :data:`MAX_REPLY_LINES` lines and :data:`MAX_REPLY_BYTES` bytes (a longer one fails
the stage as a protocol error); lines longer than the RFC 5321 limit of :data:`MAX_REPLY_LINE` octets are cut in the
result, and at most 40 lines of one reply are shown in the transcript.

The client is written on the socket directly (not on smtplib, whose replies are bounded per read only and whose
AUTH encodes credentials as ASCII): credentials are sent as UTF-8 (RFC 4616).
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hmac
import math
import re
import smtplib
import socket
import ssl
import time
import typing as t
import unicodedata
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage

from ansible_collections.mailops.notify.plugins.module_utils._diagnosis import (
    CATALOGUE,
    Diagnosis,
    diagnose_exception,
    diagnose_reply,
    parse_enhanced_code,
)
from ansible_collections.mailops.notify.plugins.module_utils._dns_expect import InvalidOptionError, is_ip, normalize_name
from ansible_collections.mailops.notify.plugins.module_utils._redact import MASK, build_secrets, redact
from ansible_collections.mailops.notify.plugins.module_utils._text import forbidden_character, shown

__all__ = [
    "AUTH_MECHANISMS",
    "DEFAULT_PORTS",
    "MAX_REPLY_BYTES",
    "MAX_REPLY_LINE",
    "MAX_REPLY_LINES",
    "MAX_TIMEOUT",
    "QUIT_AFTER",
    "SECURITY_MODES",
    "SESSION_TIMEOUT_FACTOR",
    "STAGES",
    "TLS_VERSIONS",
    "SessionResult",
    "SmtpConfigError",
    "SmtpError",
    "SmtpOptions",
    "SmtpStageError",
    "Transcript",
    "build_secrets",
    "check_address",
    "check_helo",
    "check_host",
    "check_port",
    "check_timeout",
    "parse_ehlo",
    "parse_queue_id",
    "redact",
    "run_session",
    "tls_probe",
]

SECURITY_MODES = ("none", "starttls", "tls")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
AUTH_MECHANISMS = ("auto", "plain", "login", "cram-md5")
STAGES = ("connect", "banner", "ehlo", "tls", "auth", "mail", "rcpt", "data")
QUIT_AFTER = STAGES
TLS_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
# Strongest first: CRAM-MD5 never sends the password itself.
_AUTO_ORDER = ("CRAM-MD5", "PLAIN", "LOGIN")
_DATA_LINES_SHOWN = 40
# RFC 5321 4.5.3.1.5: a reply line is at most 512 octets, CRLF included. Longer lines are accepted but cut in the result.
MAX_REPLY_LINE = 512
# No real reply comes near these (an EHLO reply has some 10 lines of a few dozen bytes); a longer one is an attack or
# a port that does not speak SMTP, and fails the stage as a protocol error.
MAX_REPLY_LINES = 100
MAX_REPLY_BYTES = 64 * 1024
# The whole session, from the TCP connection to QUIT, ends at the latest this many times `timeout` after it began.
SESSION_TIMEOUT_FACTOR = 4
MAX_TIMEOUT = 3600.0
_REPLY_LINES_SHOWN = 40
_TEXT_SHOWN = 1024
_MAX_AUTH_CHALLENGES = 5


class SmtpError(Exception):
    """Base class of the errors of this module util."""


class SmtpConfigError(SmtpError):
    """Invalid options; raised before any connection is made."""


class SmtpStageError(SmtpError):
    """A stage of the session failed. Carries the diagnosis and the reply, if any."""

    def __init__(self, stage: str, message: str, diagnosis: Diagnosis, code: int | None = None, text: str = "") -> None:
        super().__init__(message)
        self.stage = stage
        self.diagnosis = diagnosis
        self.code = code
        self.text = text


@dataclass
class SmtpOptions:
    host: str
    port: int | None = None
    security: str = "starttls"
    username: str | None = None
    password: str | None = None
    auth_mechanism: str = "auto"
    allow_plaintext_auth: bool = False
    helo: str | None = None
    mail_from: str | None = None
    rcpt_to: list[str] = field(default_factory=list)
    subject: str | None = None
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    validate_certs: bool = True
    ca_path: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    tls_min_version: str | None = None
    tls_server_name: str | None = None
    quit_after: str = "data"
    timeout: float = 10.0
    fail_on_rejected_recipient: bool = True
    check_mode: bool = False
    # The deadline of the whole session in seconds; None: SESSION_TIMEOUT_FACTOR times timeout.
    session_timeout: float | None = None

    def validate(self) -> None:
        """Check every option and every value that reaches the wire or a header; raise SmtpConfigError."""
        check_host(self.host, "host")
        if self.security not in SECURITY_MODES:
            raise SmtpConfigError(f"security must be one of {', '.join(SECURITY_MODES)}, not {self.security!r}")
        if self.port is None:
            self.port = DEFAULT_PORTS[self.security]
        check_port(self.port, "port")
        if self.auth_mechanism not in AUTH_MECHANISMS:
            raise SmtpConfigError(f"auth_mechanism must be one of {', '.join(AUTH_MECHANISMS)}, not {self.auth_mechanism!r}")
        if self.quit_after not in QUIT_AFTER:
            raise SmtpConfigError(f"quit_after must be one of {', '.join(QUIT_AFTER)}, not {self.quit_after!r}")
        if self.tls_min_version is not None and self.tls_min_version not in TLS_VERSIONS:
            raise SmtpConfigError(f"tls_min_version must be one of {', '.join(TLS_VERSIONS)}, not {self.tls_min_version!r}")
        check_timeout(self.timeout, "timeout")
        if self.session_timeout is not None:
            check_timeout(self.session_timeout, "session_timeout")
        if (self.username is None) != (self.password is None):
            raise SmtpConfigError("username and password must be given together")
        if self.username is not None and self.security == "none" and not self.allow_plaintext_auth:
            raise SmtpConfigError(
                "credentials are set but security is 'none': the password would cross the network in clear;"
                " use security 'starttls' or 'tls', or set allow_plaintext_auth to true"
            )
        if self.quit_after == "tls" and self.security == "none":
            raise SmtpConfigError("quit_after 'tls' needs security 'starttls' or 'tls'")
        if self.quit_after == "auth" and self.username is None:
            raise SmtpConfigError("quit_after 'auth' needs username and password")
        if self.client_key and not self.client_cert:
            raise SmtpConfigError("client_key needs client_cert")
        if STAGES.index(self.quit_after) >= STAGES.index("mail") and not self.mail_from:
            raise SmtpConfigError(f"mail_from is required when quit_after is {self.quit_after!r}")
        if STAGES.index(self.quit_after) >= STAGES.index("rcpt") and not self.rcpt_to:
            raise SmtpConfigError(f"rcpt_to is required when quit_after is {self.quit_after!r}")
        if self.helo:
            check_helo(self.helo, "helo")
        if self.tls_server_name is not None:
            check_host(self.tls_server_name, "tls_server_name")
        if self.username is not None:
            _check_credential(self.username, "username", secret=False)
            _check_credential(self.password or "", "password", secret=True)
        if self.mail_from:
            check_address(self.mail_from, "mail_from")
        for index, address in enumerate(self.rcpt_to):
            check_address(address, f"rcpt_to[{index}]")
        if self.subject is not None:
            _check_header_value(self.subject, "subject")
        for name, value in self.headers.items():
            if not isinstance(name, str) or not _HEADER_NAME_RE.fullmatch(name):
                raise SmtpConfigError(
                    f"headers: invalid header {shown(str(name))}: a header name is printable ASCII (RFC 5322 ftext) without ':' or white space"
                )
            _check_header_value(str(value), f"headers: invalid header {shown(name)}: its value")
        if self.body is not None:
            problem = forbidden_character(self.body, allowed="\t\n\r\u2028\u2029")
            if problem:
                raise SmtpConfigError(f"body: contains {problem}; the body may contain line breaks and tabs but no other control characters")

    @property
    def effective_quit_after(self) -> str:
        """In check mode the session never sends DATA: it stops after RCPT at the latest."""
        if self.check_mode and self.quit_after == "data":
            return "rcpt"
        return self.quit_after

    @property
    def effective_session_timeout(self) -> float:
        if self.session_timeout is not None:
            return float(self.session_timeout)
        return SESSION_TIMEOUT_FACTOR * float(self.timeout)


# ---------------------------------------------------------------------------------------------------------------------
# Checks of the values that reach the wire or a header, shared with _probe (port_check)

_HEADER_NAME_RE = re.compile(r"[!-9;-~]+")
# RFC 5322 atext: the characters of a dot-atom (a local part without quoted strings).
_LOCAL_PART_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_ADDRESS_LITERAL_RE = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]")


def _check_one_line(value: str, option: str, what: str) -> None:
    problem = forbidden_character(value)
    if problem:
        raise SmtpConfigError(f"{option}: {shown(value)} contains {problem}; {what} is one line without control characters")


def check_host(value: t.Any, option: str = "host") -> None:
    """A host name (labels of letters, digits, '-' and '_', each 1-63 octets, at most 253 in all; IDNA allowed) or an
    IPv4 or IPv6 address. Raise SmtpConfigError naming option, before anything is resolved or connected."""
    if not isinstance(value, str) or not value:
        raise SmtpConfigError(f"{option} must not be empty")
    _check_one_line(value, option, "a host name")
    if any(char.isspace() for char in value):
        raise SmtpConfigError(f"{option}: {shown(value)} contains white space; a host name or IP address has none")
    if is_ip(value):
        return
    if value.startswith("[") and value.endswith("]") and is_ip(value[1:-1]):
        raise SmtpConfigError(f"{option}: {shown(value)}: write an IPv6 address without brackets")
    try:
        name = normalize_name(value, option)
    except InvalidOptionError as exc:
        raise SmtpConfigError(str(exc)) from None
    if name.rpartition(".")[2].isdigit():
        raise SmtpConfigError(f"{option}: {shown(value)} is neither a valid IP address nor a host name (the last label is all digits)")


def check_port(value: t.Any, option: str = "port") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise SmtpConfigError(f"{option} must be between 1 and 65535, not {value}")


def check_timeout(value: t.Any, option: str = "timeout") -> None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or not 0 < number <= MAX_TIMEOUT:
        raise SmtpConfigError(f"{option} must be a positive number of seconds, at most {MAX_TIMEOUT:g}, not {value}")


def check_helo(value: t.Any, option: str = "helo") -> None:
    """The EHLO argument: a domain name (see check_host) or an address literal such as [192.0.2.1] or [IPv6:2001:db8::1]."""
    if not isinstance(value, str) or not value:
        raise SmtpConfigError(f"{option} must not be empty")
    _check_one_line(value, option, "the EHLO domain")
    literal = _ADDRESS_LITERAL_RE.fullmatch(value)
    if literal:
        if not is_ip(literal.group(1)) or (value.startswith("[IPv6:") != (":" in literal.group(1))):
            raise SmtpConfigError(f"{option}: {shown(value)} is not a valid address literal ([192.0.2.1] or [IPv6:2001:db8::1])")
        return
    if is_ip(value):
        raise SmtpConfigError(f"{option}: {shown(value)}: an IP address in EHLO is written as an address literal, [{value}] or [IPv6:{value}]")
    check_host(value, option)


def check_address(value: t.Any, option: str) -> None:
    """An envelope address as the module takes it: bare (no <>), local@domain with a dot-atom local part, or a bare
    local part such as postmaster; ASCII only (SMTPUTF8 is not supported)."""
    if not isinstance(value, str) or not value:
        raise SmtpConfigError(f"{option}: invalid address: it must not be empty")
    problem = forbidden_character(value)
    if problem:
        raise SmtpConfigError(f"{option}: invalid address {shown(value)}: it contains {problem}")
    if not value.isascii():
        raise SmtpConfigError(f"{option}: invalid address {shown(value)}: it must be ASCII (SMTPUTF8 is not supported)")
    local, at, domain = value.rpartition("@") if "@" in value else (value, "", "")
    if not _LOCAL_PART_RE.fullmatch(local):
        raise SmtpConfigError(
            f"{option}: invalid address {shown(value)}: it must be a bare address local@domain, without <>, white space,"
            " quotes, commas or other RFC 5322 specials in the local part"
        )
    if at:
        literal = _ADDRESS_LITERAL_RE.fullmatch(domain)
        if literal and is_ip(literal.group(1)):
            return
        try:
            check_host(domain, f"{option} (domain)")
        except SmtpConfigError as exc:
            raise SmtpConfigError(f"{option}: invalid address {shown(value)}: {exc}") from None


def _check_header_value(value: str, option: str) -> None:
    problem = forbidden_character(value)
    if problem:
        raise SmtpConfigError(f"{option} contains {problem}; a header value is one line without control characters")


def _check_credential(value: str, option: str, *, secret: bool) -> None:
    """RFC 4616: a credential is UTF-8 without NUL. A user name is shown in the transcript: no control characters."""
    if not isinstance(value, str) or not value:
        raise SmtpConfigError(f"{option} must not be empty")
    problem = forbidden_character(value) if not secret else None
    if secret:
        for position, char in enumerate(value):
            if char == "\0" or unicodedata.category(char) == "Cs":
                kind = "NUL" if char == "\0" else "a lone surrogate (not valid UTF-8)"
                problem = f"{kind} at position {position}"
                break
    if problem:
        quoted = "" if secret else f" {shown(value)}"
        raise SmtpConfigError(f"{option}:{quoted} contains {problem}; SASL credentials are UTF-8 text without NUL (RFC 4616)")


class Transcript:
    """A swaks-style transcript: ``->`` sent, ``<-`` received, ``**`` information and errors."""

    def __init__(self) -> None:
        self.entries: list[dict[str, str]] = []

    def add(self, direction: str, text: str) -> None:
        self.entries.append({"dir": direction, "text": text})

    def info(self, text: str) -> None:
        self.add("**", text)


def parse_ehlo(text: str) -> list[str]:
    """Return the EHLO keywords (with their parameters) of a multi-line EHLO reply text, without the greeting line."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[1:]


def _features(keywords: t.Sequence[str]) -> dict[str, str]:
    features: dict[str, str] = {}
    for keyword in keywords:
        name, _sep, params = keyword.partition(" ")
        name = name.upper()
        if name == "AUTH" or name.startswith("AUTH="):
            params = " ".join([features.get("AUTH", ""), params if name == "AUTH" else name[5:]]).strip()
            name = "AUTH"
        features[name] = params
    return features


_QUEUE_ID_RES = (
    re.compile(r"queued as\s+<?([A-Za-z0-9][\w.@-]*?)>?(?:\s|$|\))", re.IGNORECASE),
    re.compile(r"\bid=([\w-]+)", re.IGNORECASE),
    re.compile(r"^(?:2\.0\.0\s+)?Ok[:\s]+<?([0-9a-f][0-9a-f-]{15,})>?", re.IGNORECASE),
)


def parse_queue_id(text: str) -> str | None:
    """Extract the queue id from the final reply to DATA (Postfix 'queued as X', Exim 'id=X', SES 'Ok <id>')."""
    for regex in _QUEUE_ID_RES:
        match = regex.search(text or "")
        if match:
            return match.group(1)
    return None


class _ProtocolViolation(smtplib.SMTPException):
    """The server broke the protocol in a way the session cannot continue from (an oversized reply, for example)."""

    diagnosis = CATALOGUE["protocol_error"]


@dataclass
class _Reply:
    code: int  # -1 when the line does not start with a three-digit code
    lines: list[str]

    @property
    def text(self) -> str:
        """The text after the code, lines joined with LF (as smtplib returns it)."""
        return "\n".join(self.lines)


def _decode_line(raw: bytes) -> str:
    limit = MAX_REPLY_LINE - 2
    if len(raw) <= limit:
        return raw.decode("utf-8", "replace")
    return raw[:limit].decode("utf-8", "replace") + f" [line cut: {len(raw) + 2} octets, RFC 5321 allows {MAX_REPLY_LINE}]"


class _Client:
    """The wire of one session: commands out and bounded replies in, every line in the transcript.

    A reply must be complete within `timeout` of its first read, stay within MAX_REPLY_LINES and MAX_REPLY_BYTES, and
    every read or write ends at the session deadline at the latest.
    """

    def __init__(self, sock: socket.socket, transcript: Transcript, timeout: float, deadline: float, session_timeout: float) -> None:
        self.sock: socket.socket | None = sock
        self._transcript = transcript
        self._timeout = timeout
        self._deadline = deadline
        self._session_timeout = session_timeout
        self._buffer = bytearray()
        self.received = 0

    # -- time --------------------------------------------------------------------
    def remaining(self, until: float | None = None, what: str = "") -> float:
        """Seconds left until `until` (default: one timeout from now), never past the deadline; raise when none."""
        now = time.monotonic()
        limit = min(until if until is not None else now + self._timeout, self._deadline)
        left = limit - now
        if left <= 0:
            raise self._expired(limit, what)
        return left

    def _expired(self, limit: float, what: str) -> TimeoutError:
        if limit >= self._deadline:
            return TimeoutError(f"the session deadline of {self._session_timeout:g} s passed{what}")
        return TimeoutError(f"the timeout of {self._timeout:g} s passed{what}")

    def live_socket(self) -> socket.socket:
        if self.sock is None:
            raise smtplib.SMTPServerDisconnected("the connection is closed")
        return self.sock

    # -- sending -----------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        sock = self.live_socket()
        view = memoryview(data)
        while view:
            until = min(time.monotonic() + self._timeout, self._deadline)
            sock.settimeout(self.remaining(until, " while sending"))
            try:
                sent = sock.send(view[:65536])
            except TimeoutError:
                raise self._expired(until, " while sending") from None
            view = view[sent:]

    def send_line(self, line: str, shown: str | None = None) -> None:
        if "\r" in line or "\n" in line:  # pragma: no cover - every value is checked before connecting
            raise AssertionError("Internal error")
        self._transcript.add("->", line if shown is None else shown)
        self._send(line.encode("ascii") + b"\r\n")

    def command(self, line: str, shown: str | None = None) -> _Reply:
        self.send_line(line, shown)
        return self.reply()

    def send_data(self, payload: bytes) -> None:
        """Send the message (dot-stuffed) and the terminating dot; show its first lines in the transcript."""
        lines = payload.decode("utf-8", "replace").split("\r\n")
        if lines and lines[-1] == "":
            lines.pop()
        for line in lines[:_DATA_LINES_SHOWN]:
            self._transcript.add("->", line)
        if len(lines) > _DATA_LINES_SHOWN:
            self._transcript.info(f"[{len(lines) - _DATA_LINES_SHOWN} more lines of message data not shown]")
        self._transcript.add("->", ".")
        stuffed = re.sub(rb"(?m)^\.", b"..", payload)
        self._send(stuffed + (b"" if stuffed.endswith(b"\r\n") else b"\r\n") + b".\r\n")

    # -- receiving ---------------------------------------------------------------
    def pending(self) -> int:
        return len(self._buffer)

    def _readline(self, until: float, used: int) -> bytes:
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                if used + end + 1 > MAX_REPLY_BYTES:
                    raise _ProtocolViolation(f"the reply is longer than {MAX_REPLY_BYTES} bytes; stopped reading")
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return line
            if used + len(self._buffer) > MAX_REPLY_BYTES:
                raise _ProtocolViolation(f"the reply is longer than {MAX_REPLY_BYTES} bytes; stopped reading")
            sock = self.live_socket()
            what = f" before the reply was complete ({used + len(self._buffer)} bytes of it received)"
            sock.settimeout(self.remaining(until, what))
            try:
                chunk = sock.recv(16384)
            except TimeoutError:
                raise self._expired(min(until, self._deadline), what) from None
            if not chunk:
                raise smtplib.SMTPServerDisconnected("the server closed the connection" + (" in the middle of a reply" if used or self._buffer else ""))
            self.received += len(chunk)
            self._buffer += chunk

    def reply(self) -> _Reply:
        """Read one reply: complete within one timeout, at most MAX_REPLY_LINES lines and MAX_REPLY_BYTES bytes."""
        until = time.monotonic() + self._timeout
        lines: list[str] = []
        used = 0
        hidden = 0
        code = -1
        try:
            while True:
                if len(lines) >= MAX_REPLY_LINES:
                    raise _ProtocolViolation(f"the reply has more than {MAX_REPLY_LINES} lines; stopped reading")
                raw = self._readline(until, used)
                used += len(raw)
                raw = raw.rstrip(b"\r\n")
                shown = _decode_line(raw)
                if len(lines) < _REPLY_LINES_SHOWN:
                    self._transcript.add("<-", shown.rstrip())
                else:
                    hidden += 1
                number = raw[:3]
                if len(number) != 3 or not number.isdigit():
                    code = -1
                    lines.append(shown.strip())
                    break
                code = int(number)
                lines.append(_decode_line(raw[4:].strip(b" \t")))
                if raw[3:4] != b"-":
                    break
        finally:
            if hidden:
                self._transcript.info(f"[{hidden} more lines of this reply not shown]")
        return _Reply(code, lines)

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:  # pragma: no cover
                pass


@dataclass
class SessionResult:
    host: str
    port: int
    security: str
    stages: list[dict[str, t.Any]] = field(default_factory=list)
    transcript: Transcript = field(default_factory=Transcript)
    capabilities: dict[str, list[str]] = field(default_factory=lambda: {"before_tls": [], "after_tls": []})
    tls: dict[str, t.Any] | None = None
    recipients: dict[str, dict[str, t.Any]] = field(default_factory=dict)
    auth_mechanism: str | None = None
    queue_id: str | None = None
    message_id: str | None = None
    token: str | None = None
    sent: bool = False
    would_send: bool = False
    stage_failed: str | None = None
    diagnosis: Diagnosis | None = None
    msg: str = ""
    secrets: list[str] = field(default_factory=list, repr=False)

    @property
    def failed(self) -> bool:
        return self.stage_failed is not None

    def as_dict(self) -> dict[str, t.Any]:
        result = {
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "stages": self.stages,
            "stage_failed": self.stage_failed,
            "transcript": self.transcript.entries,
            "capabilities": self.capabilities,
            "tls": self.tls,
            "auth_mechanism": self.auth_mechanism,
            "recipients": self.recipients,
            "queue_id": self.queue_id,
            "message_id": self.message_id,
            "token": self.token,
            "sent": self.sent,
            "would_send": self.would_send,
            "diagnosis": self.diagnosis.as_dict() if self.diagnosis else None,
            "msg": self.msg,
        }
        return redact(result, self.secrets)


def _ms(start: float) -> int:
    return round((time.monotonic() - start) * 1000)


def _tls_context(options: SmtpOptions) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=options.ca_path or None)
    if not options.validate_certs:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if options.tls_min_version:
        ctx.minimum_version = {
            "TLSv1": ssl.TLSVersion.TLSv1,
            "TLSv1.1": ssl.TLSVersion.TLSv1_1,
            "TLSv1.2": ssl.TLSVersion.TLSv1_2,
            "TLSv1.3": ssl.TLSVersion.TLSv1_3,
        }[options.tls_min_version]
    if options.client_cert:
        ctx.load_cert_chain(options.client_cert, options.client_key or None)
    return ctx


_SHORT_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "emailAddress": "emailAddress",
    "domainComponent": "DC",
}


def _name(parts: t.Any) -> str | None:
    if not parts:
        return None
    return ",".join(f"{_SHORT_NAMES.get(k, k)}={v}" for rdn in parts for k, v in rdn)


def _tls_facts(sock: ssl.SSLSocket, verified: bool) -> dict[str, t.Any]:
    cipher = sock.cipher()
    facts: dict[str, t.Any] = {
        "version": sock.version(),
        "cipher": cipher[0] if cipher else None,
        "peer_cert_subject": None,
        "peer_cert_issuer": None,
        "not_after": None,
        "verified": verified,
        "verify_error": None,
    }
    cert = sock.getpeercert() if verified else None
    if cert:
        facts["peer_cert_subject"] = _name(cert.get("subject"))
        facts["peer_cert_issuer"] = _name(cert.get("issuer"))
        facts["not_after"] = cert.get("notAfter")
    else:
        der = sock.getpeercert(binary_form=True)
        if der:
            facts.update(_decode_der(der))
    return facts


def _decode_der(der: bytes) -> dict[str, t.Any]:
    """Describe an unverified certificate; needs the optional 'cryptography' library, else returns nothing."""
    try:
        from cryptography import x509  # pylint: disable=import-outside-toplevel
    except ImportError:
        return {}
    try:
        cert = x509.load_der_x509_certificate(der)
        not_after = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after
        return {
            "peer_cert_subject": cert.subject.rfc4514_string(),
            "peer_cert_issuer": cert.issuer.rfc4514_string(),
            "not_after": not_after.strftime("%b %d %H:%M:%S %Y GMT"),
        }
    except Exception:  # pylint: disable=broad-exception-caught
        return {}


def tls_probe(host: str, port: int, timeout: float) -> bool:
    """Return True when the port completes (or answers) a TLS handshake: it speaks implicit TLS.

    The TCP connection and the handshake together end within `timeout`."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    start = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            raw.settimeout(max(timeout - (time.monotonic() - start), 0.001))
            with ctx.wrap_socket(raw, server_hostname=host if not is_ip(host) else None):
                return True
    except ssl.SSLError as exc:
        # A TLS alert is still TLS; a plaintext answer is not.
        return (
            "WRONG_VERSION_NUMBER" not in str(getattr(exc, "reason", ""))
            and "wrong version number" not in str(exc).lower()
            and not isinstance(exc, ssl.SSLEOFError)
        )
    except OSError:
        return False


def _brief(text: str) -> str:
    """A reply text as shown in messages and stages: at most _TEXT_SHOWN characters."""
    if len(text) <= _TEXT_SHOWN:
        return text
    return text[:_TEXT_SHOWN] + f" [{len(text) - _TEXT_SHOWN} more characters not shown]"


def _b64_bytes(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _default_helo() -> str:
    name = socket.gethostname()
    try:
        check_helo(name)
    except SmtpConfigError:
        return "localhost"
    return name


class _Session:
    def __init__(self, options: SmtpOptions) -> None:
        self.o = options
        self.r = SessionResult(host=options.host, port=int(options.port or 0), security=options.security)
        self.r.secrets = build_secrets(options.username, options.password)
        self.tr = self.r.transcript
        self.client: _Client | None = None
        self.quit_after = options.effective_quit_after
        self.features: dict[str, str] = {}
        self.esmtp = False
        helo = options.helo or _default_helo()
        # An internationalized EHLO domain goes on the wire as its IDNA A-label (check_helo accepted it).
        self.helo = helo if helo.isascii() else helo.encode("idna").decode("ascii")
        self.session_timeout = options.effective_session_timeout
        self.deadline = time.monotonic() + self.session_timeout

    # -- stage bookkeeping -------------------------------------------------
    def _record(self, name: str, ok: bool, start: float, code: int | None = None, text: str = "") -> None:
        self.r.stages.append(
            {
                "name": name,
                "ok": ok,
                "code": code,
                "enhanced_code": parse_enhanced_code(text) if code is not None else None,
                "text": _brief(text),
                "elapsed_ms": _ms(start),
            }
        )

    def _fail(self, name: str, start: float, message: str, diagnosis: Diagnosis, *, code: int | None = None, text: str = "") -> SmtpStageError:
        self._record(name, False, start, code, text or message)
        return SmtpStageError(name, message, diagnosis, code, _brief(text))

    def _fail_reply(self, name: str, start: float, what: str, reply: _Reply, fallback: str = "protocol_error") -> SmtpStageError:
        """A stage failed on a reply: the message shows the reply as SMTP writes it, '535 5.7.8 text'."""
        text = reply.text
        diagnosis = diagnose_reply(reply.code, text, stage=name) or CATALOGUE[fallback]
        return self._fail(name, start, f"{what}: {_reply_str(reply)}", diagnosis, code=reply.code, text=text)

    def _fail_exc(self, name: str, start: float, exc: BaseException, what: str) -> SmtpStageError:
        code = getattr(exc, "smtp_code", None)
        raw = getattr(exc, "smtp_error", None)
        text = _text(raw) if raw is not None else (str(exc) or type(exc).__name__)
        detail = _brief(f"{code} {text}" if code is not None else text)
        diagnosis = diagnose_exception(exc, stage=name)
        self.tr.info(f"{what} failed: {detail}")
        return self._fail(name, start, f"{what} failed: {detail}", diagnosis, code=code, text=text)

    def _done(self, stage: str) -> bool:
        return self.quit_after == stage

    def _remaining(self, what: str = "") -> float:
        """One timeout, or what is left of the session deadline if that is less; raise TimeoutError when nothing is."""
        left = min(float(self.o.timeout), self.deadline - time.monotonic())
        if left <= 0:
            raise TimeoutError(f"the session deadline of {self.session_timeout:g} s passed{what}")
        return left

    # -- stages --------------------------------------------------------------
    def run(self) -> SessionResult:
        o = self.o
        self.r.token = uuid.uuid4().hex
        try:
            self._run()
        except SmtpStageError as exc:
            self.r.stage_failed = exc.stage
            self.r.diagnosis = exc.diagnosis
            self.r.msg = f"SMTP {exc.stage} stage failed on {o.host}:{o.port}: {exc} [{exc.diagnosis.code}: {exc.diagnosis.summary}]"
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # Last line of defence: never a traceback, always the structured failure.
            stage = self.r.stages[-1]["name"] if self.r.stages else "connect"
            self.r.stage_failed = stage
            self.r.diagnosis = diagnose_exception(exc, stage=stage)
            self.r.msg = f"SMTP session with {o.host}:{o.port} failed: {type(exc).__name__}: {_brief(str(exc))}"
            self.tr.info(self.r.msg)
        finally:
            self._close()
        if not self.r.failed:
            self.r.msg = self._success_message()
        return self.r

    def _success_message(self) -> str:
        if self.r.sent:
            queued = f" (queue id {self.r.queue_id})" if self.r.queue_id else ""
            return f"Message {self.r.message_id} accepted by {self.o.host}:{self.o.port}{queued}"
        if self.o.check_mode and self.o.quit_after == "data":
            return f"Check mode: {self.o.host}:{self.o.port} accepted the envelope; DATA was not sent"
        return f"SMTP session with {self.o.host}:{self.o.port} succeeded up to {self.quit_after}"

    def _run(self) -> None:
        o = self.o
        sock = self._connect()
        if self._done("connect"):
            sock.close()
            return
        if o.security == "tls":
            sock = self._handshake(sock, "implicit TLS")
        self._banner(sock)
        if self._done("banner"):
            return self._quit()
        self._ehlo("before_tls" if o.security != "tls" else "after_tls")
        if o.security == "starttls":
            self._starttls()
            if self._done("tls"):
                return self._quit()
            self._ehlo("after_tls")
        if self._done("ehlo") or self._done("tls"):
            return self._quit()
        if o.username is not None:
            self._auth()
        if self._done("auth"):
            return self._quit()
        self._mail()
        if self._done("mail"):
            return self._quit()
        accepted = self._rcpt()
        if self._done("rcpt"):
            if o.check_mode and o.quit_after == "data":
                self.r.would_send = bool(accepted)
                self.tr.info("check mode: stopping before DATA, no message is sent")
            return self._quit()
        self._data()
        return self._quit()

    def _connect(self) -> socket.socket:
        o = self.o
        start = time.monotonic()
        self.tr.info(f"Trying {o.host}:{o.port}...")
        try:
            sock = self._open()
        except (OSError, ValueError) as exc:
            raise self._fail_exc("connect", start, exc, f"connection to {o.host}:{o.port}") from None
        peer = sock.getpeername()
        text = f"connected to {peer[0]}:{peer[1]}"
        self.tr.info(text.capitalize())
        self._record("connect", True, start, None, text)
        return sock

    def _open(self) -> socket.socket:
        """socket.create_connection, but every address tried only until the session deadline."""
        o = self.o
        infos = socket.getaddrinfo(o.host, o.port, type=socket.SOCK_STREAM)
        last: OSError | None = None
        for family, socktype, proto, _canon, sockaddr in infos:
            timeout = self._remaining(" while connecting")
            sock = socket.socket(family, socktype, proto)
            try:
                sock.settimeout(timeout)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                last = exc
                continue
            return sock
        if last is None:  # pragma: no cover - getaddrinfo returns an address or raises
            raise AssertionError("Internal error")
        raise last

    def _handshake(self, sock: socket.socket, what: str) -> ssl.SSLSocket:
        o = self.o
        start = time.monotonic()
        server_name = o.tls_server_name or o.host
        try:
            ctx = _tls_context(o)
        except (OSError, ssl.SSLError, ValueError) as exc:
            sock.close()
            self.tr.info(f"cannot set up TLS: {exc}")
            raise self._fail("tls", start, f"cannot load TLS files (ca_path, client_cert, client_key): {exc}", CATALOGUE["tls_handshake_failed"]) from None
        try:
            # CPython bounds the whole handshake (not each read) by the socket's timeout.
            sock.settimeout(self._remaining(" before the TLS handshake"))
            tls_sock = ctx.wrap_socket(sock, server_hostname=server_name)
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            self.r.tls = {
                "version": None,
                "cipher": None,
                "peer_cert_subject": None,
                "peer_cert_issuer": None,
                "not_after": None,
                "verified": False,
                "verify_error": getattr(exc, "verify_message", None) or str(exc),
            }
            self.tr.info(f"TLS handshake ({what}) failed: {exc}")
            diagnosis = diagnose_exception(exc, stage="tls")
            raise self._fail("tls", start, f"TLS handshake ({what}) failed: {exc}", diagnosis) from None
        self.r.tls = _tls_facts(tls_sock, verified=o.validate_certs)
        text = f"{self.r.tls['version']} {self.r.tls['cipher']}"
        self.tr.info(f"TLS started ({what}): {text}; certificate {'verified' if o.validate_certs else 'NOT verified (validate_certs is false)'}")
        self._record("tls", True, start, None, text)
        return tls_sock

    def _banner(self, sock: socket.socket) -> None:
        o = self.o
        start = time.monotonic()
        self.client = _Client(sock, self.tr, float(o.timeout), self.deadline, self.session_timeout)
        try:
            reply = self.client.reply()
        except (OSError, smtplib.SMTPException) as exc:
            error = self._fail_exc("banner", start, exc, "reading the banner")
            # A port that expects implicit TLS says nothing until the client's TLS hello; one that sent bytes speaks
            # plaintext, and probing it again would only take more time.
            silent = self.client.received == 0
            if o.security != "tls" and silent and error.diagnosis.code in ("timeout", "connection_closed"):
                self._probe_implicit_tls(error)
            raise error from None
        if reply.code != 220:
            raise self._fail_reply("banner", start, "unexpected banner", reply)
        self._record("banner", True, start, reply.code, reply.text)

    def _probe_implicit_tls(self, error: SmtpStageError) -> None:
        o = self.o
        left = min(float(o.timeout), 5.0, self.deadline - time.monotonic())
        if left <= 0:
            return
        self.tr.info("no SMTP banner; probing whether the port expects implicit TLS")
        if tls_probe(o.host, int(o.port or 0), left):
            self.tr.info("the port completed a TLS handshake: it expects implicit TLS")
            error.diagnosis = CATALOGUE["starttls_on_tls_port"]

    def _ehlo(self, slot: str) -> None:
        client = self._require_client()
        start = time.monotonic()
        try:
            reply = client.command(f"EHLO {self.helo}")
            self.esmtp = reply.code == 250
            if reply.code != 250:
                self.tr.info("EHLO refused, trying HELO")
                reply = client.command(f"HELO {self.helo}")
                if reply.code != 250:
                    raise self._fail_reply("ehlo", start, "EHLO and HELO refused", reply)
        except (OSError, smtplib.SMTPException) as exc:
            raise self._fail_exc("ehlo", start, exc, "EHLO") from None
        keywords = parse_ehlo(reply.text) if self.esmtp else []
        self.r.capabilities[slot] = keywords
        self.features = _features(keywords)
        self._record("ehlo", True, start, reply.code, reply.lines[0] if reply.lines else "")

    def _starttls(self) -> None:
        client = self._require_client()
        start = time.monotonic()
        if "STARTTLS" not in self.features:
            self.tr.info("STARTTLS is required (security: starttls) but the server did not offer it; not continuing in plaintext")
            raise self._fail("tls", start, "the server does not offer STARTTLS; refusing to continue in plaintext", CATALOGUE["starttls_not_offered"])
        try:
            reply = client.command("STARTTLS")
        except (OSError, smtplib.SMTPException) as exc:
            raise self._fail_exc("tls", start, exc, "STARTTLS") from None
        if reply.code != 220:
            raise self._fail_reply("tls", start, "STARTTLS refused; refusing to continue in plaintext", reply, fallback="tls_handshake_failed")
        if client.pending():
            # RFC 3207: nothing the server sent before TLS may be used after it. Bytes after the 220 would be read as
            # replies of the encrypted session (response injection).
            message = f"the server sent {client.pending()} bytes after its 220 reply to STARTTLS, before TLS; refusing to continue"
            self.tr.info(message)
            raise self._fail("tls", start, message, CATALOGUE["protocol_error"], code=reply.code, text=reply.text)
        # The handshake records its own 'tls' stage; drop the one for the command itself.
        client.sock = self._handshake(client.live_socket(), "STARTTLS")
        self.r.stages[-1].update({"code": reply.code, "enhanced_code": parse_enhanced_code(reply.text), "elapsed_ms": _ms(start)})
        self.features = {}
        self.esmtp = False

    def _auth(self) -> None:
        o = self.o
        client = self._require_client()
        start = time.monotonic()
        offered = self.features.get("AUTH", "").upper().split()
        if "AUTH" not in self.features or not offered:
            if o.security == "none" and "STARTTLS" in self.features:
                diagnosis = CATALOGUE["auth_requires_tls"]
                message = "the server offers AUTH only after STARTTLS (it offers STARTTLS but no AUTH in plaintext)"
            else:
                diagnosis = CATALOGUE["auth_not_offered"]
                message = "the server does not offer AUTH"
            self.tr.info(message)
            raise self._fail("auth", start, message, diagnosis)
        if o.auth_mechanism == "auto":
            candidates = [m for m in _AUTO_ORDER if m in offered]
        else:
            candidates = [o.auth_mechanism.upper()] if o.auth_mechanism.upper() in offered else []
        if not candidates:
            wanted = o.auth_mechanism.upper() if o.auth_mechanism != "auto" else " or ".join(_AUTO_ORDER)
            message = f"the server offers AUTH {' '.join(offered)}, not {wanted}"
            self.tr.info(message)
            raise self._fail("auth", start, message, CATALOGUE["auth_not_offered"])
        mechanism = candidates[0]
        self.r.auth_mechanism = mechanism
        self.tr.info(f"authenticating as {o.username} with {mechanism} (payloads masked)")
        try:
            reply = _authenticate(client, mechanism, (o.username or "").encode("utf-8"), (o.password or "").encode("utf-8"))
        except (OSError, smtplib.SMTPException) as exc:
            raise self._fail_exc("auth", start, exc, f"AUTH {mechanism}") from None
        if reply.code != 235:
            raise self._fail_reply("auth", start, f"AUTH {mechanism} failed", reply)
        self._record("auth", True, start, reply.code, reply.text)

    def _mail(self) -> None:
        o = self.o
        client = self._require_client()
        start = time.monotonic()
        try:
            reply = client.command(f"MAIL FROM:<{o.mail_from or ''}>")
        except (OSError, smtplib.SMTPException) as exc:
            raise self._fail_exc("mail", start, exc, "MAIL FROM") from None
        if reply.code != 250:
            raise self._fail_reply("mail", start, f"sender <{o.mail_from}> refused", reply)
        self._record("mail", True, start, reply.code, reply.text)

    def _rcpt(self) -> list[str]:
        o = self.o
        client = self._require_client()
        start = time.monotonic()
        accepted: list[str] = []
        first_rejection: tuple[_Reply, Diagnosis] | None = None
        last: _Reply | None = None
        for address in o.rcpt_to:
            try:
                reply = client.command(f"RCPT TO:<{address}>")
            except (OSError, smtplib.SMTPException) as exc:
                raise self._fail_exc("rcpt", start, exc, f"RCPT TO <{address}>") from None
            text = _brief(reply.text)
            ok = reply.code in (250, 251)
            self.r.recipients[address] = {"accepted": ok, "code": reply.code, "enhanced_code": parse_enhanced_code(text), "text": text}
            last = reply
            if ok:
                accepted.append(address)
            elif first_rejection is None:
                first_rejection = (reply, diagnose_reply(reply.code, reply.text, stage="rcpt") or CATALOGUE["protocol_error"])
        if first_rejection is not None:
            reply, diagnosis = first_rejection
            rejected = [a for a in o.rcpt_to if not self.r.recipients[a]["accepted"]]
            if not accepted or o.fail_on_rejected_recipient:
                what = "all recipients" if not accepted else "recipient(s) " + ", ".join(rejected)
                self.tr.info(f"{what} rejected; not sending the message")
                raise self._fail("rcpt", start, f"{what} rejected: {_reply_str(reply)}", diagnosis, code=reply.code, text=reply.text)
            self.r.diagnosis = diagnosis
            self.tr.info(f"recipient(s) {', '.join(rejected)} rejected; continuing (fail_on_rejected_recipient is false)")
        self._record("rcpt", True, start, last.code if last else None, last.text if last else "")
        return accepted

    def _build_message(self) -> bytes:
        o = self.o
        token = self.r.token or uuid.uuid4().hex
        domain = (o.mail_from or "").rpartition("@")[2] or o.helo or "localhost"
        self.r.message_id = f"<mailops-notify.{token}@{domain}>"
        message = EmailMessage()
        message["From"] = o.mail_from
        message["To"] = ", ".join(o.rcpt_to)
        message["Subject"] = o.subject or f"mailops.notify test message {token}"
        message["Date"] = email.utils.formatdate(localtime=True)
        message["Message-ID"] = self.r.message_id
        message["X-Mailops-Notify-Token"] = token
        for name, value in o.headers.items():
            if name in message:
                del message[name]
            message[name] = value
        message.set_content(o.body if o.body is not None else f"This is a test message sent by mailops.notify.smtp_test.\n\nToken: {token}\n")
        return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))

    def _data(self) -> None:
        client = self._require_client()
        payload = self._build_message()
        start = time.monotonic()
        try:
            reply = client.command("DATA")
            if reply.code != 354:
                raise self._fail_reply("data", start, "DATA refused", reply)
            client.send_data(payload)
            reply = client.reply()
        except (OSError, smtplib.SMTPException) as exc:
            raise self._fail_exc("data", start, exc, "DATA") from None
        if reply.code != 250:
            raise self._fail_reply("data", start, "message refused", reply)
        self.r.sent = True
        self.r.would_send = True
        self.r.queue_id = parse_queue_id(reply.text)
        self._record("data", True, start, reply.code, reply.text)

    def _quit(self) -> None:
        client = self.client
        if client is None or client.sock is None:
            return
        start = time.monotonic()
        try:
            reply = client.command("QUIT")
            self._record("quit", True, start, reply.code, reply.text)
        except (OSError, smtplib.SMTPException) as exc:
            # A server that hangs up instead of answering QUIT is impolite, not a failure.
            self.tr.info(f"QUIT not answered: {exc}")
        self._close()

    def _close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def _require_client(self) -> _Client:
        if self.client is None:  # pragma: no cover
            raise AssertionError("Internal error")
        return self.client


def _authenticate(client: _Client, mechanism: str, user: bytes, password: bytes) -> _Reply:
    """Run AUTH with UTF-8 credentials (RFC 4616 for PLAIN; LOGIN and CRAM-MD5 send the same UTF-8 bytes).

    Everything sent after the mechanism name is shown masked in the transcript."""
    initial: bytes | None
    if mechanism == "PLAIN":
        initial = b"\0" + user + b"\0" + password

        def answer(_challenge: bytes) -> bytes:
            return b"\0" + user + b"\0" + password

    elif mechanism == "LOGIN":
        initial = user

        def answer(challenge: bytes) -> bytes:
            return user if challenge.strip().lower().startswith(b"user") else password

    elif mechanism == "CRAM-MD5":
        initial = None

        def answer(challenge: bytes) -> bytes:
            return user + b" " + hmac.new(password, challenge, "md5").hexdigest().encode("ascii")

    else:  # pragma: no cover - the mechanism comes from _AUTO_ORDER
        raise AssertionError("Internal error")
    if initial is None:
        reply = client.command(f"AUTH {mechanism}")
    else:
        reply = client.command(f"AUTH {mechanism} {_b64_bytes(initial)}", shown=f"AUTH {mechanism} {MASK}")
    challenges = 0
    while reply.code == 334:
        challenges += 1
        if challenges > _MAX_AUTH_CHALLENGES:
            raise _ProtocolViolation(f"the server sent more than {_MAX_AUTH_CHALLENGES} AUTH challenges")
        try:
            challenge = base64.b64decode(reply.text.strip(), validate=True)
        except (binascii.Error, ValueError):
            client.send_line("*")  # RFC 4954: cancel the exchange
            raise _ProtocolViolation("the server's AUTH challenge is not base64") from None
        reply = client.command(_b64_bytes(answer(challenge)), shown=MASK)
    return reply


def _reply_str(reply: _Reply) -> str:
    """A reply as SMTP writes it: '535 5.7.8 text' (lines joined with ' / ')."""
    text = " / ".join(line for line in reply.lines if line)
    return _brief(f"{reply.code} {text}".rstrip() if reply.code != -1 else text or "(an empty line)")


def _text(msg: t.Any) -> str:
    return msg.decode("utf-8", "replace") if isinstance(msg, (bytes, bytearray)) else str(msg or "")


def run_session(options: SmtpOptions) -> SessionResult:
    """Validate the options (raising SmtpConfigError) and run one SMTP session; never raises for network errors."""
    options.validate()
    return _Session(options).run()
