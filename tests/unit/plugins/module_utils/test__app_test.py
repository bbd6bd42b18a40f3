# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_app_test: the rules on every option, and each application's test against a real counterpart on loopback.

Alertmanager is the real Debian binary. Mattermost and GitLab cannot run here: Mattermost is the stand-in HTTP server of
the integration target, which sends a real SMTP message with smtplib, and GitLab's runner is the stand-in Ruby script,
which evaluates the module's Ruby snippet with Debian's Ruby and Mail gem. Every message lands in aiosmtpd.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import subprocess

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._app_test import (
    GITLAB_RUBY,
    HOP_APP,
    HOP_LOCAL_MTA,
    HOP_MAILBOX,
    HOP_SMTP,
    MATTERMOST_SUBJECT,
    AppTestFailure,
    AppTestInputError,
    AppTestUnsupported,
    alert_payload,
    alertmanager_test,
    build_plan,
    describe,
    failure_result,
    find_gitlab_rails,
    gitlab_command,
    gitlab_result,
    mattermost_test,
    parse_metrics,
)
from ansible_collections.mailops.notify.tests.unit.plugins.app_test_servers import (
    Alertmanager,
    UrllibTransport,
    alertmanager_config,
    gitlab_rails_wrapper,
    header_of,
    load_mattermost_standin,
    subject_of,
    wait_for,
)
from ansible_collections.mailops.notify.tests.unit.plugins.smtp_servers import SmtpServer, closed_port

API_TOKEN = "k7q3yzpx1tbw8fj5hn9c2rdm6e"  # the shape of a Mattermost personal access token
MM = {"app": "mattermost", "api_url": "https://mm.example.test", "api_token": API_TOKEN}
GL = {"app": "gitlab", "to": "ops@example.test"}
AM = {"app": "alertmanager"}
# Everything str.splitlines() splits on, NUL, and other control characters.
BAD_CHARS = ["\n", "\r", "\r\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\0", "\x1b", "\x7f", "\t"]
NOW = datetime.datetime(2026, 12, 3, 18, 0, 0, tzinfo=datetime.timezone.utc)
STANDIN = load_mattermost_standin()


def refused(params: dict, option: str) -> AppTestInputError:
    with pytest.raises(AppTestInputError) as info:
        build_plan(params)
    assert info.value.option == option, str(info.value)
    return info.value


# ---------------------------------------------------------------------------------------------------------------------
# Inputs


@pytest.mark.parametrize(
    "app, words",
    [
        ("ghes", ["no API for its 'Send test email'", "mailops.notify.smtp_test"]),
        ("gitea", ["/-/admin/config/test_mail", "CSRF", "gitea admin sendmail", "every user", "mailops.notify.smtp_test"]),
    ],
)
def test_applications_without_a_test_api_are_refused_with_the_way_out(app: str, words: list) -> None:
    with pytest.raises(AppTestUnsupported) as info:
        build_plan({"app": app, "to": "ops@example.test"})
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "params, option",
    [
        ({"app": "mattermost", "api_token": API_TOKEN}, "api_url"),
        ({"app": "mattermost", "api_url": "https://mm.example.test"}, "api_token"),
        ({"app": "gitlab"}, "to"),
        ({"app": "redmine"}, "app"),
    ],
)
def test_required_options(params: dict, option: str) -> None:
    assert "required" in refused(params, option).rule or option == "app"


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("ftp://mm.example.test", "http:// or https://"),
        ("mm.example.test", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("https://admin:pw@mm.example.test", "credentials"),
        ("https://mm.example.test/?next=/admin", "query"),
        ("https://mm.example.test/#top", "fragment"),
        ("https://mm.example.test?", "query"),
        ("https://", "host"),
        ("https://mm.example.test:0", "valid URL"),
        ("https://mm.example.test:99999", "valid URL"),
        ("https://mm..example.test", "host"),
        ("https://mm.example.test/a b", "white space"),
        ("", "empty"),
    ],
)
def test_bad_urls_are_refused(url: str, fragment: str) -> None:
    for params in ({**MM, "api_url": url}, {**AM, "api_url": url}):
        assert fragment in refused(params, "api_url").rule


def test_url_keeps_its_path_without_the_trailing_slash() -> None:
    assert build_plan({**MM, "api_url": "https://example.test/mattermost/"}).api_url == "https://example.test/mattermost"
    assert build_plan(AM).api_url == "http://127.0.0.1:9093"


@pytest.mark.parametrize("char", BAD_CHARS, ids=[f"U+{ord(c[-1]):04X}" for c in BAD_CHARS])
@pytest.mark.parametrize(
    "params, option",
    [
        ({**MM, "api_url": "https://mm.example.test/{}x"}, "api_url"),
        ({**MM, "api_token": "abc{}def"}, "api_token"),
        ({**GL, "to": "ops@example.test{}Bcc: victim@example.test"}, "to"),
        ({**GL, "subject": "Test{}Bcc: victim@example.test"}, "subject"),
        ({**GL, "token": "mailops-{}abcdefgh"}, "token"),
        ({**GL, "gitlab_rails": "/usr/bin/gitlab-rails{}x"}, "gitlab_rails"),
        ({**AM, "labels": {"team": "ops{}x"}}, "labels.team"),
        ({**AM, "labels": {"te{}am": "ops"}}, "labels"),
    ],
)
def test_line_breaks_and_controls_are_refused_in_every_value(params: dict, option: str, char: str) -> None:
    params = json.loads(json.dumps(params).replace("{}", json.dumps(char)[1:-1]))
    error = refused(params, option)
    if option == "api_token":
        assert "abc" not in str(error)  # the secret is never echoed


BAD_RECIPIENTS = ["ops", "<ops@example.test>", "Ops <ops@example.test>", "a b@example.test", "ops@exa mple.test"]
BAD_RECIPIENTS += ["ops@example.test,x@example.test", "öps@example.test", '"o"@example.test']


@pytest.mark.parametrize("to", BAD_RECIPIENTS)
def test_recipient_must_be_a_bare_address(to: str) -> None:
    refused({**GL, "to": to}, "to")


@pytest.mark.parametrize(
    "params, option",
    [
        ({**MM, "to": "ops@example.test"}, "to"),
        ({**MM, "subject": "x"}, "subject"),
        ({**MM, "token": "mailops-12345678"}, "token"),
        ({**MM, "labels": {"a": "b"}}, "labels"),
        ({**MM, "wait_timeout": 5}, "wait_timeout"),
        ({**GL, "api_url": "https://gitlab.example.test"}, "api_url"),
        ({**GL, "api_token": "x"}, "api_token"),
        ({**GL, "labels": {"a": "b"}}, "labels"),
        ({**GL, "wait_timeout": 5}, "wait_timeout"),
        ({**AM, "to": "ops@example.test"}, "to"),
        ({**AM, "subject": "x"}, "subject"),
        ({**AM, "api_token": "x"}, "api_token"),
        ({**AM, "gitlab_rails": "/usr/bin/gitlab-rails"}, "gitlab_rails"),
    ],
)
def test_options_of_other_applications_are_refused(params: dict, option: str) -> None:
    assert f"app={params['app']}" in refused(params, option).rule


@pytest.mark.parametrize(
    "labels, option, fragment",
    [
        ({"alertname": "x"}, "labels", "set by the module"),
        ({"mailops_token": "x"}, "labels", "set by the module"),
        ({"bad-name": "x"}, "labels", "not a valid label name"),
        ({"1x": "x"}, "labels", "not a valid label name"),
        ({"__name__": "x"}, "labels", "not a valid label name"),
        ({"team": ["a"]}, "labels", "must be a string"),
        ({"team": True}, "labels", "must be a string"),
        ({"team": ""}, "labels.team", "must not be empty"),
        ({f"l{i}": "x" for i in range(21)}, "labels", "at most 20"),
    ],
)
def test_label_rules(labels: dict, option: str, fragment: str) -> None:
    assert fragment in refused({**AM, "labels": labels}, option).rule


@pytest.mark.parametrize("value", [0, -1, 3601, float("nan"), float("inf"), True, "10"])
def test_timeouts_are_bounded(value: object) -> None:
    refused({**MM, "timeout": value}, "timeout")
    if value != 0:
        refused({**AM, "wait_timeout": value}, "wait_timeout")


@pytest.mark.parametrize("value", [59, 86401, True, 1.5])
def test_alert_duration_is_bounded(value: object) -> None:
    refused({**AM, "alert_duration": value}, "alert_duration")


@pytest.mark.parametrize("token", ["short", "-starts-with-dash", "has space inside", "x" * 65, "semi;colon1"])
def test_token_format(token: str) -> None:
    refused({**GL, "token": token}, "token")


def test_tokens_are_new_and_can_be_given() -> None:
    first, second = build_plan(GL), build_plan(GL)
    assert first.token != second.token and first.token.startswith("mailops-") and len(first.token) == 24
    assert build_plan({**GL, "token": "ci-run.42_x"}).token == "ci-run.42_x"
    assert build_plan(MM).token is None


def test_subject_rules() -> None:
    plan = build_plan({**GL, "token": "mailops-abcdef12"})
    assert plan.subject == "mailops.notify test message [mailops-abcdef12]"
    assert "at most 200" in refused({**GL, "subject": "x" * 201}, "subject").rule
    assert "empty" in refused({**GL, "subject": "  "}, "subject").rule


def test_gitlab_rails_must_be_absolute() -> None:
    refused({**GL, "gitlab_rails": "gitlab-rails"}, "gitlab_rails")


# ---------------------------------------------------------------------------------------------------------------------
# Check mode, payloads, parsers


@pytest.mark.parametrize("params", [MM, GL, AM], ids=["mattermost", "gitlab", "alertmanager"])
def test_describe_says_what_would_happen(params: dict) -> None:
    plan = build_plan(params)
    result = describe(plan)
    assert result["changed"] is True and result["proved"] == [] and result["answer"] is None
    assert result["msg"].startswith("check mode: would ") and "nothing was contacted" in result["msg"]
    assert result["token"] == plan.token and result["token_in_subject"] is (params["app"] != "mattermost")
    assert API_TOKEN not in json.dumps(result)


def test_alert_payload_is_unique_and_resolves_by_itself() -> None:
    plan = build_plan({**AM, "token": "mailops-abcdef12", "labels": {"severity": "critical"}, "alert_duration": 900})
    [alert] = alert_payload(plan, NOW)
    assert alert["labels"] == {"severity": "critical", "alertname": "MailopsEmailTest-mailops-abcdef12", "mailops_token": "mailops-abcdef12"}
    assert alert["startsAt"] == "2026-12-03T18:00:00Z" and alert["endsAt"] == "2026-12-03T18:15:00Z"
    assert "mailops-abcdef12" in alert["annotations"]["summary"]


def test_parse_metrics() -> None:
    text = (
        "# HELP alertmanager_notification_requests_total The total number of attempted notification requests.\n"
        'alertmanager_notification_requests_total{integration="email"} 7\n'
        'alertmanager_notification_requests_total{integration="webhook"} 40\n'
        'alertmanager_notification_requests_failed_total{integration="email"} 2\n'
        'alertmanager_notifications_total{integration="email"} 99\n'
    )
    assert parse_metrics(text) == {"requests": 7.0, "failed": 2.0}
    assert parse_metrics("") == {"requests": 0.0, "failed": 0.0}


def test_gitlab_command_keeps_every_value_out_of_the_ruby_code() -> None:
    plan = build_plan({**GL, "subject": "\"'); system('id'); #{`id`}", "timeout": 90})
    argv, env = gitlab_command(plan, "/usr/bin/gitlab-rails", "/usr/bin/timeout")
    assert argv == ["/usr/bin/timeout", "--kill-after=10", "90", "/usr/bin/gitlab-rails", "runner", GITLAB_RUBY]
    assert env == {"MAILOPS_TEST_TO": "ops@example.test", "MAILOPS_TEST_SUBJECT": plan.subject, "MAILOPS_TEST_BODY": plan.body}
    assert all(plan.subject not in arg and plan.to not in arg for arg in argv)
    assert gitlab_command(plan, "/usr/bin/gitlab-rails", None)[0] == ["/usr/bin/gitlab-rails", "runner", GITLAB_RUBY]


def test_find_gitlab_rails() -> None:
    plan = build_plan(GL)
    assert find_gitlab_rails(plan, lambda path: path == "/opt/gitlab/bin/gitlab-rails", lambda name: None) == "/opt/gitlab/bin/gitlab-rails"
    assert find_gitlab_rails(plan, lambda path: False, lambda name: "/srv/bin/gitlab-rails") == "/srv/bin/gitlab-rails"
    with pytest.raises(AppTestFailure, match="was not found"):
        find_gitlab_rails(plan, lambda path: False, lambda name: None)
    with pytest.raises(AppTestFailure, match="is not an executable"):
        find_gitlab_rails(build_plan({**GL, "gitlab_rails": "/nowhere/gitlab-rails"}), lambda path: False, lambda name: "/x")


def _gitlab(rc: int, stdout: str, stderr: str = "") -> dict:
    return gitlab_result(build_plan({**GL, "token": "mailops-abcdef12"}), rc, stdout, stderr, started=NOW, finished=NOW)


MARKER = "mailops-app-email-test message-id=abc@gitlab.example.test.mail delivery={} perform={}"


@pytest.mark.parametrize(
    "rc, stdout, stderr, fragment, hop",
    [
        (124, "", "", "did not finish within 600 seconds", HOP_APP),
        (1, "", "runner:1:in `<main>': 535 5.7.8 Authentication failed (Net::SMTPAuthenticationError)", "535 5.7.8 Authentication failed", HOP_SMTP),
        (1, "", "/x/socket.rb:1214:in `__connect_nonblock': Connection refused - connect(2) (Errno::ECONNREFUSED)", "Connection refused", HOP_SMTP),
        (1, "", "Please specify a valid ruby command or the path of a script to run.", "exit 1", HOP_APP),
        (0, "booted\n", "", "without reporting the delivery", HOP_APP),
        (0, MARKER.format("Mail::SMTP", "false"), "", "deliveries switched off", HOP_APP),
        (0, MARKER.format("Mail::TestMailer", "true"), "", "Mail::TestMailer, which does not send", HOP_APP),
    ],
)
def test_gitlab_failures(rc: int, stdout: str, stderr: str, fragment: str, hop: str) -> None:
    with pytest.raises(AppTestFailure) as info:
        _gitlab(rc, stdout, stderr)
    assert fragment in str(info.value) and info.value.failed_hop == hop
    result = failure_result(build_plan(GL), info.value)
    assert result["failed_hop"] == hop and result["proved"] == ([HOP_APP] if hop == HOP_SMTP else [])


@pytest.mark.parametrize("delivery, hop", [("Mail::SMTP", HOP_SMTP), ("Mail::Sendmail", HOP_LOCAL_MTA)])
def test_gitlab_success(delivery: str, hop: str) -> None:
    result = _gitlab(0, "warming up\n" + MARKER.format(delivery, "true") + "\n")
    assert result["proved"] == [HOP_APP, hop] and result["not_proved"] == [HOP_MAILBOX]
    assert result["follow"]["message_id"] == "abc@gitlab.example.test.mail"
    assert result["follow"]["subject"] == "mailops.notify test message [mailops-abcdef12]"


# ---------------------------------------------------------------------------------------------------------------------
# GitLab: the snippet evaluated by real Ruby and the Mail gem (the stand-in runner)


def _run_runner(plan, wrapper: str, smtp_port: int, **extra_env: str) -> dict:
    argv, env = gitlab_command(plan, wrapper, "/usr/bin/timeout")
    started = datetime.datetime.now(datetime.timezone.utc)
    # LANG=C as Ansible's run_command uses: the snippet must still read the values as UTF-8
    environment = {"PATH": "/usr/bin:/bin", "LANG": "C", "LC_ALL": "C", "GITLAB_STANDIN_SMTP": f"127.0.0.1:{smtp_port}", **env, **extra_env}
    done = subprocess.run(argv, env=environment, capture_output=True, text=True, check=False, timeout=120)
    finished = datetime.datetime.now(datetime.timezone.utc)
    return gitlab_result(plan, done.returncode, done.stdout, done.stderr, started=started, finished=finished)


@pytest.mark.parametrize(
    "subject",
    [
        "Quote ' and \" and backslash \\ end",
        "#{`touch /tmp/mailops-pwned`} #{ENV['HOME']} %x(id)",
        '"); system("id"); puts("',
        "Grüße, 测试, emoji 🔔",
    ],
)
def test_gitlab_snippet_with_hostile_subjects_on_real_ruby(tmp_path: pathlib.Path, subject: str) -> None:
    wrapper = gitlab_rails_wrapper(tmp_path)
    plan = build_plan({**GL, "subject": subject})
    with SmtpServer(mode="plain", auth=False) as server:
        result = _run_runner(plan, wrapper, server.port)
        assert wait_for(lambda: server.messages, 5)
    [message] = server.messages
    assert message["rcpt_tos"] == ["ops@example.test"]
    assert subject_of(message["content"]) == f"{subject} [{plan.token}]"
    assert plan.token in message["content"]
    assert header_of(message["content"], "Message-ID") == f"<{result['follow']['message_id']}>"
    assert result["proved"] == [HOP_APP, HOP_SMTP] and result["answer"]["delivery_method"] == "Mail::SMTP"
    assert not pathlib.Path("/tmp/mailops-pwned").exists()


def test_gitlab_snippet_reports_the_smtp_error(tmp_path: pathlib.Path) -> None:
    plan = build_plan(GL)
    with pytest.raises(AppTestFailure) as info:
        _run_runner(plan, gitlab_rails_wrapper(tmp_path), closed_port())
    assert info.value.failed_hop == HOP_SMTP and "Errno::ECONNREFUSED" in str(info.value)
    assert info.value.answer["rc"] == 1


def test_gitlab_snippet_sees_deliveries_switched_off(tmp_path: pathlib.Path) -> None:
    with SmtpServer(mode="plain", auth=False) as server, pytest.raises(AppTestFailure, match="deliveries switched off"):
        _run_runner(build_plan(GL), gitlab_rails_wrapper(tmp_path), server.port, GITLAB_STANDIN_PERFORM_DELIVERIES="false")
    assert server.messages == []


# ---------------------------------------------------------------------------------------------------------------------
# Mattermost: the stand-in server speaks the documented contract and sends through smtplib


@pytest.fixture
def smtp():
    with SmtpServer(mode="plain", auth=False) as server:
        yield server


@pytest.fixture
def mattermost(smtp):
    standin = STANDIN.MattermostStandin(token=API_TOKEN, email_address="admin@example.test", smtp_port=smtp.port).start()
    yield standin
    standin.stop()


def _mm_plan(standin, **extra) -> object:
    return build_plan({**MM, "api_url": standin.url, **extra})


def test_mattermost_sends_with_its_running_settings(mattermost, smtp) -> None:
    result = mattermost_test(UrllibTransport(), _mm_plan(mattermost))
    assert result["proved"] == [HOP_APP, HOP_SMTP] and result["token"] is None and result["token_in_subject"] is False
    assert result["follow"]["recipient"] == "admin@example.test" and result["follow"]["subject"] == MATTERMOST_SUBJECT
    assert result["follow"]["sent_after"] <= result["follow"]["sent_before"]
    assert result["answer"] == {"request": f"POST {mattermost.url}/api/v4/email/test", "status": 200, "body": {"status": "OK"}}
    assert mattermost.requests == [("GET", "/api/v4/users/me", b""), ("POST", "/api/v4/email/test", b"null")]
    [message] = smtp.messages
    assert message["rcpt_tos"] == ["admin@example.test"] and message["mail_from"] == "mattermost@example.test"
    assert subject_of(message["content"]) == MATTERMOST_SUBJECT


def test_mattermost_smtp_failure_is_the_smtp_hop(mattermost) -> None:
    mattermost.config["EmailSettings"]["SMTPPort"] = str(closed_port())
    with pytest.raises(AppTestFailure) as info:
        mattermost_test(UrllibTransport(), _mm_plan(mattermost))
    assert info.value.failed_hop == HOP_SMTP and "Connection unsuccessful" in str(info.value) and "HTTP 500" in str(info.value)
    assert info.value.answer["body"]["id"] == "app.admin.test_email.failure"
    assert info.value.extra["follow"]["recipient"] == "admin@example.test"


def test_mattermost_masks_the_token_in_whatever_it_answers(mattermost) -> None:
    mattermost.config["EmailSettings"]["SMTPPort"] = str(closed_port())
    mattermost.leak_token = True
    with pytest.raises(AppTestFailure) as info:
        mattermost_test(UrllibTransport(), _mm_plan(mattermost))
    dumped = json.dumps(failure_result(_mm_plan(mattermost), info.value)) + str(info.value)
    assert API_TOKEN not in dumped and "token=********" in dumped


@pytest.mark.parametrize(
    "change, status, fragment",
    [
        ("token", 401, "refused api_token (401)"),
        ("no_admin", 403, "test_email permission"),
        ("nil_field", 400, "HTTP 400"),
        ("no_server", 400, "SMTP Server is required"),
    ],
)
def test_mattermost_refusals_are_the_application_hop(mattermost, smtp, change: str, status: int, fragment: str) -> None:
    plan = _mm_plan(mattermost)
    if change == "token":
        plan = _mm_plan(mattermost, api_token="wrongtoken0000000000000000")
    elif change == "no_admin":
        mattermost.user["roles"] = "system_user"
    elif change == "nil_field":
        del mattermost.config["EmailSettings"]["EmailBatchingInterval"]
    else:
        mattermost.config["EmailSettings"]["SMTPServer"] = ""
    with pytest.raises(AppTestFailure) as info:
        mattermost_test(UrllibTransport(), plan)
    assert info.value.failed_hop == HOP_APP and fragment in str(info.value) and info.value.answer["status"] == status
    assert smtp.messages == []


def test_mattermost_unknown_route_is_reported(mattermost) -> None:
    plan = _mm_plan(mattermost)
    plan = type(plan)(**{**plan.__dict__, "api_url": plan.api_url + "/wrong"})
    with pytest.raises(AppTestFailure, match="HTTP 404"):
        mattermost_test(UrllibTransport(), plan)


# ---------------------------------------------------------------------------------------------------------------------
# Alertmanager: the real binary


@pytest.fixture
def alertmanager(tmp_path: pathlib.Path, smtp):
    with Alertmanager(tmp_path, alertmanager_config(smtp.port, closed_port())) as instance:
        yield instance


def _am_plan(instance, **extra) -> object:
    return build_plan({**AM, "api_url": instance.url, **extra})


def test_alertmanager_accepts_the_alert_and_emails_the_token(alertmanager, smtp) -> None:
    plan = _am_plan(alertmanager, labels={"severity": "critical"})
    result = alertmanager_test(UrllibTransport(), plan)
    assert result["proved"] == [HOP_APP] and result["answer"]["receivers"] == ["ops-email"] and result["answer"]["status"] == 200
    assert wait_for(lambda: smtp.messages), alertmanager.log
    subject = subject_of(smtp.messages[0]["content"])
    assert plan.token in subject and subject.startswith("[FIRING:1] ")


def test_alertmanager_wait_proves_the_smtp_hop(alertmanager, smtp) -> None:
    plan = _am_plan(alertmanager, labels={"severity": "critical"}, wait_timeout=20)
    result = alertmanager_test(UrllibTransport(), plan)
    assert result["proved"] == [HOP_APP, HOP_SMTP], alertmanager.log
    assert result["answer"]["email_requests"]["after"]["requests"] > result["answer"]["email_requests"]["before"]["requests"]
    assert wait_for(lambda: smtp.messages)
    assert plan.token in subject_of(smtp.messages[0]["content"])


def test_alertmanager_wait_sees_the_smtp_failure(alertmanager, smtp) -> None:
    with pytest.raises(AppTestFailure) as info:
        alertmanager_test(UrllibTransport(), _am_plan(alertmanager, labels={"team": "broken"}, wait_timeout=20))
    assert info.value.failed_hop == HOP_SMTP and info.value.changed is True and "email notification failed" in str(info.value)
    assert info.value.answer["receivers"] == ["broken-email"]
    assert smtp.messages == []


def test_alertmanager_wait_without_an_email_route_times_out(alertmanager) -> None:
    with pytest.raises(AppTestFailure) as info:
        alertmanager_test(UrllibTransport(), _am_plan(alertmanager, wait_timeout=2), interval=0.2)
    assert info.value.failed_hop == HOP_APP and "no email notification attempt within 2 seconds" in str(info.value)
    assert "routed to silent" in str(info.value)


def test_alertmanager_silenced_alert_is_reported(alertmanager, smtp) -> None:
    plan = _am_plan(alertmanager, labels={"severity": "critical"}, token="mailops-silenced1")
    alertmanager.silence("mailops_token", "mailops-silenced1")
    with pytest.raises(AppTestFailure, match="silenced"):
        alertmanager_test(UrllibTransport(), plan)


def test_alertmanager_unreachable_metrics_are_reported(alertmanager) -> None:
    plan = _am_plan(alertmanager, wait_timeout=1)
    plan = type(plan)(**{**plan.__dict__, "api_url": plan.api_url + "/nothing-here"})
    with pytest.raises(AppTestFailure, match="wait_timeout needs Alertmanager's metrics"):
        alertmanager_test(UrllibTransport(), plan)
