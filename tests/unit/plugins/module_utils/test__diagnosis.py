# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import errno
import smtplib
import socket
import ssl

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._diagnosis import (
    CATALOGUE,
    Diagnosis,
    diagnose_exception,
    diagnose_reply,
    diagnose_text,
    parse_enhanced_code,
)

REQUIRED_CODES = {
    "connection_refused",
    "timeout",
    "dns_failure",
    "no_route",
    "tls_on_starttls_port",
    "starttls_on_tls_port",
    "starttls_not_offered",
    "tls_unavailable",
    "auth_not_offered",
    "auth_requires_tls",
    "must_issue_starttls",
    "auth_failed",
    "relay_denied",
    "sender_not_allowed",
    "unknown_recipient",
    "temporary_failure",
    "cert_hostname_mismatch",
    "cert_expired",
    "cert_untrusted",
    "unknown",
}


def test_catalogue_is_complete_and_consistent():
    assert REQUIRED_CODES <= set(CATALOGUE)
    for code, diagnosis in CATALOGUE.items():
        assert isinstance(diagnosis, Diagnosis)
        assert diagnosis.code == code
        assert diagnosis.summary.endswith(".") and diagnosis.hint.endswith(".")
        assert diagnosis.as_dict() == {"code": code, "summary": diagnosis.summary, "hint": diagnosis.hint}


def test_auth_failed_mentions_app_passwords():
    assert "app password" in CATALOGUE["auth_failed"].hint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5.7.8 Error: authentication failed", "5.7.8"),
        ("  2.1.5 Ok", "2.1.5"),
        ("<x@y>: Recipient address rejected 5.1.1", "5.1.1"),
        ("Ok queued", None),
        ("version 1.2.3.4", None),
        ("", None),
    ],
)
def test_parse_enhanced_code(text, expected):
    assert parse_enhanced_code(text) == expected


@pytest.mark.parametrize(
    ("code", "text", "stage", "expected"),
    [
        (250, "2.1.5 Ok", "rcpt", None),
        (354, "End data", "data", None),
        (None, "", None, None),
        (421, "4.3.2 Service not available, closing transmission channel", "banner", "temporary_failure"),
        (450, "4.2.0 <x@y>: Recipient address rejected: Greylisted", "rcpt", "temporary_failure"),
        (451, "4.3.0 Temporary lookup failure", "mail", "temporary_failure"),
        (452, "4.5.3 Too many recipients", "rcpt", "temporary_failure"),
        # RFC 3207: 454 to STARTTLS is the server's broken TLS setup (its certificate or key), not greylisting
        (454, "4.7.0 TLS not available due to local problem", "tls", "tls_unavailable"),
        (454, "4.7.0 TLS not available due to local problem", None, "tls_unavailable"),
        (454, "4.7.1 <x@y>: Relay access denied", "rcpt", "relay_denied"),
        (530, "5.7.0 Must issue a STARTTLS command first", "mail", "must_issue_starttls"),
        (530, "Must issue a STARTTLS command first", "mail", "must_issue_starttls"),
        (530, "5.7.0 Authentication required", "mail", "auth_required"),
        (538, "5.7.11 Encryption required for requested authentication mechanism", "auth", "auth_requires_tls"),
        (535, "5.7.8 Error: authentication failed: authentication failure", "auth", "auth_failed"),
        (535, "5.7.3 Authentication unsuccessful", "auth", "auth_failed"),
        (534, "5.7.9 Application-specific password required. Learn more at https://support.google.com/mail/?p=InvalidSecondFactor", "auth", "auth_failed"),
        (535, "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.", "auth", "auth_failed"),
        (504, "5.5.4 Unrecognized authentication type", "auth", "auth_not_offered"),
        (554, "5.7.1 <x@elsewhere>: Relay access denied", "rcpt", "relay_denied"),
        (553, "Relaying disallowed", "rcpt", "relay_denied"),
        (554, "Access denied: User arn:aws:iam::123456789012:user/smtp is not authorized to perform ses:SendRawEmail", "data", "relay_denied"),
        (554, "5.7.1 Message rejected as spam", "data", "message_rejected"),
        (550, "5.7.27 Sender address has null MX", "mail", "sender_not_allowed"),
        (550, "5.7.1 <x@y>: Sender address rejected: not owned by user alerts@example.com", "mail", "sender_not_allowed"),
        (553, "5.7.1 <x@y>: Sender address rejected: not owned by user alerts", "mail", "sender_not_allowed"),
        (550, "Sender verify failed", "rcpt", "sender_not_allowed"),
        (554, "Message rejected: Email address is not verified. The following identities failed the check: x@y", "data", "sender_not_allowed"),
        (550, "5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table", "rcpt", "unknown_recipient"),
        (550, "No such user here", "rcpt", "unknown_recipient"),
        (552, "5.3.4 Message size exceeds fixed limit", "data", "message_rejected"),
        (554, "5.6.0 Message content rejected", "data", "message_rejected"),
        (554, "No SMTP service here", "banner", "rejected"),
        (502, "5.5.2 Error: command not recognized", "tls", "starttls_not_offered"),
        (500, "Syntax error, command unrecognized", "ehlo", "protocol_error"),
        (-1, "garbage", "banner", "protocol_error"),
    ],
)
def test_diagnose_reply(code, text, stage, expected):
    result = diagnose_reply(code, text, stage=stage)
    assert (result.code if result else None) == expected


def _ssl_error(cls, reason, message, **attrs):
    exc = cls(1, message)
    exc.reason = reason
    for key, value in attrs.items():
        setattr(exc, key, value)
    return exc


def _cert_error(**attrs):
    return _ssl_error(ssl.SSLCertVerificationError, "CERTIFICATE_VERIFY_FAILED", "certificate verify failed", **attrs)


def _disconnected_by(cause):
    try:
        try:
            raise cause
        except OSError as exc:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed: timed out") from exc
    except smtplib.SMTPServerDisconnected as outer:
        return outer


@pytest.mark.parametrize(
    ("exc", "stage", "expected"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "connect", "connection_refused"),
        (OSError(errno.ECONNREFUSED, "Connection refused"), "connect", "connection_refused"),
        (socket.timeout("timed out"), "banner", "timeout"),
        (TimeoutError(errno.ETIMEDOUT, "Connection timed out"), "connect", "timeout"),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "connect", "dns_failure"),
        (socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"), "connect", "dns_failure"),
        # no_route: produced through a real socket in test__smtp.py (TCP to the broadcast address); EHOSTUNREACH needs a real network.
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "connect", "no_route"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "connect", "no_route"),
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "ehlo", "connection_closed"),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), "tls", "connection_closed"),
        (_disconnected_by(socket.timeout("timed out")), "banner", "timeout"),
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 Error: authentication failed"), "auth", "auth_failed"),
        (smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."), "tls", "starttls_not_offered"),
        (smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server."), "auth", "auth_not_offered"),
        (smtplib.SMTPException("No suitable authentication method found."), "auth", "auth_not_offered"),
        (smtplib.SMTPRecipientsRefused({"x@y": (550, b"5.1.1 unknown")}), "rcpt", "protocol_error"),
        (_ssl_error(ssl.SSLError, "WRONG_VERSION_NUMBER", "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "tls", "tls_on_starttls_port"),
        (_ssl_error(ssl.SSLError, "TLSV1_ALERT_PROTOCOL_VERSION", "tlsv1 alert protocol version"), "tls", "tls_handshake_failed"),
        (_ssl_error(ssl.SSLEOFError, "UNEXPECTED_EOF_WHILE_READING", "EOF occurred in violation of protocol"), "tls", "tls_handshake_failed"),
        (_cert_error(verify_code=10, verify_message="certificate has expired"), "tls", "cert_expired"),
        (_cert_error(verify_code=62, verify_message="Hostname mismatch"), "tls", "cert_hostname_mismatch"),
        (_cert_error(verify_code=18, verify_message="self-signed certificate"), "tls", "cert_untrusted"),
        (
            _cert_error(verify_code=20, verify_message="unable to get local issuer certificate"),
            "tls",
            "cert_untrusted",
        ),
        (_cert_error(verify_code=0, verify_message="weird"), "tls", "cert_untrusted"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "banner", "protocol_error"),
        # 'unknown' cannot honestly be produced by a socket: it is the fallback for anything unexpected.
        (RuntimeError("boom"), None, "unknown"),
        (OSError(errno.EPERM, "Operation not permitted"), "connect", "unknown"),
    ],
)
def test_diagnose_exception(exc, stage, expected):
    assert diagnose_exception(exc, stage=stage).code == expected


def test_diagnose_exception_prefers_attached_diagnosis():
    exc = RuntimeError("x")
    exc.diagnosis = CATALOGUE["auth_failed"]
    assert diagnose_exception(exc) is CATALOGUE["auth_failed"]


# Inputs from anchors.md section 5 and typical Postfix log lines.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("connect to relay[10.0.0.2]:587: Connection refused", "connection_refused"),
        ("connect to relay[10.0.0.2]:25: Connection timed out", "timeout"),
        ("Host or domain name not found. Name service error for name=relay.example type=A: Host not found", "dns_failure"),
        ("connect to relay[10.0.0.2]:25: No route to host", "no_route"),
        ("connect to relay[2001:db8::2]:25: Network is unreachable", "no_route"),
        ("SASL authentication failed; server relay[10.0.0.2] said: 535 5.7.8 Error: authentication failed: authentication failure", "auth_failed"),
        ("host relay[10.0.0.2] said: 550 5.1.1 <x@y>: Recipient address rejected: User unknown (in reply to RCPT TO command)", "unknown_recipient"),
        ("host relay[10.0.0.2] said: 554 5.7.1 <x@y>: Relay access denied (in reply to RCPT TO command)", "relay_denied"),
        ("host relay[10.0.0.2] said: 553 Relaying disallowed (in reply to RCPT TO command)", "relay_denied"),
        (
            "host email-smtp.eu-west-1.amazonaws.com[1.2.3.4] said: 554 Access denied: User arn:aws:iam::1:user/x is not authorized"
            " to perform ses:SendRawEmail (in reply to end of DATA command)",
            "relay_denied",
        ),
        ("failed to set the to address: 550 5.7.27 sender not allowed", "sender_not_allowed"),
        ("host relay[10.0.0.2] said: 550 Sender verify failed (in reply to MAIL FROM command)", "sender_not_allowed"),
        ("host relay[10.0.0.2] said: 530 5.7.0 Must issue a STARTTLS command first (in reply to MAIL FROM command)", "must_issue_starttls"),
        ("host relay[10.0.0.2] said: 421 4.7.0 relay Error: too many connections (in reply to end of DATA command)", "temporary_failure"),
        ("host relay[10.0.0.2] said: 451 4.3.0 Temporary lookup failure (in reply to RCPT TO command)", "temporary_failure"),
        ("TLS is required, but was not offered by host relay[10.0.0.2]", "starttls_not_offered"),
        ("TLS is required, but our TLS engine is unavailable", "unknown_or_none"),
        ("TLS is required, but host relay[10.0.0.2] refused to start TLS: 454 4.7.0 TLS not available due to local problem", "tls_unavailable"),
        ("host relay[10.0.0.2] said: 454 4.7.0 TLS not available due to local problem (in reply to STARTTLS command)", "tls_unavailable"),
        ("certificate verification failed for relay[10.0.0.2]:587: untrusted issuer /CN=Lab CA", "cert_untrusted"),
        ("certificate verification failed for relay[10.0.0.2]:587: self-signed certificate", "cert_untrusted"),
        ("certificate verification failed for relay[10.0.0.2]:587: certificate has expired", "cert_expired"),
        ("server certificate verification failed for relay[10.0.0.2]:587: hostname mismatch", "cert_hostname_mismatch"),
        ("SSL_connect error to relay[10.0.0.2]:587: -1 wrong version number", "tls_on_starttls_port"),
        (
            'SMTPS wrappermode (TCP port 465) requires setting "smtp_tls_wrappermode = yes", and "smtp_tls_security_level = encrypt" (or stronger)',
            "starttls_on_tls_port",
        ),
        ("warning: SASL authentication failure: No worthy mechs found", "sasl_no_mechanism"),
        ("SASL authentication failed; cannot authenticate to server relay[10.0.0.2]: no mechanism available", "sasl_no_mechanism"),
        (
            "SASL authentication failed; server relay[10.0.0.2] offered no compatible authentication mechanisms for this type of connection security",
            "auth_requires_tls",
        ),
        ("lost connection with relay[10.0.0.2] while receiving the initial server greeting", "connection_closed"),
        ("SSL_connect error to relay[10.0.0.2]:465: handshake failure", "tls_handshake_failed"),
        ("status=sent (250 2.0.0 Ok: queued as 4FQ2Z1XK9C)", None),
        ("something completely different", None),
        ("", None),
    ],
)
def test_diagnose_text(text, expected):
    result = diagnose_text(text)
    if expected == "unknown_or_none":
        assert result is None or result.code == "unknown"
    else:
        assert (result.code if result else None) == expected


@pytest.mark.parametrize(
    ("code", "text", "stage", "expected"),
    [
        # Postfix refuses relaying with a 4xx code by default (smtpd_relay_restrictions ... defer_unauth_destination).
        (454, "4.7.1 <victim@elsewhere.example>: Relay access denied", "rcpt", "relay_denied"),
        (450, "4.2.0 <x@example.org>: Recipient address rejected: Greylisted", "rcpt", "temporary_failure"),
        # After DATA, a 5.7.1 is a refusal of the message (content filter, milter), not of the relay.
        (550, "5.7.1 Message content rejected", "data", "message_rejected"),
        (554, "5.7.1 <a@b.example>: Relay access denied", "data", "relay_denied"),
        (554, "5.7.1 <a@b.example>: Relay access denied", "rcpt", "relay_denied"),
    ],
)
def test_relay_and_content_refusals(code, text, stage, expected):
    assert diagnose_reply(code, text, stage=stage).code == expected
