# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import json
import time

import pytest

from ansible_collections.mailops.notify.plugins.modules import smtp_test
from ansible_collections.mailops.notify.tests.unit.plugins.module_runner import run_module as _run
from ansible_collections.mailops.notify.tests.unit.plugins.smtp_servers import (
    PASSWORD,
    QUEUE_ID,
    USERNAME,
    UTF8_PASSWORD,
    UTF8_USERNAME,
    ScriptedServer,
    SmtpServer,
    closed_port,
    script_huge_banner,
    script_reply_to,
    script_trickle_ehlo,
)

RESULT_KEYS = {
    "changed", "msg", "host", "port", "security", "stages", "stage_failed", "transcript", "capabilities", "tls", "auth_mechanism",
    "recipients", "queue_id", "message_id", "token", "sent", "would_send", "diagnosis",
}  # fmt: skip


def run_module(args: dict, *, check_mode: bool = False) -> tuple[bool, dict]:
    return _run(smtp_test.main, args, check_mode=check_mode)


def assert_clean(result: dict, *extra: str) -> None:
    dumped = json.dumps(result)
    forms = [PASSWORD, base64.b64encode(PASSWORD.encode()).decode(), base64.b64encode(f"\0{USERNAME}\0{PASSWORD}".encode()).decode(), *extra]
    for form in forms:
        assert form not in dumped


def base_args(port: int, certs, **kwargs) -> dict:
    args = {
        "host": "127.0.0.1",
        "port": port,
        "username": USERNAME,
        "password": PASSWORD,
        "ca_path": certs.ca_file,
        "helo": "client.example.test",
        "mail_from": "alerts@example.test",
        "rcpt_to": ["ops@example.test"],
        "timeout": 3,
    }
    args.update(kwargs)
    return args


def test_send(certs):
    with SmtpServer(certs, mode="starttls") as server:
        failed, result = run_module(base_args(server.port, certs))
        assert len(server.messages) == 1
    assert not failed, result["msg"]
    assert set(result) == RESULT_KEYS
    assert result["changed"] is True and result["sent"] is True
    assert result["queue_id"] == QUEUE_ID
    assert result["stage_failed"] is None and result["diagnosis"] is None
    assert {"dir": "->", "text": "EHLO client.example.test"} in result["transcript"]
    assert result["msg"].startswith(f"Message {result['message_id']} accepted")
    assert_clean(result)


def test_check_mode_sends_no_message(certs):
    with SmtpServer(certs, mode="starttls") as server:
        failed, result = run_module(base_args(server.port, certs), check_mode=True)
        assert server.messages == []
        assert "DATA" not in server.handler.commands
    assert not failed
    assert result["changed"] is True and result["sent"] is False and result["would_send"] is True
    assert result["stages"][-2]["name"] == "rcpt"


def test_probe_only_is_not_changed(certs):
    with SmtpServer(certs, mode="starttls") as server:
        failed, result = run_module(base_args(server.port, certs, quit_after="auth"))
    assert not failed and result["changed"] is False
    assert result["auth_mechanism"] == "PLAIN"


@pytest.mark.parametrize("mechanism", ["plain", "login"])
def test_auth_failure_is_structured_and_redacted(certs, mechanism):
    wrong = "Wr0ng-" + PASSWORD
    with SmtpServer(certs, mode="starttls") as server:
        failed, result = run_module(base_args(server.port, certs, password=wrong, auth_mechanism=mechanism))
        assert server.messages == []
    assert failed
    assert set(result) == RESULT_KEYS | {"failed"}
    assert result["stage_failed"] == "auth"
    assert result["diagnosis"]["code"] == "auth_failed"
    assert result["stages"][-1] == {
        "name": "auth",
        "ok": False,
        "code": 535,
        "enhanced_code": "5.7.8",
        "text": "5.7.8 Error: authentication failed: authentication failure",
        "elapsed_ms": result["stages"][-1]["elapsed_ms"],
    }
    assert_clean(result, wrong, base64.b64encode(wrong.encode()).decode(), base64.b64encode(f"\0{USERNAME}\0{wrong}".encode()).decode())


def test_refused_is_structured():
    port = closed_port()
    failed, result = run_module({"host": "127.0.0.1", "port": port, "security": "none", "mail_from": "a@example.test", "rcpt_to": ["b@example.test"]})
    assert failed
    assert set(result) == RESULT_KEYS | {"failed"}
    assert result["stage_failed"] == "connect"
    assert result["diagnosis"]["code"] == "connection_refused"
    assert result["changed"] is False


def test_plaintext_credentials_rejected_before_connecting():
    args = {"host": "127.0.0.1", "port": closed_port(), "security": "none", "username": USERNAME, "password": PASSWORD, "quit_after": "auth"}
    failed, result = run_module(args)
    assert failed
    assert set(result) == RESULT_KEYS | {"failed"}
    assert "allow_plaintext_auth" in result["msg"]
    assert result["stages"] == [] and result["transcript"] == []
    assert_clean(result)


def test_self_signed_fails_by_default_and_passes_with_ca_path(certs):
    with SmtpServer(certs, mode="tls") as server:
        args = base_args(server.port, certs, security="tls", quit_after="ehlo")
        del args["ca_path"]
        failed, result = run_module(args)
        assert failed and result["diagnosis"]["code"] == "cert_untrusted" and result["stage_failed"] == "tls"
        failed, result = run_module(base_args(server.port, certs, security="tls", quit_after="ehlo"))
        assert not failed and result["tls"]["verified"] is True


def test_rejected_recipient_option(certs):
    with SmtpServer(certs, mode="starttls") as server:
        args = base_args(server.port, certs, rcpt_to=["ops@example.test", "nobody@example.test"])
        failed, result = run_module(args)
        assert failed and result["diagnosis"]["code"] == "unknown_recipient" and server.messages == []
        failed, result = run_module({**args, "fail_on_rejected_recipient": False})
        assert not failed and result["sent"] is True
        assert result["recipients"]["nobody@example.test"]["accepted"] is False
        assert len(server.messages) == 1


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode()


@pytest.mark.parametrize("mechanism", ["plain", "login"])
def test_utf8_credentials_work_and_are_masked(certs, mechanism):
    with SmtpServer(certs, mode="starttls") as server:
        failed, result = run_module(base_args(server.port, certs, username=UTF8_USERNAME, password=UTF8_PASSWORD, auth_mechanism=mechanism))
        assert len(server.messages) == 1
    assert not failed, result["msg"]
    assert result["auth_mechanism"] == mechanism.upper()
    forms = [
        UTF8_PASSWORD,
        b64(UTF8_PASSWORD),
        b64(f"\0{UTF8_USERNAME}\0{UTF8_PASSWORD}"),
        b64(f"{UTF8_USERNAME}\0{UTF8_USERNAME}\0{UTF8_PASSWORD}"),
        json.dumps(UTF8_PASSWORD)[1:-1],
    ]
    for dumped in (json.dumps(result), json.dumps(result, ensure_ascii=False)):
        for form in forms:
            assert form not in dumped


def test_failed_auth_renders_the_reply_not_bytes(certs):
    with SmtpServer(certs, mode="starttls") as server:
        failed, result = run_module(base_args(server.port, certs, password="Wr0ng-" + PASSWORD))
    assert failed and result["diagnosis"]["code"] == "auth_failed"
    assert "AUTH PLAIN failed: 535 5.7.8 Error: authentication failed: authentication failure" in result["msg"]
    assert "b'" not in result["msg"] and 'b"' not in result["msg"]
    assert "b'" not in json.dumps(result)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("subject", "Test\r\nBcc: victim@example.test", "subject contains a line break (U+000D) at position 4"),
        ("subject", "Test\u2028Bcc: victim@example.test", "subject contains a line break (U+2028)"),
        ("helo", "client.example.test\nMAIL FROM:<x@y>", "helo: "),
        ("headers", {"X-Ticket": "OPS-1\x85Bcc: victim@example.test"}, 'headers: invalid header "X-Ticket": its value contains a line break (U+0085)'),
        ("mail_from", "alerts@example.test\x00", "mail_from: invalid address"),
        ("host", "smtp..example.test", "host 'smtp..example.test' has an empty label"),
        ("port", 0, "port must be between 1 and 65535, not 0"),
        ("port", 65536, "port must be between 1 and 65535, not 65536"),
        ("timeout", 0, "timeout must be a positive number"),
        ("timeout", -3, "timeout must be a positive number"),
    ],
)
def test_bad_values_fail_before_connecting(certs, option, value, message):
    with ScriptedServer(script_reply_to("NOOP", "250 ok")) as server:
        args = {**base_args(server.port, certs), option: value}
        failed, result = run_module(args)
        assert server.connections == []
    assert failed
    assert result["msg"].startswith("Invalid options: ") and message in result["msg"], result["msg"]
    assert result["stages"] == [] and result["transcript"] == []
    assert_clean(result)


def test_trickled_ehlo_with_timeout_3_is_bounded():
    # The finding: timeout 3 against a server trickling an endless EHLO reply ran 64-79 s.
    with ScriptedServer(script_trickle_ehlo()) as server:
        start = time.monotonic()
        failed, result = run_module({"host": "127.0.0.1", "port": server.port, "security": "none", "quit_after": "ehlo", "timeout": 3})
        elapsed = time.monotonic() - start
    assert failed
    assert elapsed < 3 + 1.5, elapsed
    assert result["stage_failed"] == "ehlo" and result["diagnosis"]["code"] == "timeout"
    assert len(json.dumps(result)) < 16 * 1024


def test_huge_banner_result_stays_small():
    with ScriptedServer(script_huge_banner()) as server:
        failed, result = run_module({"host": "127.0.0.1", "port": server.port, "security": "none", "quit_after": "ehlo", "timeout": 3})
    assert failed and result["diagnosis"]["code"] == "protocol_error"
    assert len(json.dumps(result)) < 16 * 1024
