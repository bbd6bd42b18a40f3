# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one catalogue of SMTP failure diagnoses shared by every module of the collection.

Three entry points map evidence to a :class:`Diagnosis`:

* :func:`diagnose_reply` for an SMTP reply (code, text with the enhanced status code) at a given stage;
* :func:`diagnose_exception` for socket, ssl and smtplib exceptions;
* :func:`diagnose_text` for free text as found in Postfix logs.

:data:`CATALOGUE` maps every code to its :class:`Diagnosis`, so documentation and tests can enumerate it.
"""

from __future__ import annotations

import errno
import re
import smtplib
import socket
import ssl
import typing as t
from dataclasses import dataclass

__all__ = [
    "CATALOGUE",
    "Diagnosis",
    "diagnose_exception",
    "diagnose_reply",
    "diagnose_text",
    "parse_enhanced_code",
]


@dataclass(frozen=True)
class Diagnosis:
    code: str
    summary: str
    hint: str

    def as_dict(self) -> dict:
        return {"code": self.code, "summary": self.summary, "hint": self.hint}


_ENTRIES: tuple[tuple[str, str, str], ...] = (
    (
        "connection_refused",
        "The server actively refused the TCP connection: nothing listens on that port, or a firewall rejects it.",
        (
            "Check the host and port (25 plain, 587 STARTTLS, 465 implicit TLS), that the mail service is running and listening"
            " on the right interface (mailops.notify.port_check shows local listeners), and firewall REJECT rules."
        ),
    ),
    (
        "timeout",
        "The server did not answer in time.",
        (
            "A silent drop usually means a firewall or the hosting provider blocks the port (outbound port 25 is often blocked);"
            " try port 587 or 465, check security groups and firewall DROP rules, or raise the timeout for a slow server."
        ),
    ),
    (
        "dns_failure",
        "The server name could not be resolved.",
        (
            "Check the spelling of the host name and the resolver configuration of the host running the test"
            " (/etc/resolv.conf); try the IP address to separate DNS from connectivity problems."
        ),
    ),
    (
        "no_route",
        "The network has no route to the server (network or host unreachable).",
        (
            "Check the routing table, default gateway and IPv4/IPv6 connectivity of the host running the test;"
            " an ICMP 'host unreachable' can also come from a firewall."
        ),
    ),
    (
        "connection_closed",
        "The server closed the connection unexpectedly.",
        (
            "Look at the server's log for the reason (postscreen or a rate limit, a TLS or protocol error, a crash);"
            " a server that closes right after STARTTLS often has a broken TLS setup."
        ),
    ),
    (
        "tls_on_starttls_port",
        "Implicit TLS was attempted against a port that speaks plaintext SMTP (OpenSSL 'wrong version number').",
        (
            "Port 587 and 25 use STARTTLS: set security to starttls, or use port 465 for implicit TLS (security tls;"
            " Postfix: smtp_tls_wrappermode = yes only for port 465)."
        ),
    ),
    (
        "starttls_on_tls_port",
        "The port expects implicit TLS from the first byte, but the client spoke plaintext SMTP (no banner, or a TLS handshake only).",
        (
            "Port 465 (SMTPS) uses implicit TLS: set security to tls, or use port 587 with starttls."
            " Postfix relays to port 465 need smtp_tls_wrappermode = yes and smtp_tls_security_level = encrypt."
        ),
    ),
    (
        "starttls_not_offered",
        "TLS is required, but the server does not offer STARTTLS.",
        (
            "Check the port (the submission port 587 usually offers STARTTLS, 465 needs security tls) and the server's TLS"
            " configuration; a middlebox that strips STARTTLS from EHLO also causes this. Never fall back to plaintext."
        ),
    ),
    (
        "tls_unavailable",
        "The server offers STARTTLS but refused to start TLS (454 4.7.0 TLS not available): its own TLS setup is broken.",
        (
            "This is a problem on the server, not a temporary one and not greylisting: check that the server's certificate and"
            " key files exist, match and are readable by the mail service (Postfix: smtpd_tls_cert_file and smtpd_tls_key_file;"
            " its log says 'cannot load certificate' or similar). Never fall back to plaintext."
        ),
    ),
    (
        "tls_handshake_failed",
        "The TLS handshake failed (no common protocol version or cipher, or the server aborted the handshake).",
        "Compare tls_min_version with what the server supports, and check the server's TLS certificate and key configuration.",
    ),
    (
        "cert_untrusted",
        "The server certificate is not trusted: it is self-signed or issued by an unknown certificate authority.",
        (
            "Install the issuing CA and pass it with ca_path (Postfix: smtp_tls_CAfile), or have the server use a certificate from a"
            " public CA. Disable validate_certs only for a throw-away test."
        ),
    ),
    (
        "cert_expired",
        "The server certificate has expired (or is not valid yet).",
        "Renew the server certificate, and check the clock of both hosts.",
    ),
    (
        "cert_hostname_mismatch",
        "The server certificate does not match the host name that was connected to.",
        (
            "Connect with the name the certificate was issued for (its subject alternative names), not an IP address or alias,"
            " or reissue the certificate with the right name."
        ),
    ),
    (
        "auth_not_offered",
        "The server does not offer SMTP AUTH (or not the requested mechanism).",
        (
            "Use the submission port (587 or 465) rather than port 25, check the auth mechanism, and that SASL is enabled on the"
            " server (Postfix: smtpd_sasl_auth_enable)."
        ),
    ),
    (
        "auth_requires_tls",
        "The server offers authentication only over an encrypted connection.",
        (
            "Use security starttls (port 587) or tls (port 465); Postfix clients need smtp_tls_security_level = encrypt"
            " ('offered no compatible authentication mechanisms for this type of connection security')."
        ),
    ),
    (
        "sasl_no_mechanism",
        "The SASL client found no usable authentication mechanism ('No worthy mechs found').",
        "Install the SASL plugins (Debian: libsasl2-modules) and check smtp_sasl_mechanism_filter and smtp_sasl_security_options.",
    ),
    (
        "must_issue_starttls",
        "The server requires STARTTLS before this command (530 5.7.0).",
        "Set security to starttls (port 587) or tls (port 465); Postfix: smtp_tls_security_level = encrypt.",
    ),
    (
        "auth_required",
        "The server requires authentication before accepting mail (530).",
        "Set username and password for the relay; Postfix: smtp_sasl_auth_enable = yes with a sasl_password map.",
    ),
    (
        "auth_failed",
        "Authentication failed: the server rejected the credentials (535/534).",
        (
            "Check the username (often the full email address) and the password. Providers with two-factor authentication"
            " (Gmail, Microsoft 365, iCloud) need an app password or SMTP AUTH enabled for the mailbox; SES needs SMTP credentials,"
            " not the IAM access key."
        ),
    ),
    (
        "relay_denied",
        "The server refused to relay the message: the client is not authorized to send through it (554 5.7.1, 553, SES 'not authorized').",
        (
            "Authenticate, or add the sending host to the relay's allowed networks; with SES, the IAM user needs ses:SendRawEmail"
            " and the sending region must match."
        ),
    ),
    (
        "sender_not_allowed",
        "The sender (MAIL FROM / From) address is not allowed for this account (550 5.7.27, sender verify failed).",
        (
            "Use a From address the account owns, or a verified identity/domain at the provider (SES, Microsoft 365 'Send As');"
            " check the no-reply address in the application's email settings."
        ),
    ),
    (
        "unknown_recipient",
        "The recipient address does not exist (550 5.1.1).",
        "Check the recipient address for typos; the domain's mail server does not know this mailbox.",
    ),
    (
        "message_rejected",
        "The message content was rejected after DATA (size, policy or content filter).",
        "Read the server's reply text; check message size limits and content or spam filters of the relay.",
    ),
    (
        "temporary_failure",
        "The server reported a temporary failure (421/450/451/452); the same request may succeed later.",
        "Retry later; if it persists look for greylisting, rate limits, a full queue or a resource problem on the server.",
    ),
    (
        "protocol_error",
        "The server's answer was not valid SMTP for this stage.",
        "Check that the port really runs an SMTP server (not HTTP, IMAP or a TLS-only port) and read the transcript.",
    ),
    (
        "rejected",
        "The server rejected the command with a permanent error that has no more specific diagnosis.",
        "Read the reply code and text in the transcript; the enhanced status code (RFC 3463) names the class of problem.",
    ),
    (
        "unknown",
        "The failure could not be classified.",
        "Read the error message and the transcript; please report the case so the catalogue can learn it.",
    ),
)

CATALOGUE: t.Mapping[str, Diagnosis] = {code: Diagnosis(code, summary, hint) for code, summary, hint in _ENTRIES}

_ENHANCED_RE = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])")


def parse_enhanced_code(text: str) -> str | None:
    """Return the RFC 3463 enhanced status code at the start of a reply text (or anywhere as a fallback)."""
    if not text:
        return None
    match = re.match(r"\s*([245]\.\d{1,3}\.\d{1,3})(?![\d.])", text)
    if match is None:
        match = _ENHANCED_RE.search(text)
    return match.group(1) if match else None


def _d(code: str) -> Diagnosis:
    return CATALOGUE[code]


_SENDER_RE = re.compile(
    r"sender verify failed|sender address rejected|sender rejected|not owned by (?:the )?(?:auth(?:enticated)? )?user"
    r"|email address is not verified|identit(?:y|ies) failed the check|send ?as ?denied|not allowed to send as"
    r"|from address (?:is )?not allowed|sender not allowed|unauthorized sender",
    re.IGNORECASE,
)
_RELAY_RE = re.compile(r"relay(?:ing)? (?:access )?(?:denied|disallowed|not permitted)|not authorized|access denied|unable to relay", re.IGNORECASE)
_RECIPIENT_RE = re.compile(
    r"user unknown|unknown user|recipient address rejected|no such (?:user|mailbox|recipient)|mailbox (?:unavailable|not found)"
    r"|does not exist|invalid recipient|recipient not found",
    re.IGNORECASE,
)
_STARTTLS_RE = re.compile(r"starttls|must issue|tls required|encryption required|requires? (?:a )?(?:secure|encrypted)", re.IGNORECASE)
_AUTH_REQ_RE = re.compile(r"auth(?:entication)? (?:is )?required|must (?:be )?authenticat", re.IGNORECASE)


def diagnose_reply(code: int | None, text: str = "", *, stage: str | None = None) -> Diagnosis | None:
    """Diagnose an SMTP reply. Return None for a positive reply (1xx-3xx) or when nothing is known."""
    text = text or ""
    if code is None:
        return diagnose_text(text) if text else None
    if code < 100:
        # smtplib reports an unparsable reply as -1
        return _d("protocol_error")
    if code < 400:
        return None
    enhanced = parse_enhanced_code(text) or ""
    low = text.lower()

    if code == 421 or 400 <= code < 500:
        if code == 454 and (stage == "tls" or (stage is None and "tls not available" in low)):
            # RFC 3207: "454 TLS not available due to temporary reason", in practice a broken certificate or key.
            return _d("tls_unavailable")
        if code == 454 and stage == "auth" and "tls" in low:
            return _d("auth_requires_tls")
        if _RELAY_RE.search(text):
            # Postfix answers "454 4.7.1 <x@y>: Relay access denied": temporary in form, a policy refusal in fact.
            return _d("relay_denied")
        return _d("temporary_failure")
    if code == 530:
        if _AUTH_REQ_RE.search(text) and not _STARTTLS_RE.search(text):
            return _d("auth_required")
        return _d("must_issue_starttls")
    if code == 538 or enhanced == "5.7.11":
        return _d("auth_requires_tls")
    if code in (534, 535) or enhanced in ("5.7.8", "5.7.9", "5.7.14", "5.7.139") or (stage == "auth" and enhanced in ("5.7.0", "5.7.3")):
        return _d("auth_failed")
    if stage == "auth" and code == 504:
        return _d("auth_not_offered")
    if code in (550, 553, 554, 551, 552, 555, 501):
        if enhanced == "5.7.27" or _SENDER_RE.search(text) or (stage == "mail" and enhanced in ("5.1.8", "5.1.7", "5.7.60")):
            return _d("sender_not_allowed")
        if enhanced in ("5.1.1", "5.1.10", "5.1.6") or (stage == "rcpt" and _RECIPIENT_RE.search(text)):
            return _d("unknown_recipient")
        if _RELAY_RE.search(text) or (stage != "data" and (enhanced == "5.7.1" or code == 553)):
            return _d("relay_denied")
        if stage == "data" or code == 552:
            # After DATA a 5.7.1 is a content or policy refusal of the message, not of the relay.
            return _d("message_rejected")
    if code >= 500:
        if stage == "tls":
            return _d("starttls_not_offered") if code in (500, 502, 504) else _d("tls_handshake_failed")
        if stage == "ehlo" and code in (500, 502):
            return _d("protocol_error")
        return _d("rejected")
    return _d("protocol_error")


_CERT_VERIFY_CODES = {
    10: "cert_expired",  # X509_V_ERR_CERT_HAS_EXPIRED
    9: "cert_expired",  # X509_V_ERR_CERT_NOT_YET_VALID
    62: "cert_hostname_mismatch",  # X509_V_ERR_HOSTNAME_MISMATCH
    64: "cert_hostname_mismatch",  # X509_V_ERR_IP_ADDRESS_MISMATCH
    2: "cert_untrusted",  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
    18: "cert_untrusted",  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
    19: "cert_untrusted",  # X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
    20: "cert_untrusted",  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: "cert_untrusted",  # X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
}

_NO_ROUTE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, getattr(errno, "EHOSTDOWN", -1), getattr(errno, "ENETDOWN", -1)}


def diagnose_exception(exc: BaseException, *, stage: str | None = None) -> Diagnosis:
    """Diagnose a socket, ssl or smtplib exception. Always returns a diagnosis (``unknown`` as the last resort)."""
    # Objects that carry their own diagnosis (for example the errors of the SMTP session) win.
    own = getattr(exc, "diagnosis", None)
    if isinstance(own, Diagnosis):
        return own
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return diagnose_reply(exc.smtp_code, text, stage=stage) or _d("unknown")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib wraps socket errors (timeouts, resets, TLS alerts) while reading a reply.
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, OSError) and cause is not exc:
            return diagnose_exception(cause, stage=stage)
        return _d("connection_closed")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return _d("starttls_not_offered") if stage == "tls" else _d("auth_not_offered")
    if isinstance(exc, smtplib.SMTPException):
        msg = str(exc).lower()
        if "authentication method" in msg or "auth extension not supported" in msg:
            return _d("auth_not_offered")
        if "starttls" in msg:
            return _d("starttls_not_offered")
        return diagnose_text(str(exc)) or _d("protocol_error")
    if isinstance(exc, ssl.SSLCertVerificationError):
        mapped = _CERT_VERIFY_CODES.get(getattr(exc, "verify_code", 0) or 0)
        if mapped:
            return _d(mapped)
        return diagnose_text(str(getattr(exc, "verify_message", "") or exc)) or _d("cert_untrusted")
    if isinstance(exc, ssl.SSLError):
        reason = (getattr(exc, "reason", None) or "").upper()
        if reason == "WRONG_VERSION_NUMBER" or "wrong version number" in str(exc).lower():
            return _d("tls_on_starttls_port")
        if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)) or "EOF" in reason:
            return _d("connection_closed") if stage != "tls" else _d("tls_handshake_failed")
        return _d("tls_handshake_failed")
    if isinstance(exc, socket.gaierror):
        return _d("dns_failure")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return _d("timeout")
    if isinstance(exc, ConnectionRefusedError):
        return _d("connection_refused")
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, EOFError)):
        return _d("connection_closed")
    if isinstance(exc, OSError):
        if exc.errno in _NO_ROUTE_ERRNOS:
            return _d("no_route")
        if exc.errno == errno.ETIMEDOUT:
            return _d("timeout")
        if exc.errno == errno.ECONNREFUSED:
            return _d("connection_refused")
        return diagnose_text(str(exc)) or _d("unknown")
    if isinstance(exc, UnicodeError):
        return _d("protocol_error")
    return _d("unknown")


# Free text (Postfix logs, error strings): patterns tried in order before any reply code is looked at.
_TEXT_PATTERNS: tuple[tuple[re.Pattern, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), code)
    for pattern, code in (
        (r"no worthy mechs|no mechanism available|SASL\(-4\)", "sasl_no_mechanism"),
        (r"no compatible authentication mechanisms for this type of connection security|encryption required for requested authentication", "auth_requires_tls"),
        (r"wrappermode|SMTPS.*465", "starttls_on_tls_port"),
        (r"wrong version number", "tls_on_starttls_port"),
        (r"refused to start TLS|TLS not available", "tls_unavailable"),
        (
            r"TLS is required, but (?:was )?not offered|did not advertise STARTTLS|STARTTLS (?:extension )?not (?:offered|supported|advertised)",
            "starttls_not_offered",
        ),
        (r"certificate (?:has )?expired|certificate is not yet valid|CERT_HAS_EXPIRED", "cert_expired"),
        (r"hostname mismatch|name mismatch|IP address mismatch|certificate is not valid for|doesn't match|does not match the host", "cert_hostname_mismatch"),
        (
            (
                r"untrusted issuer|self[- ]signed certificate|unable to get local issuer|unable to verify the first certificate"
                r"|unknown ca|certificate verify failed|certificate verification failed|server certificate not (?:trusted|verified)"
            ),
            "cert_untrusted",
        ),
        (r"AUTH(?:entication)? (?:extension )?not (?:offered|supported|advertised)|no suitable authentication method", "auth_not_offered"),
    )
)
_TEXT_AFTER_REPLY: tuple[tuple[re.Pattern, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), code)
    for pattern, code in (
        (r"connection refused", "connection_refused"),
        (r"connection timed out|timed out|timeout", "timeout"),
        (
            r"host or domain name not found|name service error|name or service not known|temporary failure in name resolution"
            r"|nodename nor servname|no address associated|getaddrinfo|NXDOMAIN",
            "dns_failure",
        ),
        (r"no route to host|network is unreachable|host is unreachable|network unreachable", "no_route"),
        (r"lost connection|connection reset|connection closed|unexpected EOF|server disconnected|EOF occurred", "connection_closed"),
        (r"handshake failure|SSL_connect error|TLS handshake|tlsv1 alert|unsupported protocol|no protocols available", "tls_handshake_failed"),
    )
)
_SAID_RE = re.compile(r"said:\s*(\d{3})[ -]?((?:[245])\.\d{1,3}\.\d{1,3})?", re.IGNORECASE)
_LOOSE_REPLY_RE = re.compile(r"(?:^|[\s(\[:])([245]\d\d)[ -]([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
_LEADING_REPLY_RE = re.compile(r"^\s*\(?([245]\d\d)(?:[ -]|$)")
_IN_REPLY_TO_RE = re.compile(r"in reply to (end of data|mail from|rcpt to|data|auth|starttls|ehlo|helo|quit)", re.IGNORECASE)
_IN_REPLY_STAGE = {
    "end of data": "data",
    "data": "data",
    "mail from": "mail",
    "rcpt to": "rcpt",
    "auth": "auth",
    "starttls": "tls",
    "ehlo": "ehlo",
    "helo": "ehlo",
    "quit": "quit",
}


def _extract_reply(text: str) -> tuple[int | None, str]:
    """Find an SMTP reply inside free text; return (code, reply text starting at the enhanced code)."""
    for regex in (_SAID_RE, _LOOSE_REPLY_RE, _LEADING_REPLY_RE):
        match = regex.search(text)
        if match:
            code = int(match.group(1))
            rest = text[match.end(1) :].lstrip(" -")
            return code, rest
    return None, ""


def diagnose_text(text: str) -> Diagnosis | None:
    """Diagnose free text such as a Postfix log line or an error message; None when nothing matches."""
    if not text:
        return None
    for regex, code in _TEXT_PATTERNS:
        if regex.search(text):
            return _d(code)
    reply_code, reply_text = _extract_reply(text)
    if reply_code is not None and reply_code >= 400:
        stage_match = _IN_REPLY_TO_RE.search(text)
        stage = _IN_REPLY_STAGE[stage_match.group(1).lower()] if stage_match else None
        if stage is None and re.search(r"SASL authentication failed|authentication failed", text, re.IGNORECASE):
            stage = "auth"
        diagnosis = diagnose_reply(reply_code, reply_text, stage=stage)
        if diagnosis is not None:
            return diagnosis
    for regex, code in _TEXT_AFTER_REPLY:
        if regex.search(text):
            return _d(code)
    if re.search(r"SASL authentication failed|authentication failed|authentication unsuccessful|invalid credentials", text, re.IGNORECASE):
        return _d("auth_failed")
    if re.search(r"relay access denied|relaying denied", text, re.IGNORECASE):
        return _d("relay_denied")
    return None
