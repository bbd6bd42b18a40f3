# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import contextlib
import json
import ssl

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._diagnosis import CATALOGUE
from ansible_collections.mailops.notify.plugins.module_utils._smtp import (
    MASK,
    SmtpConfigError,
    SmtpOptions,
    Transcript,
    build_secrets,
    parse_ehlo,
    parse_queue_id,
    redact,
    run_session,
)
from ansible_collections.mailops.notify.tests.unit.plugins.smtp_servers import (
    PASSWORD,
    QUEUE_ID,
    USERNAME,
    ScriptedServer,
    SmtpServer,
    closed_port,
    script_banner,
    script_drop_at_starttls,
    script_hang,
    script_http,
    script_reply_to,
)

SENDER = "alerts@example.test"
RCPT = "ops@example.test"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


SECRET_FORMS = [PASSWORD, b64(PASSWORD), b64(f"\0{USERNAME}\0{PASSWORD}"), b64(f"{USERNAME}\0{USERNAME}\0{PASSWORD}")]


def assert_no_secret(result: dict) -> None:
    dumped = json.dumps(result)
    for form in SECRET_FORMS:
        assert form not in dumped


def opts(port: int, **kwargs) -> SmtpOptions:
    base = {"host": "127.0.0.1", "port": port, "security": "starttls", "timeout": 3.0, "mail_from": SENDER, "rcpt_to": [RCPT]}
    base.update(kwargs)
    return SmtpOptions(**base)


# ---------------------------------------------------------------------------------------------------------------------
# pure helpers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mx.example.test\nPIPELINING\nSIZE 1000\nSTARTTLS", ["PIPELINING", "SIZE 1000", "STARTTLS"]),
        ("mx.example.test", []),
        ("", []),
        ("mx\n AUTH PLAIN LOGIN \n", ["AUTH PLAIN LOGIN"]),
    ],
)
def test_parse_ehlo(text, expected):
    assert parse_ehlo(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.0.0 Ok: queued as 4FQ2Z1XK9C", "4FQ2Z1XK9C"),
        ("Ok: queued as 3Z9Kq54vBdz9sG1", "3Z9Kq54vBdz9sG1"),
        ("OK id=1rXyZa-0003kD-2Q", "1rXyZa-0003kD-2Q"),
        ("Ok 0102018f2e4c5d6e-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d-000000", "0102018f2e4c5d6e-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d-000000"),
        ("2.0.0 Ok: queued as <ABC123@mx>", "ABC123@mx"),
        ("Message accepted for delivery", None),
        ("", None),
    ],
)
def test_parse_queue_id(text, expected):
    assert parse_queue_id(text) == expected


def test_build_secrets_and_redact():
    secrets = build_secrets("u", "pw-123")
    assert set(secrets) == {"pw-123", b64("pw-123"), b64("\0u\0pw-123"), b64("u\0u\0pw-123")}
    assert build_secrets("u", None) == []
    value = {"a": [f"x {b64('pw-123')} y", ("pw-123",)], "pw-123": 1, "n": 3}
    assert redact(value, secrets) == {"a": [f"x {MASK} y", (MASK,)], MASK: 1, "n": 3}
    assert redact(value, []) is value


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"security": "try"}, "security must be one of"),
        ({"port": 70000}, "port must be between"),
        ({"auth_mechanism": "ntlm"}, "auth_mechanism must be one of"),
        ({"quit_after": "dot"}, "quit_after must be one of"),
        ({"tls_min_version": "SSLv3"}, "tls_min_version must be one of"),
        ({"timeout": 0}, "timeout must be a positive"),
        ({"username": "u"}, "username and password must be given together"),
        ({"security": "none", "username": "u", "password": "p"}, "allow_plaintext_auth"),
        ({"security": "none", "quit_after": "tls"}, "quit_after 'tls' needs"),
        ({"quit_after": "auth"}, "quit_after 'auth' needs username"),
        ({"client_key": "/k.pem"}, "client_key needs client_cert"),
        ({"mail_from": None}, "mail_from is required"),
        ({"rcpt_to": []}, "rcpt_to is required"),
        ({"rcpt_to": ["a@b>\r\nDATA"]}, "invalid address"),
        ({"headers": {"X-Bad": "a\r\nBcc: evil@example.test"}}, "invalid header"),
        ({"host": ""}, "host must not be empty"),
    ],
)
def test_invalid_options_fail_before_connecting(kwargs, message):
    kwargs = {"port": 1, **kwargs}
    port = kwargs.pop("port")
    with pytest.raises(SmtpConfigError, match=message):
        run_session(opts(port, **kwargs))


@pytest.mark.parametrize(("security", "port"), [("none", 25), ("starttls", 587), ("tls", 465)])
def test_default_ports(security, port):
    options = SmtpOptions(host="x", security=security, quit_after="connect")
    options.validate()
    assert options.port == port


def test_check_mode_never_reaches_data():
    assert SmtpOptions(host="x", check_mode=True).effective_quit_after == "rcpt"
    assert SmtpOptions(host="x", check_mode=True, quit_after="mail").effective_quit_after == "mail"
    assert SmtpOptions(host="x").effective_quit_after == "data"


def test_transcript_info():
    transcript = Transcript()
    transcript.info("hello")
    transcript.add("->", "EHLO x")
    assert transcript.entries == [{"dir": "**", "text": "hello"}, {"dir": "->", "text": "EHLO x"}]


# ---------------------------------------------------------------------------------------------------------------------
# real sessions against aiosmtpd


@pytest.mark.parametrize("mechanism", ["auto", "plain", "login"])
def test_starttls_auth_send(certs, mechanism):
    with SmtpServer(certs, mode="starttls") as server:
        session = run_session(
            opts(server.port, username=USERNAME, password=PASSWORD, auth_mechanism=mechanism, ca_path=certs.ca_file, headers={"X-Ticket": "OPS-1"})
        )
        result = session.as_dict()
        assert result["stage_failed"] is None, result["msg"]
        assert [s["name"] for s in result["stages"]] == ["connect", "banner", "ehlo", "tls", "ehlo", "auth", "mail", "rcpt", "data", "quit"]
        assert all(s["ok"] for s in result["stages"])
        assert result["auth_mechanism"] == ("PLAIN" if mechanism == "auto" else mechanism.upper())
        assert "STARTTLS" in result["capabilities"]["before_tls"]
        assert not any(k.startswith("AUTH") for k in result["capabilities"]["before_tls"])
        assert "AUTH LOGIN PLAIN" in result["capabilities"]["after_tls"]
        assert result["tls"]["verified"] is True and result["tls"]["version"].startswith("TLSv1.")
        assert result["tls"]["peer_cert_issuer"].startswith("O=trustme")
        assert result["queue_id"] == QUEUE_ID
        assert result["sent"] is True and result["diagnosis"] is None
        assert result["recipients"] == {RCPT: {"accepted": True, "code": 250, "enhanced_code": "2.1.5", "text": "2.1.5 Ok"}}
        assert {"dir": "->", "text": f"AUTH {result['auth_mechanism']} {MASK}"} in result["transcript"] or {
            "dir": "->",
            "text": f"AUTH {result['auth_mechanism']}",
        } in result["transcript"]
        assert_no_secret(result)
        assert len(server.messages) == 1
        content = server.messages[0]["content"]
        assert f"Message-ID: {result['message_id']}" in content
        assert f"X-Mailops-Notify-Token: {result['token']}" in content
        assert result["token"] in result["message_id"]
        assert "X-Ticket: OPS-1" in content


def test_implicit_tls_send(certs):
    with SmtpServer(certs, mode="tls") as server:
        result = run_session(opts(server.port, security="tls", username=USERNAME, password=PASSWORD, ca_path=certs.ca_file)).as_dict()
        assert result["stage_failed"] is None, result["msg"]
        assert [s["name"] for s in result["stages"]][:4] == ["connect", "tls", "banner", "ehlo"]
        assert result["capabilities"]["before_tls"] == []
        assert any(k.startswith("AUTH") for k in result["capabilities"]["after_tls"])
        assert len(server.messages) == 1
        assert_no_secret(result)


def test_self_signed_passes_with_ca_path_only(certs):
    with SmtpServer(certs, mode="starttls") as server:
        default = run_session(opts(server.port, quit_after="tls")).as_dict()
        with_ca = run_session(opts(server.port, quit_after="tls", ca_path=certs.ca_file)).as_dict()
    assert default["stage_failed"] == "tls"
    assert default["diagnosis"]["code"] == "cert_untrusted"
    assert default["tls"]["verified"] is False and default["tls"]["verify_error"]
    assert with_ca["stage_failed"] is None and with_ca["tls"]["verified"] is True


def test_validate_certs_false_reports_unverified(certs):
    with SmtpServer(certs, mode="starttls", leaf="self_signed") as server:
        result = run_session(opts(server.port, validate_certs=False, quit_after="ehlo")).as_dict()
    assert result["stage_failed"] is None
    assert result["tls"]["verified"] is False
    assert result["tls"]["peer_cert_subject"]  # decoded with cryptography
    assert any("NOT verified" in e["text"] for e in result["transcript"])


def test_check_mode_sends_no_data(certs):
    with SmtpServer(certs, mode="starttls") as server:
        result = run_session(opts(server.port, ca_path=certs.ca_file, username=USERNAME, password=PASSWORD, check_mode=True)).as_dict()
        assert result["stage_failed"] is None
        assert [s["name"] for s in result["stages"]][-2:] == ["rcpt", "quit"]
        assert result["sent"] is False and result["would_send"] is True
        assert server.messages == []
        assert "DATA" not in server.handler.commands
        assert not any(e["text"].upper() == "DATA" for e in result["transcript"])


@pytest.mark.parametrize(
    ("quit_after", "last"),
    [("connect", "connect"), ("banner", "banner"), ("ehlo", "ehlo"), ("tls", "tls"), ("auth", "auth"), ("mail", "mail"), ("rcpt", "rcpt")],
)
def test_quit_after(certs, quit_after, last):
    with SmtpServer(certs, mode="starttls") as server:
        result = run_session(opts(server.port, ca_path=certs.ca_file, username=USERNAME, password=PASSWORD, quit_after=quit_after)).as_dict()
        assert result["stage_failed"] is None
        names = [s["name"] for s in result["stages"]]
        assert names[-1] == ("quit" if quit_after != "connect" else "connect")
        assert last in names
        assert STAGE_ORDER.index(names[-2 if quit_after != "connect" else -1]) <= STAGE_ORDER.index(last)
        assert server.messages == []


STAGE_ORDER = ["connect", "banner", "ehlo", "tls", "auth", "mail", "rcpt", "data", "quit"]


def test_rejected_recipient_fails_and_sends_nothing(certs):
    with SmtpServer(certs, mode="starttls") as server:
        result = run_session(opts(server.port, ca_path=certs.ca_file, rcpt_to=[RCPT, "nobody@example.test"])).as_dict()
        assert result["stage_failed"] == "rcpt"
        assert result["diagnosis"]["code"] == "unknown_recipient"
        assert result["recipients"]["nobody@example.test"]["accepted"] is False
        assert result["recipients"]["nobody@example.test"]["enhanced_code"] == "5.1.1"
        assert result["recipients"][RCPT]["accepted"] is True
        assert server.messages == []


def test_rejected_recipient_tolerated(certs):
    with SmtpServer(certs, mode="starttls") as server:
        options = opts(server.port, ca_path=certs.ca_file, rcpt_to=[RCPT, "nobody@example.test"], fail_on_rejected_recipient=False)
        result = run_session(options).as_dict()
        assert result["stage_failed"] is None and result["sent"] is True
        assert result["diagnosis"]["code"] == "unknown_recipient"
        assert server.messages[0]["rcpt_tos"] == [RCPT]


def test_plaintext_auth_allowed_explicitly():
    with SmtpServer(None, mode="plain", auth_require_tls=False) as server:
        options = opts(server.port, security="none", username=USERNAME, password=PASSWORD, allow_plaintext_auth=True, auth_mechanism="login")
        result = run_session(options).as_dict()
        assert result["stage_failed"] is None, result["msg"]
        assert result["tls"] is None
        assert len(server.messages) == 1
        assert_no_secret(result)
        auth_lines = [e["text"] for e in result["transcript"] if e["dir"] == "->" and (e["text"].startswith("AUTH") or e["text"] == MASK)]
        assert auth_lines == [f"AUTH LOGIN {MASK}", MASK]


def test_failed_starttls_never_sends_in_clear():
    with ScriptedServer(script_drop_at_starttls) as server:
        result = run_session(opts(server.port, username=USERNAME, password=PASSWORD)).as_dict()
    assert result["stage_failed"] == "tls"
    assert result["diagnosis"]["code"] == "connection_closed"
    assert not any(line.upper().startswith(("MAIL", "AUTH", "RCPT", "DATA")) for line in server.received)


# ---------------------------------------------------------------------------------------------------------------------
# every diagnosis code through a real socket


@contextlib.contextmanager
def nothing():
    yield None


def scenario_server(kind, certs):
    if kind is None:
        return nothing()
    if callable(kind):
        return ScriptedServer(kind)
    name, kwargs = kind
    return SmtpServer(certs, **kwargs) if name == "aiosmtpd" else pytest.fail("bad scenario")


SCENARIOS = [
    # (diagnosis, server, options, stage_failed)
    ("connection_refused", None, {"port": "closed"}, "connect"),
    ("dns_failure", None, {"host": "no-such-relay.invalid", "port": 587}, "connect"),
    # TCP to the IPv4 broadcast address: the kernel answers ENETUNREACH without sending anything.
    ("no_route", None, {"host": "255.255.255.255", "port": 25, "security": "none"}, "connect"),
    ("timeout", script_hang, {"security": "none", "timeout": 1.0}, "banner"),
    ("connection_closed", script_drop_at_starttls, {}, "tls"),
    ("protocol_error", script_http, {"security": "none", "timeout": 1.0}, "banner"),
    ("rejected", script_banner("554 No SMTP service here"), {"security": "none"}, "banner"),
    ("temporary_failure", script_banner("421 4.3.2 Service not available, closing transmission channel"), {"security": "none"}, "banner"),
    ("tls_on_starttls_port", ("aiosmtpd", {"mode": "starttls"}), {"security": "tls"}, "tls"),
    ("starttls_on_tls_port", ("aiosmtpd", {"mode": "tls"}), {"security": "starttls", "timeout": 1.0}, "banner"),
    ("starttls_not_offered", ("aiosmtpd", {"mode": "plain"}), {"security": "starttls"}, "tls"),
    ("tls_handshake_failed", ("aiosmtpd", {"mode": "starttls", "max_tls_version": ssl.TLSVersion.TLSv1_2}), {"tls_min_version": "TLSv1.3", "ca": True}, "tls"),
    ("cert_untrusted", ("aiosmtpd", {"mode": "starttls", "leaf": "self_signed"}), {"ca": True}, "tls"),
    ("cert_expired", ("aiosmtpd", {"mode": "tls", "leaf": "expired"}), {"security": "tls", "ca": True}, "tls"),
    ("cert_hostname_mismatch", ("aiosmtpd", {"mode": "starttls", "leaf": "wrong_name"}), {"ca": True}, "tls"),
    (
        "auth_not_offered",
        script_reply_to("NOOP", "250 ok", ehlo=("PIPELINING", "8BITMIME")),
        {"security": "none", "allow_plaintext_auth": True, "auth": True},
        "auth",
    ),
    ("auth_not_offered", ("aiosmtpd", {"mode": "starttls"}), {"ca": True, "auth": True, "auth_mechanism": "cram-md5"}, "auth"),
    (
        "auth_requires_tls",
        ("aiosmtpd", {"mode": "starttls"}),
        {"security": "none", "allow_plaintext_auth": True, "auth": True},
        "auth",
    ),
    ("must_issue_starttls", ("aiosmtpd", {"mode": "starttls", "require_starttls": True}), {"security": "none"}, "mail"),
    ("must_issue_starttls", script_reply_to("MAIL", "530 5.7.0 Must issue a STARTTLS command first"), {"security": "none"}, "mail"),
    ("auth_required", ("aiosmtpd", {"mode": "starttls", "auth_required": True}), {"ca": True}, "mail"),
    ("auth_failed", ("aiosmtpd", {"mode": "starttls"}), {"ca": True, "auth": True, "password": "wrong-" + PASSWORD}, "auth"),
    ("auth_failed", ("aiosmtpd", {"mode": "starttls"}), {"ca": True, "auth": True, "password": "wrong-" + PASSWORD, "auth_mechanism": "login"}, "auth"),
    (
        "auth_failed",
        script_reply_to("AUTH", "534 5.7.9 Application-specific password required."),
        {"security": "none", "allow_plaintext_auth": True, "auth": True},
        "auth",
    ),
    ("relay_denied", ("aiosmtpd", {"mode": "starttls"}), {"ca": True, "rcpt_to": ["someone@elsewhere.test"]}, "rcpt"),
    (
        "relay_denied",
        script_reply_to("DATA", "554 Access denied: User arn:aws:iam::123456789012:user/ses is not authorized to perform ses:SendRawEmail"),
        {"security": "none"},
        "data",
    ),
    ("relay_denied", script_reply_to("RCPT", "553 Relaying disallowed"), {"security": "none"}, "rcpt"),
    ("sender_not_allowed", ("aiosmtpd", {"mode": "starttls"}), {"ca": True, "mail_from": "notallowed@example.test"}, "mail"),
    ("unknown_recipient", ("aiosmtpd", {"mode": "starttls"}), {"ca": True, "rcpt_to": ["nobody@example.test"]}, "rcpt"),
    ("temporary_failure", ("aiosmtpd", {"mode": "starttls"}), {"ca": True, "mail_from": "busy@example.test"}, "mail"),
    ("message_rejected", ("aiosmtpd", {"mode": "starttls", "data_reply": "552 5.3.4 Message size exceeds fixed limit"}), {"ca": True}, "data"),
]


@pytest.mark.parametrize(("code", "server_kind", "options", "stage_failed"), SCENARIOS, ids=[f"{s[0]}-{i}" for i, s in enumerate(SCENARIOS)])
def test_diagnosis_through_real_socket(certs, code, server_kind, options, stage_failed):
    options = dict(options)
    server_kwargs = dict(server_kind[1]) if isinstance(server_kind, tuple) else None
    data_reply = server_kwargs.pop("data_reply", None) if server_kwargs else None
    kind = ("aiosmtpd", server_kwargs) if server_kwargs is not None else server_kind
    with scenario_server(kind, certs) as server:
        if data_reply and server is not None:
            server.handler.data_reply = data_reply
        port = options.pop("port", None)
        if port == "closed":
            port = closed_port()
        elif port is None:
            port = server.port
        if options.pop("ca", False):
            options["ca_path"] = certs.ca_file
        if options.pop("auth", False):
            options["username"] = USERNAME
            options.setdefault("password", PASSWORD)
        session = run_session(opts(port, **options))
        result = session.as_dict()
        if isinstance(server, SmtpServer):
            assert server.messages == []
    assert result["stage_failed"] == stage_failed, result["msg"]
    assert result["diagnosis"] == CATALOGUE[code].as_dict(), result["msg"]
    assert result["sent"] is False
    assert result["stages"][-1]["ok"] is False or result["stages"][-1]["name"] == "quit"
    assert code in result["msg"]
    assert_no_secret(result)
    # the wrong password must not leak either
    assert "wrong-" + PASSWORD not in json.dumps(result)
    assert b64("wrong-" + PASSWORD) not in json.dumps(result)


def test_every_catalogue_code_is_covered():
    covered = {s[0] for s in SCENARIOS}
    # sasl_no_mechanism only exists in Postfix logs (client side SASL library) and unknown is the fallback for
    # the unexpected; both are covered by test__diagnosis.py.
    assert set(CATALOGUE) - covered == {"sasl_no_mechanism", "unknown"}
