# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Ask the application itself to send its test email, and say what that proves and how to find the message.

What each application offers, read in its own source (paraphrased; see the module documentation):

* Mattermost (``server/channels/api4/system.go`` ``testEmail``, ``server/channels/app/admin.go`` ``TestEmail``):
  ``POST /api/v4/email/test``. A JSON ``null`` body makes the handler take the running configuration; a config in the
  body is only checked (every ``EmailSettings`` field must be present, else 400), the message itself is sent with the
  running configuration (``MailServiceConfig``). It goes to the email address of the calling user, with the subject
  ``api.admin.test_email.subject`` in that user's language ("Mattermost - Testing Email Settings"): no token can be
  put in it. A failure is HTTP 500 ``app.admin.test_email.failure`` "Connection unsuccessful: <SMTP error>".
* GitLab Omnibus (``doc/settings/smtp.md``): ``Notify.test_email(to, subject, body).deliver_now`` in the Rails
  runner. The values travel in environment variables read with ``ENV.fetch`` by a fixed Ruby snippet, so no value is
  ever part of Ruby source.
* Prometheus Alertmanager: ``POST /api/v2/alerts`` with a test alert whose ``alertname`` carries the token, so it is
  never grouped with or deduplicated against another alert; the default email subject holds the group and common
  label values, so the token is in the subject. Its metrics ``alertmanager_notification_requests_total`` and
  ``..._failed_total`` (label ``integration="email"``) tell whether the email integration then sent or failed.
* Gitea has no non-interactive test: the admin panel's "Send Testing Email" is ``POST /-/admin/config/test_mail`` with
  a web session and a CSRF token, and ``gitea admin sendmail`` sends to every user, asynchronously, with no result.
* GitHub Enterprise Server has no API for "Send test email".

The logic here is pure: HTTP goes through the ``HttpTransport`` interface of ``_app_ghes`` and GitLab's command is
built and read here but run by the module. Every input is checked by :func:`build_plan` before anything connects.
"""

from __future__ import annotations

import datetime
import json
import math
import re
import secrets
import time
import typing as t
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from ansible_collections.mailops.notify.plugins.module_utils._app_ghes import HttpResponse, HttpTransport, check_api_url
from ansible_collections.mailops.notify.plugins.module_utils._redact import Redactor
from ansible_collections.mailops.notify.plugins.module_utils._settings import SettingsValidationError, check_text
from ansible_collections.mailops.notify.plugins.module_utils._smtp import SmtpConfigError, check_address

__all__ = [
    "ALERTMANAGER_URL",
    "APPS",
    "GITLAB_RAILS_CANDIDATES",
    "GITLAB_RUBY",
    "HOP_APP",
    "HOP_LOCAL_MTA",
    "HOP_MAILBOX",
    "HOP_SMTP",
    "MATTERMOST_SUBJECT",
    "MAX_READ_BYTES",
    "AppTestError",
    "AppTestFailure",
    "AppTestInputError",
    "AppTestUnsupported",
    "TestPlan",
    "alert_payload",
    "alertmanager_test",
    "build_plan",
    "describe",
    "failure_result",
    "find_gitlab_rails",
    "gitlab_command",
    "gitlab_result",
    "mattermost_test",
    "new_token",
    "parse_metrics",
]

APPS = ("mattermost", "gitlab", "alertmanager", "gitea", "ghes")
SUPPORTED_APPS = ("mattermost", "gitlab", "alertmanager")
ALERTMANAGER_URL = "http://127.0.0.1:9093"
GITLAB_RAILS_CANDIDATES = ("/usr/bin/gitlab-rails", "/opt/gitlab/bin/gitlab-rails")
DEFAULT_SUBJECT = "mailops.notify test message"
MATTERMOST_SUBJECT = "Mattermost - Testing Email Settings"
HTTP_TIMEOUT = 30.0
GITLAB_TIMEOUT = 600.0
MAX_TIMEOUT = 3600.0
MAX_ANSWER_BYTES = 64 * 1024
# The most the module's HTTP transport reads of one answer (Alertmanager's /metrics is tens of KiB).
MAX_READ_BYTES = 4 * 1024 * 1024
TEXT_SHOWN = 2000
MAX_SUBJECT = 200
MAX_LABELS = 20
# The hops of the mail path, in the words every result uses.
HOP_APP = "module -> application"
HOP_SMTP = "application -> SMTP server"
HOP_MAILBOX = "SMTP server -> recipient mailbox"

# The Rails runner evaluates this fixed snippet; the recipient, subject and body come from the environment.
GITLAB_ENV = {"to": "MAILOPS_TEST_TO", "subject": "MAILOPS_TEST_SUBJECT", "body": "MAILOPS_TEST_BODY"}
GITLAB_MARKER = "mailops-app-email-test"
GITLAB_RUBY = (
    "mailops_env = ->(name) { ENV.fetch(name).dup.force_encoding(Encoding::UTF_8) }; "
    'message = Notify.test_email(mailops_env.("MAILOPS_TEST_TO"), mailops_env.("MAILOPS_TEST_SUBJECT"), '
    'mailops_env.("MAILOPS_TEST_BODY")).deliver_now; '
    f'puts "{GITLAB_MARKER} message-id=#{{message.message_id}} delivery=#{{message.delivery_method.class.name}}'
    ' perform=#{message.perform_deliveries}"'
)
_GITLAB_MARKER_RE = re.compile(rf"^{GITLAB_MARKER} message-id=(?P<id>\S*) delivery=(?P<delivery>\S*) perform=(?P<perform>\S*)\s*$", re.MULTILINE)
# What a runner failure that names one of these says went wrong between GitLab and its SMTP server.
_SMTP_ERROR_RE = re.compile(r"Net::SMTP\w*Error|Net::(?:Open|Read|Write)Timeout|Errno::E[A-Z]+|OpenSSL::SSL::SSLError|SocketError|EOFError")
_RUBY_LOCATION_RE = re.compile(r"^\S+:\d+:in [`'][^']*': ")
HOP_LOCAL_MTA = "application -> local MTA (sendmail)"

_TOKEN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{7,63}")
_LABEL_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_API_TOKEN_RE = re.compile(r"[\x21-\x7e]+")
_RESERVED_LABELS = ("alertname", "mailops_token")
_ALERTNAME_PREFIX = "MailopsEmailTest-"
_METRIC_RE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)")
_REQUESTS = "alertmanager_notification_requests_total"
_REQUESTS_FAILED = "alertmanager_notification_requests_failed_total"


class AppTestError(Exception):
    """Base class of this library's errors."""


class AppTestInputError(AppTestError):
    """An option breaks a rule; raised before any connection or command."""

    def __init__(self, option: str, rule: str) -> None:
        super().__init__(f"{option}: {rule}")
        self.option = option
        self.rule = rule


class AppTestUnsupported(AppTestError):
    """The application has no way for a program to ask it for a test email."""

    def __init__(self, app: str, message: str) -> None:
        super().__init__(message)
        self.app = app


class AppTestFailure(AppTestError):
    """The application was asked and answered with a failure (or could not be asked)."""

    def __init__(self, message: str, *, failed_hop: str | None, answer: t.Any = None, changed: bool = False, **extra: t.Any) -> None:
        super().__init__(message)
        self.failed_hop = failed_hop
        self.answer = answer
        self.changed = changed
        self.extra = extra


@dataclass(frozen=True)
class TestPlan:
    """What one test will do, after every input was checked."""

    app: str
    token: str | None
    api_url: str | None = None
    api_token: str | None = None
    to: str | None = None
    subject: str | None = None
    body: str | None = None
    timeout: float = HTTP_TIMEOUT
    labels: dict[str, str] = field(default_factory=dict)
    wait_timeout: float = 0.0
    alert_duration: int = 600
    gitlab_rails: str | None = None

    @property
    def alertname(self) -> str:
        return f"{_ALERTNAME_PREFIX}{self.token}"

    def redactor(self) -> Redactor:
        return Redactor([self.api_token])


def new_token() -> str:
    """A fresh token: ``mailops-`` and 16 hex digits (64 random bits)."""
    return f"mailops-{secrets.token_hex(8)}"


def _utc(now: datetime.datetime) -> str:
    return now.astimezone(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


# ---------------------------------------------------------------------------------------------------------------------
# Inputs


def _one_line(option: str, value: t.Any) -> None:
    try:
        check_text(option, value)
    except SettingsValidationError as exc:
        raise AppTestInputError(exc.option, exc.rule) from None


def _check_url(value: t.Any) -> str:
    """api_url: http(s), a host, no credentials, no query or fragment; returned without a trailing slash."""
    if not isinstance(value, str) or not value:
        raise AppTestInputError("api_url", "must not be empty")
    try:
        check_api_url(value)
    except SettingsValidationError as exc:
        raise AppTestInputError(exc.option, exc.rule) from None
    parts = urlsplit(value)
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise AppTestInputError("api_url", "must be the base URL of the application, without a query (?) or fragment (#)")
    if any(char.isspace() for char in value):
        raise AppTestInputError("api_url", "must not contain white space")
    return value.rstrip("/")


def _check_recipient(value: t.Any) -> str:
    try:
        check_address(value, "to")
    except SmtpConfigError as exc:
        text = str(exc)
        raise AppTestInputError("to", text[4:] if text.startswith("to: ") else text) from None
    if "@" not in value:
        raise AppTestInputError("to", "must be a full address local@domain (the application sends to it)")
    return value


def _check_timeout(option: str, value: t.Any, default: float, *, zero: bool = False) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AppTestInputError(option, f"must be a number of seconds, not {value!r}")
    low_ok = value >= 0 if zero else value > 0
    if not low_ok or value > MAX_TIMEOUT:
        raise AppTestInputError(option, f"must be {'from 0' if zero else 'more than 0 and'} up to {MAX_TIMEOUT:g} seconds, not {value}")
    return float(value)


def _refuse(app: str, params: t.Mapping[str, t.Any], options: t.Iterable[str], why: str) -> None:
    for option in options:
        if params.get(option) not in (None, {}, ""):
            raise AppTestInputError(option, f"cannot be used with app={app}: {why}")


def _check_labels(value: t.Any) -> dict[str, str]:
    if value in (None, {}):
        return {}
    if not isinstance(value, dict):
        raise AppTestInputError("labels", "must be a dictionary of label names and values")
    if len(value) > MAX_LABELS:
        raise AppTestInputError("labels", f"at most {MAX_LABELS} labels")
    labels = {}
    for name, item in value.items():
        if not isinstance(name, str) or not _LABEL_NAME_RE.fullmatch(name) or name.startswith("__"):
            _one_line("labels", name if isinstance(name, str) else str(name))
            raise AppTestInputError("labels", f"{json.dumps(str(name))} is not a valid label name (letters, digits and _, not starting with a digit or __)")
        if name in _RESERVED_LABELS:
            raise AppTestInputError("labels", f"{name} is set by the module (it carries the token)")
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise AppTestInputError("labels", f"the value of {name} must be a string")
        text = str(item)
        _one_line(f"labels.{name}", text)
        if not text:
            raise AppTestInputError(f"labels.{name}", "must not be empty (Alertmanager drops empty labels)")
        labels[name] = text
    return labels


def build_plan(params: t.Mapping[str, t.Any], *, token: str | None = None) -> TestPlan:
    """Check every option for ``params["app"]`` and return the plan; nothing is contacted.

    Raises AppTestInputError (option and rule) or AppTestUnsupported (gitea, ghes).
    """
    app = params.get("app")
    if app not in APPS:
        raise AppTestInputError("app", f"must be one of {', '.join(APPS)}")
    if app == "ghes":
        raise AppTestUnsupported(
            app,
            "GitHub Enterprise Server has no API for its 'Send test email' button (Management Console, Settings, Email): the"
            " Manage GHES API has no such endpoint. Test the same settings with mailops.notify.smtp_test (host, port, security,"
            " username, password and from_address of the appliance's SMTP settings) and follow the message in the relay's log"
            " with mailops.notify.mail_log_info.",
        )
    if app == "gitea":
        raise AppTestUnsupported(
            app,
            "Gitea has no non-interactive test email: the admin panel's 'Send Testing Email' is POST /-/admin/config/test_mail,"
            " which needs a logged-in web session and a CSRF token, and 'gitea admin sendmail' sends a message to every user,"
            " asynchronously and without a result. Test the [mailer] settings with mailops.notify.smtp_test, or press"
            " 'Send Testing Email' in Site Administration, Configuration, SMTP Mailer Configuration.",
        )
    supplied = params.get("token")
    if supplied is not None:
        if not isinstance(supplied, str) or not _TOKEN_RE.fullmatch(supplied):
            _one_line("token", supplied)
            raise AppTestInputError("token", "must be 8 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    for option in ("api_url", "api_token", "to", "subject", "gitlab_rails"):
        value = params.get(option)
        if value is not None and not isinstance(value, str):
            raise AppTestInputError(option, "must be a string")
    if app == "mattermost":
        return _mattermost_plan(params)
    the_token = supplied or token or new_token()
    if app == "gitlab":
        return _gitlab_plan(params, the_token)
    return _alertmanager_plan(params, the_token)


def _mattermost_plan(params: t.Mapping[str, t.Any]) -> TestPlan:
    why = "Mattermost sends its test email to the address of the user who owns api_token, with its own fixed subject"
    _refuse("mattermost", params, ("to", "subject", "token"), why)
    _refuse("mattermost", params, ("labels", "gitlab_rails"), "this option belongs to another application")
    if params.get("wait_timeout"):
        raise AppTestInputError("wait_timeout", "cannot be used with app=mattermost: its answer already says whether the SMTP server took the message")
    if params.get("api_url") is None:
        raise AppTestInputError("api_url", "is required with app=mattermost (the Site URL, for example https://mattermost.example.com)")
    url = _check_url(params["api_url"])
    api_token = params.get("api_token")
    if not api_token:
        raise AppTestInputError("api_token", "is required with app=mattermost (a personal access token of a system admin)")
    if not _API_TOKEN_RE.fullmatch(api_token):
        raise AppTestInputError("api_token", "must be printable ASCII without spaces or line breaks (it goes into an HTTP header)")
    timeout = _check_timeout("timeout", params.get("timeout"), HTTP_TIMEOUT)
    return TestPlan(app="mattermost", token=None, api_url=url, api_token=api_token, timeout=timeout)


def _subject(params: t.Mapping[str, t.Any], token: str) -> str:
    subject = params.get("subject")
    subject = DEFAULT_SUBJECT if subject is None else subject
    _one_line("subject", subject)
    if not subject.strip():
        raise AppTestInputError("subject", "must not be empty")
    if len(subject) > MAX_SUBJECT:
        raise AppTestInputError("subject", f"at most {MAX_SUBJECT} characters (the token is added to it)")
    return f"{subject} [{token}]"


def _gitlab_plan(params: t.Mapping[str, t.Any], token: str) -> TestPlan:
    _refuse("gitlab", params, ("api_url", "api_token"), "GitLab is asked through gitlab-rails runner on the host, not over HTTP")
    _refuse("gitlab", params, ("labels",), "this option belongs to app=alertmanager")
    if params.get("wait_timeout"):
        raise AppTestInputError("wait_timeout", "cannot be used with app=gitlab: deliver_now returns when the SMTP server took the message")
    if params.get("to") is None:
        raise AppTestInputError("to", "is required with app=gitlab (the address GitLab sends its test email to)")
    to = _check_recipient(params["to"])
    rails = params.get("gitlab_rails")
    if rails is not None:
        _one_line("gitlab_rails", rails)
        if not rails.startswith("/"):
            raise AppTestInputError("gitlab_rails", "must be an absolute path, for example /usr/bin/gitlab-rails")
    subject = _subject(params, token)
    body = f"<p>Test message {token} from mailops.notify.app_email_test, sent through GitLab's own mailer (Notify.test_email).</p>"
    timeout = _check_timeout("timeout", params.get("timeout"), GITLAB_TIMEOUT)
    return TestPlan(app="gitlab", token=token, to=to, subject=subject, body=body, timeout=timeout, gitlab_rails=rails)


def _alertmanager_plan(params: t.Mapping[str, t.Any], token: str) -> TestPlan:
    why = "Alertmanager sends to the receivers its routes choose, with its own subject template; route the test alert with labels"
    _refuse("alertmanager", params, ("to", "subject"), why)
    _refuse("alertmanager", params, ("api_token", "gitlab_rails"), "this option belongs to another application")
    url = _check_url(ALERTMANAGER_URL if params.get("api_url") is None else params["api_url"])
    labels = _check_labels(params.get("labels"))
    timeout = _check_timeout("timeout", params.get("timeout"), HTTP_TIMEOUT)
    wait = _check_timeout("wait_timeout", params.get("wait_timeout"), 0.0, zero=True)
    duration = params.get("alert_duration")
    duration = 600 if duration is None else duration
    if isinstance(duration, bool) or not isinstance(duration, int) or not 60 <= duration <= 86400:
        raise AppTestInputError("alert_duration", f"must be from 60 to 86400 seconds, not {duration!r}")
    return TestPlan(app="alertmanager", token=token, api_url=url, labels=labels, timeout=timeout, wait_timeout=wait, alert_duration=duration)


# ---------------------------------------------------------------------------------------------------------------------
# What a run does (check mode says it; the real run reports it)


def _method(plan: TestPlan) -> str:
    if plan.app == "mattermost":
        return f"POST {plan.api_url}/api/v4/email/test with a null body (Mattermost's 'Test Connection': its running SMTP settings)"
    if plan.app == "gitlab":
        return f"{plan.gitlab_rails or 'gitlab-rails'} runner: Notify.test_email(to, subject, body).deliver_now (values passed in MAILOPS_TEST_* variables)"
    return f"POST {plan.api_url}/api/v2/alerts: test alert {plan.alertname} for the route's email receiver"


def _follow(plan: TestPlan, **known: t.Any) -> dict[str, t.Any]:
    follow: dict[str, t.Any] = {"recipient": None, "subject": None, "message_id": None, "sent_after": None, "sent_before": None}
    if plan.app == "mattermost":
        follow["subject"] = MATTERMOST_SUBJECT
        follow["note"] = (
            "Mattermost's subject cannot carry a token: find the message by recipient (the api_token user's email), subject"
            " (in that user's language) and the time window"
        )
    elif plan.app == "gitlab":
        follow["recipient"] = plan.to
        follow["subject"] = plan.subject
        follow["note"] = "find the message by the token in its subject, or by its Message-ID in the relay's log"
    else:
        follow["subject"] = f"contains {plan.alertname} (Alertmanager's default subject template)"
        follow["note"] = (
            "the receivers' email_configs decide the recipients; the message leaves after the route's group_wait and its"
            " default subject holds the alert name with the token (unless the receiver sets its own Subject header)"
        )
    follow.update(known)
    return follow


def describe(plan: TestPlan) -> dict[str, t.Any]:
    """The check-mode result: what a real run would do, without contacting anything."""
    what = {
        "mattermost": "ask Mattermost to send its test email to the api_token user's address",
        "gitlab": f"ask GitLab to send a test email to {plan.to}",
        "alertmanager": f"fire the test alert {plan.alertname} in Alertmanager for its email receiver",
    }[plan.app]
    return {
        "changed": True,
        "app": plan.app,
        "method": _method(plan),
        "token": plan.token,
        "token_in_subject": plan.app != "mattermost",
        "proved": [],
        "not_proved": [HOP_APP, HOP_SMTP, HOP_MAILBOX],
        "follow": _follow(plan),
        "answer": None,
        "msg": f"check mode: would {what}; nothing was contacted",
    }


_HOPS = (HOP_APP, HOP_SMTP, HOP_MAILBOX)


def failure_result(plan: TestPlan | None, error: AppTestFailure) -> dict[str, t.Any]:
    """The keys a failed run returns next to ``msg``: what was proved before the hop that failed, and the answer."""
    hops = list(_HOPS)
    proved = hops[: hops.index(error.failed_hop)] if error.failed_hop in hops else []
    result = {
        "changed": error.changed,
        "failed_hop": error.failed_hop,
        "proved": proved,
        "not_proved": [hop for hop in hops if hop not in proved],
        "answer": error.answer,
    }
    if plan is not None:
        result.update(app=plan.app, method=_method(plan), token=plan.token, token_in_subject=plan.app != "mattermost")
    result.update(error.extra)
    return result


def find_gitlab_rails(plan: TestPlan, is_executable: t.Callable[[str], bool], which: t.Callable[[str], str | None]) -> str:
    """gitlab_rails as given, else /usr/bin/gitlab-rails, /opt/gitlab/bin/gitlab-rails, then gitlab-rails on PATH."""
    if plan.gitlab_rails:
        if not is_executable(plan.gitlab_rails):
            raise AppTestFailure(f"gitlab_rails {plan.gitlab_rails} is not an executable file", failed_hop=HOP_APP)
        return plan.gitlab_rails
    for candidate in GITLAB_RAILS_CANDIDATES:
        if is_executable(candidate):
            return candidate
    found = which("gitlab-rails")
    if found:
        return found
    raise AppTestFailure(
        f"gitlab-rails was not found ({', '.join(GITLAB_RAILS_CANDIDATES)} or on PATH): is this the GitLab Omnibus host? Set gitlab_rails",
        failed_hop=HOP_APP,
    )


def _excerpt(text: str) -> str:
    text = text.strip()
    return text if len(text) <= TEXT_SHOWN else "..." + text[-TEXT_SHOWN:]


def _body(response: HttpResponse) -> t.Any:
    """The answer's body as JSON where it is JSON, else as a short text."""
    data = response.body[:MAX_ANSWER_BYTES]
    text = data.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return _excerpt(text)


def _answer(plan: TestPlan, response: HttpResponse, request: str) -> dict[str, t.Any]:
    return plan.redactor().value({"request": request, "status": response.status, "body": _body(response)})


# ---------------------------------------------------------------------------------------------------------------------
# Mattermost


def _error_text(body: t.Any) -> str:
    if isinstance(body, dict):
        message = str(body.get("message") or "").strip()
        ident = str(body.get("id") or "").strip()
        detail = str(body.get("detailed_error") or "").strip()
        text = message or ident or "no message"
        if ident and message:
            text = f"{message} ({ident})"
        return f"{text}; {detail}" if detail else text
    return str(body) if body else "no message"


def mattermost_test(transport: HttpTransport, plan: TestPlan, *, now: t.Callable[[], datetime.datetime] = _utcnow) -> dict[str, t.Any]:
    """GET /api/v4/users/me (who receives the message), then POST /api/v4/email/test with a null body."""
    headers = {"Accept": "application/json", "Authorization": f"Bearer {plan.api_token}"}
    redact = plan.redactor()
    me_url = f"{plan.api_url}/api/v4/users/me"
    me = transport.request("GET", me_url, None, headers)
    if me.status != 200:
        answer = _answer(plan, me, f"GET {me_url}")
        if me.status == 401:
            reason = "Mattermost refused api_token (401): it is wrong, expired or revoked, or personal access tokens are disabled"
        else:
            reason = f"GET {me_url} answered HTTP {me.status}: {redact.text(_error_text(answer['body']))}"
        raise AppTestFailure(reason, failed_hop=HOP_APP, answer=answer)
    user = _body(me)
    recipient = user.get("email") if isinstance(user, dict) else None
    test_url = f"{plan.api_url}/api/v4/email/test"
    started = now()
    response = transport.request("POST", test_url, b"null", {**headers, "Content-Type": "application/json"})
    finished = now()
    answer = _answer(plan, response, f"POST {test_url}")
    follow = _follow(plan, recipient=recipient, sent_after=_utc(started), sent_before=_utc(finished))
    if response.status == 200:
        return {
            "changed": True,
            "app": plan.app,
            "method": _method(plan),
            "token": None,
            "token_in_subject": False,
            "proved": [HOP_APP, HOP_SMTP],
            "not_proved": [HOP_MAILBOX],
            "follow": follow,
            "answer": answer,
            "msg": f"Mattermost sent its test email to {recipient or 'the api_token user'}; the SMTP server accepted it",
        }
    error = redact.text(_error_text(answer["body"]))
    if response.status == 500:
        raise AppTestFailure(f"Mattermost could not send its test email (HTTP 500): {error}", failed_hop=HOP_SMTP, answer=answer, follow=follow)
    if response.status == 403:
        reason = "the api_token user may not test email (it needs the test_email permission of a system admin, and not a restricted system admin)"
    elif response.status == 401:
        reason = "Mattermost refused api_token (401)"
    elif response.status == 400:
        reason = "Mattermost refused to test its settings (HTTP 400; for example an empty SMTPServer, or a configuration with missing EmailSettings)"
    else:
        reason = f"Mattermost answered HTTP {response.status}"
    raise AppTestFailure(f"{reason}: {error}", failed_hop=HOP_APP, answer=answer, follow=follow)


# ---------------------------------------------------------------------------------------------------------------------
# GitLab


def gitlab_command(plan: TestPlan, binary: str, timeout_binary: str | None) -> tuple[list[str], dict[str, str]]:
    """The argv (no shell) and the environment of the runner; with ``timeout_binary``, coreutils' timeout bounds it."""
    argv = [binary, "runner", GITLAB_RUBY]
    if timeout_binary:
        argv = [timeout_binary, "--kill-after=10", f"{plan.timeout:g}", *argv]
    env = {GITLAB_ENV["to"]: plan.to or "", GITLAB_ENV["subject"]: plan.subject or "", GITLAB_ENV["body"]: plan.body or ""}
    return argv, env


def _smtp_error(text: str) -> str | None:
    """The first line of the runner's output that names a network, TLS or SMTP error class, without Ruby's
    ``file:line:in `method':`` prefix."""
    for line in text.splitlines():
        if _SMTP_ERROR_RE.search(line):
            return _RUBY_LOCATION_RE.sub("", line.strip(), count=1)[:500]
    return None


def _last_line(text: str) -> str | None:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:500] if lines else None


def gitlab_result(
    plan: TestPlan, rc: int, stdout: str, stderr: str, *, started: datetime.datetime, finished: datetime.datetime, bounded: bool = True
) -> dict[str, t.Any]:
    """Read the runner's exit status and output; raise AppTestFailure when GitLab did not hand the message over."""
    stdout, stderr = stdout or "", stderr or ""
    redact = plan.redactor()
    answer = redact.value({"rc": rc, "stdout": _excerpt(stdout), "stderr": _excerpt(stderr)})
    markers = list(_GITLAB_MARKER_RE.finditer(stdout))
    marker = markers[-1] if markers else None
    follow = _follow(plan, message_id=(marker.group("id") or None) if marker else None, sent_after=_utc(started), sent_before=_utc(finished))
    if bounded and rc in (124, 137):
        raise AppTestFailure(
            f"gitlab-rails runner did not finish within {plan.timeout:g} seconds and was stopped; GitLab may be slow to boot (raise timeout)",
            failed_hop=HOP_APP,
            answer=answer,
        )
    if rc != 0:
        error = _smtp_error(stderr + "\n" + stdout)
        if error:
            raise AppTestFailure(f"GitLab could not send its test email: {redact.text(error)}", failed_hop=HOP_SMTP, answer=answer, follow=follow)
        last = _last_line(stderr) or _last_line(stdout)
        raise AppTestFailure(f"gitlab-rails runner failed (exit {rc})" + (f": {redact.text(last)}" if last else ""), failed_hop=HOP_APP, answer=answer)
    if marker is None:
        raise AppTestFailure("gitlab-rails runner exited 0 without reporting the delivery (see answer.stdout)", failed_hop=HOP_APP, answer=answer)
    delivery = marker.group("delivery")
    answer["delivery_method"] = delivery
    if marker.group("perform") != "true":
        raise AppTestFailure(
            "GitLab did not deliver the message: its mailer has deliveries switched off (gitlab_rails['gitlab_email_enabled'] = false?)",
            failed_hop=HOP_APP,
            answer=answer,
        )
    if delivery == "Mail::SMTP":
        hop, how = HOP_SMTP, "its SMTP server accepted the message"
    elif delivery in ("Mail::Sendmail", "Mail::Exim"):
        hop, how = HOP_LOCAL_MTA, "it handed the message to the local sendmail (smtp_enable is false)"
    else:
        raise AppTestFailure(f"GitLab's mailer uses {delivery or 'an unknown delivery method'}, which does not send email", failed_hop=HOP_APP, answer=answer)
    return {
        "changed": True,
        "app": plan.app,
        "method": _method(plan),
        "token": plan.token,
        "token_in_subject": True,
        "proved": [HOP_APP, hop],
        "not_proved": [HOP_MAILBOX],
        "follow": follow,
        "answer": answer,
        "msg": f"GitLab sent its test email to {plan.to}: deliver_now returned, {how}",
    }


# ---------------------------------------------------------------------------------------------------------------------
# Alertmanager


def alert_payload(plan: TestPlan, now: datetime.datetime) -> list[dict[str, t.Any]]:
    """The one test alert: a unique alertname (never grouped with or deduplicated against another alert), the token as
    a label too, and an end time so it resolves by itself."""
    ends = now + datetime.timedelta(seconds=plan.alert_duration)
    return [
        {
            "labels": {**plan.labels, "alertname": plan.alertname, "mailops_token": plan.token},
            "annotations": {
                "summary": f"mailops.notify test notification {plan.token}",
                "description": "Sent by mailops.notify.app_email_test to prove that Alertmanager's email notifications arrive. No action is needed.",
            },
            "startsAt": _utc(now),
            "endsAt": _utc(ends),
        }
    ]


def parse_metrics(text: str, integration: str = "email") -> dict[str, float]:
    """The notification request counters of one integration from Prometheus text exposition."""
    wanted = {_REQUESTS: 0.0, _REQUESTS_FAILED: 0.0}
    for line in text.splitlines():
        match = _METRIC_RE.match(line)
        if not match or match.group("name") not in wanted:
            continue
        if f'integration="{integration}"' not in match.group("labels"):
            continue
        try:
            wanted[match.group("name")] += float(match.group("value"))
        except ValueError:
            continue
    return {"requests": wanted[_REQUESTS], "failed": wanted[_REQUESTS_FAILED]}


def _metrics(transport: HttpTransport, plan: TestPlan) -> dict[str, float]:
    url = f"{plan.api_url}/metrics"
    response = transport.request("GET", url, None, {"Accept": "text/plain"})
    if response.status != 200:
        raise AppTestFailure(
            f"GET {url} answered HTTP {response.status}: wait_timeout needs Alertmanager's metrics",
            failed_hop=HOP_APP,
            answer=_answer(plan, response, f"GET {url}"),
        )
    return parse_metrics(response.body.decode("utf-8", "replace"))


def alertmanager_test(
    transport: HttpTransport,
    plan: TestPlan,
    *,
    now: t.Callable[[], datetime.datetime] = _utcnow,
    clock: t.Callable[[], float] = time.monotonic,
    sleep: t.Callable[[float], None] = time.sleep,
    interval: float = 0.5,
) -> dict[str, t.Any]:
    """Fire the test alert, read where it was routed, and with ``wait_timeout`` wait for the email integration's verdict."""
    baseline = _metrics(transport, plan) if plan.wait_timeout else None
    post_url = f"{plan.api_url}/api/v2/alerts"
    started = now()
    body = json.dumps(alert_payload(plan, started)).encode("utf-8")
    response = transport.request("POST", post_url, body, {"Content-Type": "application/json", "Accept": "application/json"})
    answer = _answer(plan, response, f"POST {post_url}")
    if response.status != 200:
        raise AppTestFailure(f"Alertmanager refused the test alert (HTTP {response.status}): {_error_text(answer['body'])}", failed_hop=HOP_APP, answer=answer)
    query = quote(f'alertname="{plan.alertname}"', safe="")
    get_url = f"{plan.api_url}/api/v2/alerts?filter={query}"
    routed = transport.request("GET", get_url, None, {"Accept": "application/json"})
    alerts = _body(routed) if routed.status == 200 else None
    alert = alerts[0] if isinstance(alerts, list) and alerts and isinstance(alerts[0], dict) else {}
    receivers = [item.get("name") for item in alert.get("receivers") or [] if isinstance(item, dict)]
    status = alert.get("status") if isinstance(alert.get("status"), dict) else {}
    answer.update(receivers=receivers, state=status.get("state"))
    follow = _follow(plan, sent_after=_utc(started))
    result = {
        "changed": True,
        "app": plan.app,
        "method": _method(plan),
        "token": plan.token,
        "token_in_subject": True,
        "proved": [HOP_APP],
        "not_proved": [HOP_SMTP, HOP_MAILBOX],
        "follow": follow,
        "answer": answer,
    }
    if status.get("state") == "suppressed":
        why = "silenced" if status.get("silencedBy") else "inhibited"
        raise AppTestFailure(
            f"the test alert is {why} in Alertmanager, so no notification will be sent", failed_hop=HOP_APP, answer=answer, changed=True, follow=follow
        )
    where = f" (routed to {', '.join(receivers)})" if receivers else ""
    if not plan.wait_timeout or baseline is None:
        result["msg"] = f"Alertmanager accepted the test alert {plan.alertname}{where}; it emails after the route's group_wait"
        return result
    deadline = clock() + plan.wait_timeout
    seen = baseline
    while True:
        seen = _metrics(transport, plan)
        if seen["requests"] > baseline["requests"]:
            break
        if clock() + interval > deadline:
            answer["email_requests"] = {"before": baseline, "after": seen}
            raise AppTestFailure(
                f"Alertmanager made no email notification attempt within {plan.wait_timeout:g} seconds after the test alert{where}:"
                " check that a route sends it to an email receiver (labels) and the route's group_wait",
                failed_hop=HOP_APP,
                answer=answer,
                changed=True,
                follow=follow,
            )
        sleep(interval)
    tried = seen["requests"] - baseline["requests"]
    failed = seen["failed"] - baseline["failed"]
    answer["email_requests"] = {"before": baseline, "after": seen}
    follow["sent_before"] = _utc(now())
    if failed >= tried:
        raise AppTestFailure(
            f"Alertmanager's email notification failed ({failed:g} of {tried:g} attempts since the test alert); its log has the SMTP error"
            " ('Notify attempt failed')",
            failed_hop=HOP_SMTP,
            answer=answer,
            changed=True,
            follow=follow,
        )
    result["proved"] = [HOP_APP, HOP_SMTP]
    result["not_proved"] = [HOP_MAILBOX]
    result["msg"] = (
        f"Alertmanager sent an email notification after the test alert {plan.alertname}{where} (its metrics count email attempts, not which alert they carried)"
    )
    return result
