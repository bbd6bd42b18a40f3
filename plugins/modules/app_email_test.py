#!/usr/bin/python
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: app_email_test
short_description: Ask the application itself to send its test email
version_added: 1.0.0
description:
  - Asks the application to send a test email through its own mailer and its own saved SMTP settings, so the message that
    arrives proves the application's path, not only the SMTP server's (M(mailops.notify.smtp_test) proves that one).
  - Returns a unique O(token), which hops of the mail path the answer proves (RV(proved)), how to find the message
    (RV(follow)) and the application's answer with every secret masked (RV(answer)).
  - V(mattermost) calls C(POST /api/v4/email/test) (the System Console's 'Test Connection') with a JSON C(null) body, so
    Mattermost tests its running configuration. The message goes to the email address of the user who owns O(api_token),
    with Mattermost's fixed subject C(Mattermost - Testing Email Settings) (translated into that user's language), so it
    cannot carry the token; the module reads the address with C(GET /api/v4/users/me) and returns the time window. HTTP 200
    means the SMTP server accepted the message; HTTP 500 carries the SMTP error (C(Connection unsuccessful) followed by the error).
  - V(gitlab) runs C(gitlab-rails runner) with a fixed Ruby snippet that calls C(Notify.test_email) with the recipient, subject
    and body and then C(deliver_now) (GitLab Omnibus C(doc/settings/smtp.md)). The recipient, the subject and the body reach Ruby
    only through the environment variables C(MAILOPS_TEST_TO), C(MAILOPS_TEST_SUBJECT) and C(MAILOPS_TEST_BODY) (read with C(ENV.fetch)), never
    as Ruby source. The runner is run without a shell and bounded by coreutils C(timeout). The subject ends with the token
    in brackets; the message id and GitLab's delivery method are returned. It needs root (C(become)), as C(gitlab-rails) does.
  - V(alertmanager) posts one test alert to C(POST /api/v2/alerts). Its C(alertname) is C(MailopsEmailTest-<token>) and its
    C(mailops_token) label is the token, so it is never grouped with or deduplicated against another alert, and
    Alertmanager's default email subject (C([FIRING:1] <group labels>), then the other labels in parentheses) contains
    the token. The module returns the receivers the alert was routed to. With O(wait_timeout) it then watches Alertmanager's metrics
    C(alertmanager_notification_requests_total) and C(alertmanager_notification_requests_failed_total) for the email
    integration and reports whether the email was sent or failed.
  - V(gitea) is refused. Gitea has no non-interactive test email. The admin panel's 'Send Testing Email' is
    C(POST /-/admin/config/test_mail) and needs a web session and a CSRF token. C(gitea admin sendmail) sends a message to
    every user, asynchronously and without a result. Use M(mailops.notify.smtp_test) with Gitea's C([mailer]) settings.
  - V(ghes) is refused. GitHub Enterprise Server has no API for its 'Send test email' button. Use M(mailops.notify.smtp_test)
    with the appliance's SMTP settings.
  - Every option is checked before anything is contacted or run. A failure names the option and the rule. URLs must be
    C(http://) or C(https://) without credentials, query or fragment. O(to) must be a bare C(local@domain). Line breaks
    (everything C(str.splitlines) splits on) and other control characters are refused in every value.
  - Mattermost and GitLab cannot run in this collection's test environment. Their parts are tested against stand-ins that
    follow the documented contract. They are a small HTTP server for C(/api/v4/email/test), and a C(gitlab-rails) script that evaluates the same
    Ruby snippet with Debian's Ruby and the Mail gem that GitLab's ActionMailer uses. Both really send an SMTP message to a
    test server on loopback. Alertmanager is tested with the real Debian C(prometheus-alertmanager) 0.25.
author: mailops.notify contributors (@mailops)
extends_documentation_fragment:
  - mailops.notify._attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is contacted and nothing is run. The result says what a real run would do (RV(method), RV(msg)),
        with C(changed=true), because a real run always sends.
  diff_mode:
    support: N/A
    details:
      - The module changes no configuration.
  idempotent:
    support: none
    details:
      - Every run sends a new message (or fires a new alert) and reports C(changed=true). This is deliberate. The module's
        purpose is the message, and a test that reported no change would hide that mail was sent. Call it only when the
        settings changed, as the role C(mailops.notify.mail_notifications) does, or when asked.
options:
  app:
    description:
      - The application to ask.
    type: str
    required: true
    choices: [mattermost, gitlab, alertmanager, gitea, ghes]
  api_url:
    description:
      - The application's base URL. For V(mattermost) this is the Site URL, for example V(https://mattermost.example.com)
        (required). For V(alertmanager) it defaults to V(http://127.0.0.1:9093) and includes any C(--web.route-prefix).
      - Redirects are not followed (the O(api_token) would go with them); give the final URL.
    type: str
  api_token:
    description:
      - A Mattermost personal access token of a system admin (sent as a C(Bearer) token in the C(Authorization) header). Required for V(mattermost).
      - Never returned; masked in RV(answer).
    type: str
  validate_certs:
    description:
      - Whether to verify the TLS certificate of O(api_url).
    type: bool
    default: true
  timeout:
    description:
      - Seconds for each HTTP request, or for the whole C(gitlab-rails runner) (which boots Rails first).
      - Defaults to V(30) for HTTP and V(600) for V(gitlab). At most V(3600).
    type: float
  to:
    description:
      - The recipient of GitLab's test email, a bare C(local@domain) address. Required for V(gitlab).
      - Refused for V(mattermost) (it mails the O(api_token) user) and V(alertmanager) (its receivers decide).
    type: str
  subject:
    description:
      - The subject of GitLab's test email; the module adds C([<token>]) to it.
      - Defaults to V(mailops.notify test message). At most 200 characters, one line.
      - Refused for V(mattermost) and V(alertmanager), whose subjects are their own.
    type: str
  token:
    description:
      - The token to put in the message (V(gitlab)) or the alert (V(alertmanager)); 8 to 64 letters, digits, V(.), V(_) or V(-).
      - Defaults to a new random token (C(mailops-) and 16 hex digits). Refused for V(mattermost), whose message cannot carry it.
    type: str
  labels:
    description:
      - Extra labels of the test alert (V(alertmanager)), so that a route sends it to the email receiver, for example
        C(severity) V(critical).
      - Names are Prometheus label names; C(alertname) and C(mailops_token) are set by the module. Values are one line.
    type: dict
  wait_timeout:
    description:
      - V(alertmanager) only. Seconds to wait after firing the alert for Alertmanager's email integration to try to send.
        Set it above the route's C(group_wait) (default 30 seconds).
      - V(0) (the default) returns once the alert is accepted, and then the SMTP hop is not proved.
      - The metrics count email attempts of the whole Alertmanager, not of this alert only.
    type: float
    default: 0
  alert_duration:
    description:
      - V(alertmanager) only. Seconds until the test alert resolves by itself (its C(endsAt)), from 60 to 86400.
      - It must outlast the route's C(group_wait), or C(group_interval) when the alert joins an existing group.
    type: int
    default: 600
  gitlab_rails:
    description:
      - The C(gitlab-rails) program. Defaults to C(/usr/bin/gitlab-rails), then C(/opt/gitlab/bin/gitlab-rails), then
        C(gitlab-rails) on the PATH.
    type: path
seealso:
  - module: mailops.notify.smtp_test
  - module: mailops.notify.mail_log_info
  - module: mailops.notify.smtp_settings
"""

EXAMPLES = r"""
- name: Ask Mattermost to send its test email
  mailops.notify.app_email_test:
    app: mattermost
    api_url: https://mattermost.example.com
    api_token: "{{ vault_mattermost_admin_token }}"
  register: mm_test

- name: Show where Mattermost's message went
  ansible.builtin.debug:
    msg: "{{ mm_test.follow.recipient }} between {{ mm_test.follow.sent_after }} and {{ mm_test.follow.sent_before }}"

- name: Ask GitLab to send a test email with a token in the subject
  mailops.notify.app_email_test:
    app: gitlab
    to: ops@example.com
  become: true
  register: gitlab_test

- name: Follow GitLab's message in the relay's log
  mailops.notify.mail_log_info:
    message_id: "{{ gitlab_test.follow.message_id }}"
  when: gitlab_test.follow.message_id

- name: Fire a test alert and wait for Alertmanager's email
  mailops.notify.app_email_test:
    app: alertmanager
    labels:
      severity: critical
    wait_timeout: 90

- name: Test the settings after a change only
  mailops.notify.app_email_test:
    app: gitlab
    to: ops@example.com
  become: true
  when: gitlab_email is changed
"""

RETURN = r"""
app:
  description: The application that was asked.
  returned: always except for a refused option
  type: str
  sample: gitlab
method:
  description: What the module asked the application, in words.
  returned: always except for a refused option
  type: str
  sample: "/usr/bin/gitlab-rails runner: Notify.test_email(to, subject, body).deliver_now (values passed in MAILOPS_TEST_* variables)"
token:
  description:
    - The token in the message's subject (V(gitlab)) or in the test alert (V(alertmanager)).
    - V(null) for V(mattermost), whose message cannot carry one (see RV(follow)).
  returned: always except for a refused option
  type: str
  sample: mailops-3f9a1c2b7d4e6a80
token_in_subject:
  description: Whether the message's subject carries RV(token).
  returned: always except for a refused option
  type: bool
  sample: true
proved:
  description:
    - The hops of the mail path that this run proves, from V(module -> application) (the application was reached and
      accepted the request), then V(application -> SMTP server) (its SMTP server accepted the message) or V(application -> local
      MTA (sendmail)) (GitLab without SMTP).
    - Delivery to the mailbox is never proved here; follow the message with RV(follow) and M(mailops.notify.mail_log_info).
  returned: always except for a refused option
  type: list
  elements: str
  sample: ["module -> application", "application -> SMTP server"]
not_proved:
  description: The hops this run does not prove.
  returned: always except for a refused option
  type: list
  elements: str
  sample: ["SMTP server -> recipient mailbox"]
failed_hop:
  description: The hop that failed.
  returned: failure after the options were accepted
  type: str
  sample: application -> SMTP server
follow:
  description: How to find the message.
  returned: always except for a refused option
  type: dict
  contains:
    recipient:
      description: The recipient (O(to) for V(gitlab); the O(api_token) user's address for V(mattermost); V(null) for V(alertmanager)).
      type: str
      returned: always
    subject:
      description: The subject, or what it contains.
      type: str
      returned: always
    message_id:
      description: The Message-ID GitLab gave the message (without angle brackets).
      type: str
      returned: always (V(null) except for V(gitlab))
    sent_after:
      description: UTC time before the request (ISO 8601).
      type: str
      returned: always (V(null) in check mode)
    sent_before:
      description: UTC time after the answer; for V(alertmanager) when the email attempt was seen (with O(wait_timeout)).
      type: str
      returned: always (may be V(null))
    note:
      description: How to recognise the message.
      type: str
      returned: always
  sample:
    recipient: ops@example.com
    subject: mailops.notify test message [mailops-3f9a1c2b7d4e6a80]
    message_id: 65a1b2c3d4e5f_1a2b3c4d5e6f7@gitlab.example.com.mail
    sent_after: "2026-12-03T18:12:49Z"
    sent_before: "2026-12-03T18:13:05Z"
    note: find the message by the token in its subject, or by its Message-ID in the relay's log
answer:
  description:
    - The application's answer, every form of O(api_token) masked. HTTP answers have C(request), C(status) and C(body)
      (JSON or a short text); V(alertmanager) adds C(receivers), C(state) and, with O(wait_timeout), C(email_requests);
      V(gitlab) has C(rc), C(stdout), C(stderr) (at most 2000 characters each) and C(delivery_method).
  returned: always except for a refused option (V(null) in check mode)
  type: dict
  sample:
    request: POST https://mattermost.example.com/api/v4/email/test
    status: 500
    body:
      id: app.admin.test_email.failure
      message: "Connection unsuccessful: unable to connect to the SMTP server: dial tcp 10.0.0.5:587: connect: connection refused"
      detailed_error: ""
      status_code: 500
msg:
  description: What happened, in one sentence.
  returned: always
  type: str
  sample: "Mattermost sent its test email to admin@example.com; the SMTP server accepted it"
"""

import datetime
import os
from urllib.error import HTTPError, URLError

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.mailops.notify.plugins.module_utils._app_ghes import HttpResponse
from ansible_collections.mailops.notify.plugins.module_utils._app_test import (
    APPS,
    HOP_APP,
    MAX_READ_BYTES,
    AppTestFailure,
    AppTestInputError,
    AppTestUnsupported,
    alertmanager_test,
    build_plan,
    describe,
    failure_result,
    find_gitlab_rails,
    gitlab_command,
    gitlab_result,
    mattermost_test,
)


class OpenUrlTransport:
    """HttpTransport on Ansible's open_url: certificates checked, no redirects (the token would follow), bounded reads."""

    def __init__(self, module: AnsibleModule, timeout: float) -> None:
        self.module = module
        self.timeout = timeout

    def request(self, method, url, body=None, headers=None):
        try:
            response = open_url(
                url,
                data=body,
                headers=headers or {},
                method=method,
                validate_certs=self.module.params["validate_certs"],
                timeout=self.timeout,
                follow_redirects="none",
            )
            return HttpResponse(response.getcode(), response.read(MAX_READ_BYTES))
        except HTTPError as exc:
            return HttpResponse(exc.code, exc.read(MAX_READ_BYTES) if exc.fp else b"")
        except URLError as exc:
            raise AppTestFailure(f"cannot reach {url}: {to_native(exc.reason)}", failed_hop=HOP_APP) from None
        except (UrlsConnectionError, OSError) as exc:
            raise AppTestFailure(f"cannot reach {url}: {to_native(exc)}", failed_hop=HOP_APP) from None


def run_gitlab(module, plan):
    binary = find_gitlab_rails(plan, lambda path: os.path.isfile(path) and os.access(path, os.X_OK), module.get_bin_path)
    timeout_binary = module.get_bin_path("timeout")
    if not timeout_binary:
        module.warn("coreutils timeout was not found: the gitlab-rails runner is not bounded in time")
    argv, env = gitlab_command(plan, binary, timeout_binary)
    started = datetime.datetime.now(datetime.timezone.utc)
    rc, stdout, stderr = module.run_command(argv, environ_update=env)
    finished = datetime.datetime.now(datetime.timezone.utc)
    return gitlab_result(plan, rc, stdout, stderr, started=started, finished=finished, bounded=bool(timeout_binary))


def argument_spec() -> dict:
    return {
        "app": {"type": "str", "required": True, "choices": list(APPS)},
        "api_url": {"type": "str"},
        "api_token": {"type": "str", "no_log": True},
        "validate_certs": {"type": "bool", "default": True},
        "timeout": {"type": "float"},
        "to": {"type": "str"},
        "subject": {"type": "str"},
        "token": {"type": "str", "no_log": False},
        "labels": {"type": "dict"},
        "wait_timeout": {"type": "float", "default": 0},
        "alert_duration": {"type": "int", "default": 600},
        "gitlab_rails": {"type": "path"},
    }


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    app = module.params["app"]
    try:
        plan = build_plan(module.params)
    except AppTestInputError as exc:
        module.fail_json(msg=f"Invalid options for app={app}: {exc}", option=exc.option, rule=exc.rule)
    except AppTestUnsupported as exc:
        module.fail_json(msg=f"app={app} cannot send a test email itself: {exc}", app=app)
    if module.check_mode:
        module.exit_json(**describe(plan))
    try:
        if app == "mattermost":
            result = mattermost_test(OpenUrlTransport(module, plan.timeout), plan)
        elif app == "gitlab":
            result = run_gitlab(module, plan)
        else:
            result = alertmanager_test(OpenUrlTransport(module, plan.timeout), plan)
    except AppTestFailure as exc:
        module.fail_json(msg=plan.redactor().text(str(exc)), **failure_result(plan, exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
