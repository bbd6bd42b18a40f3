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
:class:`SmtpConfigError`, before any connection is made.
"""

from __future__ import annotations

import base64
import email.utils
import re
import smtplib
import socket
import ssl
import time
import typing as t
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

__all__ = [
    "AUTH_MECHANISMS",
    "DEFAULT_PORTS",
    "QUIT_AFTER",
    "SECURITY_MODES",
    "STAGES",
    "TLS_VERSIONS",
    "SessionResult",
    "SmtpConfigError",
    "SmtpError",
    "SmtpOptions",
    "SmtpStageError",
    "Transcript",
    "build_secrets",
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
MASK = "********"
_DATA_LINES_SHOWN = 40


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

    def validate(self) -> None:
        if not self.host:
            raise SmtpConfigError("host must not be empty")
        if self.security not in SECURITY_MODES:
            raise SmtpConfigError(f"security must be one of {', '.join(SECURITY_MODES)}, not {self.security!r}")
        if self.port is None:
            self.port = DEFAULT_PORTS[self.security]
        if not 0 < int(self.port) < 65536:
            raise SmtpConfigError(f"port must be between 1 and 65535, not {self.port}")
        if self.auth_mechanism not in AUTH_MECHANISMS:
            raise SmtpConfigError(f"auth_mechanism must be one of {', '.join(AUTH_MECHANISMS)}, not {self.auth_mechanism!r}")
        if self.quit_after not in QUIT_AFTER:
            raise SmtpConfigError(f"quit_after must be one of {', '.join(QUIT_AFTER)}, not {self.quit_after!r}")
        if self.tls_min_version is not None and self.tls_min_version not in TLS_VERSIONS:
            raise SmtpConfigError(f"tls_min_version must be one of {', '.join(TLS_VERSIONS)}, not {self.tls_min_version!r}")
        if self.timeout is None or float(self.timeout) <= 0:
            raise SmtpConfigError("timeout must be a positive number of seconds")
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
        for address in [self.mail_from or "", *self.rcpt_to]:
            if any(c in address for c in "\r\n<>"):
                raise SmtpConfigError(f"invalid address {address!r}: it must be a bare address without <>, CR or LF")
        for name, value in self.headers.items():
            if not re.match(r"^[!-9;-~]+$", name) or any(c in str(value) for c in "\r\n"):
                raise SmtpConfigError(f"invalid header {name!r}: names are printable ASCII without ':', values without CR/LF")

    @property
    def effective_quit_after(self) -> str:
        """In check mode the session never sends DATA: it stops after RCPT at the latest."""
        if self.check_mode and self.quit_after == "data":
            return "rcpt"
        return self.quit_after


def build_secrets(username: str | None, password: str | None) -> list[str]:
    """Every form in which the password can appear on the wire: plain, base64 of PLAIN and LOGIN payloads."""
    if not password:
        return []
    user = username or ""
    forms = {
        password,
        _b64(password),
        _b64(f"\0{user}\0{password}"),
        _b64(f"{user}\0{user}\0{password}"),
    }
    return sorted((f for f in forms if f), key=len, reverse=True)


def _b64(value: str) -> str:
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


def redact(value: t.Any, secrets: t.Sequence[str]) -> t.Any:
    """Replace every secret (in any of its forms) in strings nested in dicts, lists and tuples."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if secret and secret in value:
                value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {redact(k, secrets): redact(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v, secrets) for v in value)
    return value


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


class _Client(smtplib.SMTP):
    """smtplib.SMTP that records every line it sends and receives, masking authentication payloads."""

    def __init__(self, transcript: Transcript, timeout: float, local_hostname: str) -> None:
        super().__init__(host="", local_hostname=local_hostname, timeout=timeout)
        self._transcript = transcript
        self._presock: socket.socket | None = None
        self._in_auth = False
        self._in_data = False

    def _get_socket(self, host, port, timeout):
        if self._presock is None:  # pragma: no cover
            raise AssertionError("Internal error")
        return self._presock

    def putcmd(self, cmd, args=""):
        # Commands in upper case, as in RFC 5321 examples and swaks transcripts.
        super().putcmd(cmd if self._in_auth else cmd.upper(), args)

    def send(self, s):
        text = s.decode("utf-8", "replace") if isinstance(s, (bytes, bytearray)) else str(s)
        lines = text.split("\r\n")
        if lines and lines[-1] == "":
            lines.pop()
        if self._in_data:
            for line in lines[:_DATA_LINES_SHOWN]:
                self._transcript.add("->", line)
            if len(lines) > _DATA_LINES_SHOWN:
                self._transcript.info(f"[{len(lines) - _DATA_LINES_SHOWN} more lines of message data not shown]")
        else:
            for line in lines:
                shown = line
                if line.upper().startswith("AUTH "):
                    self._in_auth = True
                    parts = line.split(" ")
                    shown = " ".join(parts[:2] + ([MASK] if len(parts) > 2 else []))
                elif self._in_auth:
                    shown = MASK
                self._transcript.add("->", shown)
        super().send(s)

    def getreply(self):
        code, msg = super().getreply()
        text = msg.decode("utf-8", "replace") if isinstance(msg, (bytes, bytearray)) else str(msg)
        lines = text.split("\n") if text else [""]
        for index, line in enumerate(lines):
            sep = "-" if index < len(lines) - 1 else " "
            self._transcript.add("<-", f"{code}{sep}{line}".rstrip() if code != -1 else line)
        if code != 334:
            self._in_auth = False
        return code, msg


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
    """Return True when the port completes (or answers) a TLS handshake: it speaks implicit TLS."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=host if not _is_ip(host) else None):
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


def _is_ip(host: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return True
        except OSError:
            pass
    return False


class _Session:
    def __init__(self, options: SmtpOptions) -> None:
        self.o = options
        self.r = SessionResult(host=options.host, port=int(options.port or 0), security=options.security)
        self.r.secrets = build_secrets(options.username, options.password)
        self.tr = self.r.transcript
        self.client: _Client | None = None
        self.quit_after = options.effective_quit_after
        self.features: dict[str, str] = {}

    # -- stage bookkeeping -------------------------------------------------
    def _record(self, name: str, ok: bool, start: float, code: int | None = None, text: str = "") -> None:
        self.r.stages.append(
            {
                "name": name,
                "ok": ok,
                "code": code,
                "enhanced_code": parse_enhanced_code(text) if code is not None else None,
                "text": text,
                "elapsed_ms": _ms(start),
            }
        )

    def _fail(self, name: str, start: float, message: str, diagnosis: Diagnosis, *, code: int | None = None, text: str = "") -> SmtpStageError:
        self._record(name, False, start, code, text or message)
        return SmtpStageError(name, message, diagnosis, code, text)

    def _fail_exc(self, name: str, start: float, exc: BaseException, what: str) -> SmtpStageError:
        code = getattr(exc, "smtp_code", None)
        raw = getattr(exc, "smtp_error", None)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (str(raw) if raw is not None else str(exc))
        diagnosis = diagnose_exception(exc, stage=name)
        self.tr.info(f"{what} failed: {text if code is None else f'{code} {text}'}")
        return self._fail(name, start, f"{what} failed: {exc}", diagnosis, code=code, text=text)

    def _done(self, stage: str) -> bool:
        return self.quit_after == stage

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
            self.r.msg = f"SMTP session with {o.host}:{o.port} failed: {type(exc).__name__}: {exc}"
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
            sock = socket.create_connection((o.host, o.port), timeout=o.timeout)
        except (OSError, ValueError) as exc:
            raise self._fail_exc("connect", start, exc, f"connection to {o.host}:{o.port}") from None
        peer = sock.getpeername()
        text = f"connected to {peer[0]}:{peer[1]}"
        self.tr.info(text.capitalize())
        self._record("connect", True, start, None, text)
        return sock

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
        self.client = _Client(self.tr, o.timeout, o.helo or socket.gethostname())
        self.client._presock = sock
        try:
            code, msg = self.client.connect(o.host, o.port)
        except (OSError, smtplib.SMTPException) as exc:
            error = self._fail_exc("banner", start, exc, "reading the banner")
            if o.security != "tls" and error.diagnosis.code in ("timeout", "connection_closed", "protocol_error"):
                self.tr.info("no SMTP banner; probing whether the port expects implicit TLS")
                if tls_probe(o.host, int(o.port), min(o.timeout, 5.0)):
                    self.tr.info("the port completed a TLS handshake: it expects implicit TLS")
                    error.diagnosis = CATALOGUE["starttls_on_tls_port"]
            raise error from None
        text = _text(msg)
        if code != 220:
            diagnosis = diagnose_reply(code, text, stage="banner") or CATALOGUE["protocol_error"]
            if code == -1 and o.security != "tls" and tls_probe(o.host, int(o.port), min(o.timeout, 5.0)):
                diagnosis = CATALOGUE["starttls_on_tls_port"]
            raise self._fail("banner", start, f"unexpected banner: {code} {text}", diagnosis, code=code, text=text)
        self._record("banner", True, start, code, text)

    def _ehlo(self, slot: str) -> None:
        o = self.o
        client = self._require_client()
        start = time.monotonic()
        try:
            code, msg = client.ehlo(o.helo or client.local_hostname)
            text = _text(msg)
            if code != 250:
                self.tr.info("EHLO refused, trying HELO")
                code2, msg2 = client.helo(o.helo or client.local_hostname)
                if code2 != 250:
                    diagnosis = diagnose_reply(code2, _text(msg2), stage="ehlo") or CATALOGUE["protocol_error"]
                    raise self._fail("ehlo", start, f"EHLO and HELO refused: {code2} {_text(msg2)}", diagnosis, code=code2, text=_text(msg2))
                code, text = code2, _text(msg2)
        except (OSError, smtplib.SMTPException) as exc:
            raise self._fail_exc("ehlo", start, exc, "EHLO") from None
        keywords = parse_ehlo(text) if client.does_esmtp else []
        self.r.capabilities[slot] = keywords
        self.features = _features(keywords)
        self._record("ehlo", True, start, code, text.splitlines()[0] if text else "")

    def _starttls(self) -> None:
        client = self._require_client()
        start = time.monotonic()
        if "STARTTLS" not in self.features:
            self.tr.info("STARTTLS is required (security: starttls) but the server did not offer it; not continuing in plaintext")
            raise self._fail("tls", start, "the server does not offer STARTTLS; refusing to continue in plaintext", CATALOGUE["starttls_not_offered"])
        try:
            code, msg = client.docmd("STARTTLS")
        except (OSError, smtplib.SMTPException) as exc:
            raise self._fail_exc("tls", start, exc, "STARTTLS") from None
        text = _text(msg)
        if code != 220:
            diagnosis = diagnose_reply(code, text, stage="tls") or CATALOGUE["tls_handshake_failed"]
            raise self._fail("tls", start, f"STARTTLS refused: {code} {text}; refusing to continue in plaintext", diagnosis, code=code, text=text)
        # The handshake records its own 'tls' stage; drop the one for the command itself.
        client.sock = self._handshake(client.sock, "STARTTLS")
        client.file = None
        client.helo_resp = None
        client.ehlo_resp = None
        client.esmtp_features = {}
        client.does_esmtp = False
        self.r.stages[-1].update({"code": code, "enhanced_code": parse_enhanced_code(text), "elapsed_ms": _ms(start)})
        self.features = {}

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
        client.user, client.password = o.username, o.password
        authobject = {"CRAM-MD5": client.auth_cram_md5, "PLAIN": client.auth_plain, "LOGIN": client.auth_login}[mechanism]
        try:
            code, msg = client.auth(mechanism, authobject)
        except (OSError, smtplib.SMTPException) as exc:
            raise self._fail_exc("auth", start, exc, f"AUTH {mechanism}") from None
        finally:
            client.password = None
        self._record("auth", True, start, code, _text(msg))

    def _mail(self) -> None:
        o = self.o
        client = self._require_client()
        start = time.monotonic()
        try:
            code, msg = client.mail(o.mail_from or "")
        except (OSError, smtplib.SMTPException) as exc:
            raise self._fail_exc("mail", start, exc, "MAIL FROM") from None
        text = _text(msg)
        if code != 250:
            diagnosis = diagnose_reply(code, text, stage="mail") or CATALOGUE["protocol_error"]
            raise self._fail("mail", start, f"sender <{o.mail_from}> refused: {code} {text}", diagnosis, code=code, text=text)
        self._record("mail", True, start, code, text)

    def _rcpt(self) -> list[str]:
        o = self.o
        client = self._require_client()
        start = time.monotonic()
        accepted: list[str] = []
        first_rejection: tuple[int, str, Diagnosis] | None = None
        last_code: int | None = None
        last_text = ""
        for address in o.rcpt_to:
            try:
                code, msg = client.rcpt(address)
            except (OSError, smtplib.SMTPException) as exc:
                raise self._fail_exc("rcpt", start, exc, f"RCPT TO <{address}>") from None
            text = _text(msg)
            ok = code in (250, 251)
            self.r.recipients[address] = {"accepted": ok, "code": code, "enhanced_code": parse_enhanced_code(text), "text": text}
            last_code, last_text = code, text
            if ok:
                accepted.append(address)
            elif first_rejection is None:
                first_rejection = (code, text, diagnose_reply(code, text, stage="rcpt") or CATALOGUE["protocol_error"])
        if first_rejection is not None:
            code, text, diagnosis = first_rejection
            rejected = [a for a in o.rcpt_to if not self.r.recipients[a]["accepted"]]
            if not accepted or o.fail_on_rejected_recipient:
                what = "all recipients" if not accepted else "recipient(s) " + ", ".join(rejected)
                self.tr.info(f"{what} rejected; not sending the message")
                raise self._fail("rcpt", start, f"{what} rejected: {code} {text}", diagnosis, code=code, text=text)
            self.r.diagnosis = diagnosis
            self.tr.info(f"recipient(s) {', '.join(rejected)} rejected; continuing (fail_on_rejected_recipient is false)")
        self._record("rcpt", True, start, last_code, last_text)
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
            client.putcmd("data")
            code, msg = client.getreply()
            if code != 354:
                text = _text(msg)
                diagnosis = diagnose_reply(code, text, stage="data") or CATALOGUE["protocol_error"]
                raise self._fail("data", start, f"DATA refused: {code} {text}", diagnosis, code=code, text=text)
            client._in_data = True
            try:
                client.send(smtplib._quote_periods(payload) + (b"" if payload.endswith(b"\r\n") else b"\r\n") + b".\r\n")
            finally:
                client._in_data = False
            code, msg = client.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            raise self._fail_exc("data", start, exc, "DATA") from None
        text = _text(msg)
        if code != 250:
            diagnosis = diagnose_reply(code, text, stage="data") or CATALOGUE["protocol_error"]
            raise self._fail("data", start, f"message refused: {code} {text}", diagnosis, code=code, text=text)
        self.r.sent = True
        self.r.would_send = True
        self.r.queue_id = parse_queue_id(text)
        self._record("data", True, start, code, text)

    def _quit(self) -> None:
        client = self.client
        if client is None or client.sock is None:
            return
        start = time.monotonic()
        try:
            code, msg = client.docmd("QUIT")
            self._record("quit", True, start, code, _text(msg))
        except (OSError, smtplib.SMTPException) as exc:
            # A server that hangs up instead of answering QUIT is impolite, not a failure.
            self.tr.info(f"QUIT not answered: {exc}")
        self._close()

    def _close(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
            except OSError:  # pragma: no cover
                pass
            self.client = None

    def _require_client(self) -> _Client:
        if self.client is None:  # pragma: no cover
            raise AssertionError("Internal error")
        return self.client


def _text(msg: t.Any) -> str:
    return msg.decode("utf-8", "replace") if isinstance(msg, (bytes, bytearray)) else str(msg or "")


def run_session(options: SmtpOptions) -> SessionResult:
    """Validate the options (raising SmtpConfigError) and run one SMTP session; never raises for network errors."""
    options.validate()
    return _Session(options).run()
