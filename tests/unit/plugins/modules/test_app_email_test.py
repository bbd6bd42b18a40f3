# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""app_email_test end to end: Ansible's open_url and run_command against the real Alertmanager, the Mattermost stand-in
and the gitlab-rails stand-in (Debian's Ruby and Mail gem), every message landing in aiosmtpd on loopback."""

from __future__ import annotations

import json
import pathlib
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._app_test import HOP_APP, HOP_MAILBOX, HOP_SMTP, MATTERMOST_SUBJECT
from ansible_collections.mailops.notify.plugins.modules import app_email_test
from ansible_collections.mailops.notify.tests.unit.plugins.app_test_servers import (
    Alertmanager,
    alertmanager_config,
    gitlab_rails_wrapper,
    header_of,
    load_mattermost_standin,
    subject_of,
    wait_for,
)
from ansible_collections.mailops.notify.tests.unit.plugins.module_runner import run_module
from ansible_collections.mailops.notify.tests.unit.plugins.smtp_servers import SmtpServer, closed_port

API_TOKEN = "w4ud8hq1zpbn3x7kcm5tf2yr9e"
STANDIN = load_mattermost_standin()


def run(args: dict, **kwargs):
    return run_module(app_email_test.main, args, secrets=[API_TOKEN], warnings=True, **kwargs)


@pytest.fixture
def smtp():
    with SmtpServer(mode="plain", auth=False) as server:
        yield server


@pytest.fixture
def mattermost(smtp):
    standin = STANDIN.MattermostStandin(token=API_TOKEN, email_address="admin@example.test", smtp_port=smtp.port).start()
    yield standin
    standin.stop()


@pytest.fixture
def gitlab(tmp_path: pathlib.Path, smtp, monkeypatch):
    monkeypatch.setenv("GITLAB_STANDIN_SMTP", f"127.0.0.1:{smtp.port}")
    return gitlab_rails_wrapper(tmp_path)


@pytest.fixture
def alertmanager(tmp_path: pathlib.Path, smtp):
    with Alertmanager(tmp_path, alertmanager_config(smtp.port, closed_port())) as instance:
        yield instance


def test_secret_options_are_no_log() -> None:
    spec = app_email_test.argument_spec()
    assert spec["api_token"]["no_log"] is True and spec["token"]["no_log"] is False


# ---------------------------------------------------------------------------------------------------------------------
# Check mode and refusals contact nothing


def test_check_mode_contacts_nothing(mattermost, alertmanager, tmp_path: pathlib.Path, smtp) -> None:
    marker = tmp_path / "ran"
    runner = tmp_path / "gitlab-rails-marker"
    runner.write_text(f"#!/bin/sh\ntouch {marker}\n", encoding="utf-8")
    runner.chmod(0o755)
    cases = [
        {"app": "mattermost", "api_url": mattermost.url, "api_token": API_TOKEN},
        {"app": "gitlab", "to": "ops@example.test", "gitlab_rails": str(runner)},
        {"app": "alertmanager", "api_url": alertmanager.url, "labels": {"severity": "critical"}, "wait_timeout": 5},
    ]
    for args in cases:
        failed, result = run(args, check_mode=True)
        assert not failed and result["changed"] is True and result["msg"].startswith("check mode: would "), result
        assert result["proved"] == [] and result["answer"] is None
    assert mattermost.requests == [] and not marker.exists() and smtp.messages == []
    with urllib.request.urlopen(f"{alertmanager.url}/api/v2/alerts", timeout=5) as answer:
        alerts = json.loads(answer.read())
    assert alerts == []


@pytest.mark.parametrize("app", ["ghes", "gitea"])
def test_applications_without_a_test_api_are_refused(app: str) -> None:
    failed, result = run({"app": app, "to": "ops@example.test"})
    assert failed and "cannot send a test email itself" in result["msg"] and "mailops.notify.smtp_test" in result["msg"]
    assert result["app"] == app


@pytest.mark.parametrize(
    "args, option",
    [
        ({"app": "mattermost", "api_url": "https://mm.example.test\u2028x", "api_token": API_TOKEN}, "api_url"),
        ({"app": "mattermost", "api_url": "https://mm.example.test", "api_token": API_TOKEN + "\r\nX-Evil: 1"}, "api_token"),
        ({"app": "gitlab", "to": "ops@example.test\r\nBcc: victim@example.test"}, "to"),
        ({"app": "gitlab", "to": "ops@example.test", "subject": "x\x85Bcc: victim@example.test"}, "subject"),
        ({"app": "alertmanager", "labels": {"team": "ops\nx"}}, "labels.team"),
    ],
)
def test_bad_input_fails_before_anything_is_contacted(mattermost, gitlab, smtp, args: dict, option: str) -> None:
    if args["app"] == "mattermost":
        args = {**args, "api_url": args["api_url"].replace("https://mm.example.test", mattermost.url)}
    if args["app"] == "gitlab":
        args = {**args, "gitlab_rails": gitlab}
    failed, result = run(args)
    assert failed and result["option"] == option and f"Invalid options for app={args['app']}: {option}" in result["msg"]
    assert mattermost.requests == [] and smtp.messages == []


# ---------------------------------------------------------------------------------------------------------------------
# Mattermost


def test_mattermost_round_trip(mattermost, smtp) -> None:
    failed, result = run({"app": "mattermost", "api_url": mattermost.url + "/", "api_token": API_TOKEN})
    assert not failed and result["changed"] is True, result
    assert result["proved"] == [HOP_APP, HOP_SMTP] and result["not_proved"] == [HOP_MAILBOX]
    assert result["token"] is None and result["follow"]["recipient"] == "admin@example.test"
    assert result["answer"]["body"] == {"status": "OK"}
    [message] = smtp.messages
    assert message["rcpt_tos"] == ["admin@example.test"] and subject_of(message["content"]) == MATTERMOST_SUBJECT


def test_mattermost_smtp_failure_returns_the_evidence(mattermost, smtp) -> None:
    mattermost.config["EmailSettings"]["SMTPPort"] = str(closed_port())
    mattermost.leak_token = True  # the module must mask the token whatever the server echoes
    failed, result = run({"app": "mattermost", "api_url": mattermost.url, "api_token": API_TOKEN})
    assert failed and result["failed_hop"] == HOP_SMTP and result["proved"] == [HOP_APP] and result["changed"] is False
    assert "Connection unsuccessful" in result["msg"] and result["answer"]["status"] == 500
    assert result["follow"]["recipient"] == "admin@example.test"
    assert smtp.messages == []


def test_mattermost_bad_token(mattermost) -> None:
    failed, result = run({"app": "mattermost", "api_url": mattermost.url, "api_token": "x" * 26})
    assert failed and result["failed_hop"] == HOP_APP and "refused api_token (401)" in result["msg"]


class _Redirect(BaseHTTPRequestHandler):
    target = ""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET


def test_redirects_are_not_followed_so_the_token_stays(mattermost) -> None:
    """A redirect to another host would carry the Authorization header there; the module stops at the 302."""
    handler = type("Redirect", (_Redirect,), {"target": mattermost.url})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        failed, result = run({"app": "mattermost", "api_url": f"http://127.0.0.1:{server.server_address[1]}", "api_token": API_TOKEN})
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert failed and "HTTP 302" in result["msg"] and result["failed_hop"] == HOP_APP
    assert mattermost.requests == []


def test_unreachable_application(tmp_path: pathlib.Path) -> None:
    failed, result = run({"app": "mattermost", "api_url": f"http://127.0.0.1:{closed_port()}", "api_token": API_TOKEN, "timeout": 5})
    assert failed and result["msg"].startswith("cannot reach ") and result["failed_hop"] == HOP_APP and result["proved"] == []


# ---------------------------------------------------------------------------------------------------------------------
# GitLab


def test_gitlab_round_trip_with_a_hostile_subject(gitlab, smtp) -> None:
    subject = 'Ops\' "test" #{`id`} \\ Grüße'
    failed, result = run({"app": "gitlab", "to": "ops@example.test", "subject": subject, "gitlab_rails": gitlab})
    assert not failed and result["changed"] is True, result
    assert result["proved"] == [HOP_APP, HOP_SMTP] and result["token_in_subject"] is True
    [message] = smtp.messages
    assert subject_of(message["content"]) == f"{subject} [{result['token']}]" == result["follow"]["subject"]
    assert header_of(message["content"], "Message-ID") == f"<{result['follow']['message_id']}>"


def test_gitlab_smtp_failure(gitlab, monkeypatch) -> None:
    monkeypatch.setenv("GITLAB_STANDIN_SMTP", f"127.0.0.1:{closed_port()}")
    failed, result = run({"app": "gitlab", "to": "ops@example.test", "gitlab_rails": gitlab})
    assert failed and result["failed_hop"] == HOP_SMTP and "Errno::ECONNREFUSED" in result["msg"] and result["answer"]["rc"] == 1


def test_gitlab_runner_is_bounded_in_time(tmp_path: pathlib.Path) -> None:
    slow = tmp_path / "gitlab-rails"
    slow.write_text("#!/bin/sh\nsleep 60\n", encoding="utf-8")
    slow.chmod(0o755)
    failed, result = run({"app": "gitlab", "to": "ops@example.test", "gitlab_rails": str(slow), "timeout": 1})
    assert failed and "did not finish within 1 seconds" in result["msg"]


def test_gitlab_rails_missing(tmp_path: pathlib.Path) -> None:
    failed, result = run({"app": "gitlab", "to": "ops@example.test", "gitlab_rails": str(tmp_path / "nothing")})
    assert failed and "is not an executable file" in result["msg"]


# ---------------------------------------------------------------------------------------------------------------------
# Alertmanager (the real one)


def test_alertmanager_round_trip(alertmanager, smtp) -> None:
    failed, result = run({"app": "alertmanager", "api_url": alertmanager.url, "labels": {"severity": "critical"}, "wait_timeout": 20})
    assert not failed and result["proved"] == [HOP_APP, HOP_SMTP], (result, alertmanager.log)
    assert result["answer"]["receivers"] == ["ops-email"]
    assert wait_for(lambda: smtp.messages)
    assert result["token"] in subject_of(smtp.messages[0]["content"])


def test_alertmanager_failure(alertmanager, smtp) -> None:
    failed, result = run({"app": "alertmanager", "api_url": alertmanager.url, "labels": {"team": "broken"}, "wait_timeout": 20})
    assert failed and result["failed_hop"] == HOP_SMTP and result["changed"] is True and result["proved"] == [HOP_APP]
