"""Real notification senders, no stand-in: Prometheus Alertmanager and GitLab's mail library deliver into the relay's Maildir.

Every delivery prints its path, token and Maildir file (the scenario runs pytest with -s, so the molecule log shows them).
The tests run in this order: the first one reads what the role's converge and idempotence runs did to Alertmanager.
"""

from __future__ import annotations

import json
import re
import shlex
import time
import uuid
from email import message_from_string

import pytest
from conftest import RELAY_MAILDIR, lab, run_playbook, wait_for_file_with

testinfra_hosts = ["podman://apps-appliance"]

FQDN = "appliance.mailops.test"
NOREPLY = f"noreply@noreply.{FQDN}"
RECIPIENT = "ops@provider.test"
PASSWORD = "lab-relay-secret-7f3a"  # the lab's throw-away relay password (group_vars/all.yml)
STATE = "/var/lib/mailops-lab"
CONFIG = "/etc/prometheus/alertmanager.yml"
API = "http://127.0.0.1:9093"
GITLAB_RB = "/etc/gitlab/gitlab.rb"
# The relay's Received header of a message submitted over TLS (smtpd_tls_received_header) with AUTH: ESMTPSA, or UTF8SMTPSA
# when the client asked for SMTPUTF8 (Alertmanager does).
SUBMITTED = r"\(using TLSv1\.[23] with cipher .* by relay\.mailops\.test \(Postfix\) with (UTF8SMTPSA|ESMTPSA) id "


def alertmanager_journal(appliance, cursor_file=f"{STATE}/journal.cursor"):
    cursor = appliance.file(cursor_file).content_string.strip()
    return appliance.check_output(f"journalctl --no-pager -o cat -u prometheus-alertmanager --after-cursor={shlex.quote(cursor)}")


def metric(appliance, name):
    text = appliance.check_output(f"curl -fsS {API}/metrics")
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ") or line.startswith(name + "{")]
    return sum(values)


def fire(appliance, token, path, ends_at=None):
    """POST one alert with a unique alertname (Alertmanager notifies each group once) carrying the token."""
    alert = {"labels": {"alertname": f"MailopsLab_{token}", "token": token, "path": path}, "annotations": {"summary": f"lab alert {token} via {path}"}}
    if ends_at:
        alert["endsAt"] = ends_at
    posted = appliance.run(f"curl -fsS -X POST -H 'Content-Type: application/json' --data {shlex.quote(json.dumps([alert]))} {API}/api/v2/alerts")
    assert posted.rc == 0, posted.stderr


def received_chain(relay, path):
    message = message_from_string(relay.file(path).content_string)
    return message, [" ".join(header.split()) for header in message.get_all("Received", [])]


def relay_service_of(relay, received):
    """The relay's smtpd service (postfix/submission = 587, postfix/submissions = 465) that took the message, and its log line."""
    queue_id = re.search(r"by relay\.mailops\.test \(Postfix\) with \S+ id (\w+)", received).group(1)
    line = relay.check_output(f"journalctl --no-pager -q --grep {shlex.quote(queue_id + ': client=')}")
    service = re.search(r" (postfix/[a-z]+)/smtpd\[\d+\]: ", line)
    return service.group(1) if service else line, line


def report(path_name, token, maildir_file):
    print(f"\n[delivered] {path_name}: token {token} -> relay:{maildir_file}")


def set_alertmanager_smtp(**extra):
    result = run_playbook("app_smtp.yml", {"lab_app": "alertmanager", **extra})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert PASSWORD not in result.stdout + result.stderr
    return result


# --- The role: mail_notifications_app: alertmanager -------------------------------------------------------------------


def test_the_role_reloaded_alertmanager_exactly_once(appliance):
    """converge changed the settings and reloaded Alertmanager once; idempotence changed nothing and reloaded nothing."""
    journal = alertmanager_journal(appliance)
    assert journal.count("Completed loading of configuration file") == 1, journal
    assert journal.count("Reloaded prometheus-alertmanager.service") == 1, journal
    assert "Started prometheus-alertmanager" not in journal and "Stopped prometheus-alertmanager" not in journal, journal
    # the same process as after prepare: reloaded, never restarted
    recorded = appliance.file(f"{STATE}/alertmanager.pid").content_string.strip()
    assert appliance.check_output("systemctl show -p MainPID --value prometheus-alertmanager") == recorded
    assert metric(appliance, "alertmanager_config_last_reload_successful") == 1
    assert not appliance.file("/var/lib/mailops-notify/apply-pending-alertmanager.json").exists
    print(f"\n[apply] converge + idempotence: Alertmanager (pid {recorded}) reloaded once, not restarted")


def test_an_alert_reaches_the_relay_through_the_local_postfix_the_role_configured(appliance, relay):
    config = appliance.file(CONFIG).content_string
    assert "smtp_smarthost: 'localhost:25'" in config or 'smtp_smarthost: "localhost:25"' in config
    assert "smtp_require_tls: false" in config and f'smtp_from: "Alertmanager <{NOREPLY}>"' in config
    token = uuid.uuid4().hex
    fire(appliance, token, "role-local-postfix")
    path = wait_for_file_with(relay, RELAY_MAILDIR, token)
    message, received = received_chain(relay, path)
    assert message["From"] == f"Alertmanager <{NOREPLY}>"
    assert message["Return-Path"] == f"<{NOREPLY}>"
    assert f"MailopsLab_{token}" in message["Subject"]
    # Alertmanager -> the appliance's Postfix on localhost:25 -> the relay on 587, authenticated, over verified TLS
    assert any(f"by {FQDN} (Postfix) with ESMTP" in line and "(localhost [127.0.0.1])" in line for line in received), received
    assert any(re.search(SUBMITTED, line) for line in received), received
    assert "(Authenticated sender: notify@mailops.test)" in relay.file(path).content_string
    service, _line = relay_service_of(relay, received[0])
    assert service == "postfix/submission"
    report("Alertmanager -> role's local Postfix -> relay:587", token, path)


# --- smtp_settings app=alertmanager straight to the relay ---------------------------------------------------------------

DIRECT = [
    pytest.param({"lab_port": 587, "lab_security": "starttls"}, "postfix/submission", id="587-starttls"),
    pytest.param({"lab_port": 465, "lab_security": "tls"}, "postfix/submissions", id="465-implicit-tls"),
]


@pytest.mark.parametrize(("settings", "service"), DIRECT)
def test_an_alert_reaches_the_relay_straight_from_alertmanager(appliance, relay, settings, service):
    set_alertmanager_smtp(**settings)
    config = appliance.file(CONFIG)
    assert f'smtp_smarthost: "relay:{settings["lab_port"]}"' in config.content_string
    assert f"smtp_require_tls: {'true' if settings['lab_security'] == 'starttls' else 'false'}" in config.content_string
    token = uuid.uuid4().hex
    fire(appliance, token, f"direct-{settings['lab_port']}")
    path = wait_for_file_with(relay, RELAY_MAILDIR, token)
    message, received = received_chain(relay, path)
    assert message["From"] == f"Alertmanager lab <alertmanager@{FQDN}>"
    assert not any(f"by {FQDN} (Postfix)" in line for line in received), received  # not through the appliance's Postfix
    assert len(received) == 1 and re.search(SUBMITTED, received[0]), received
    got_service, line = relay_service_of(relay, received[0])
    assert got_service == service and "sasl_method=PLAIN, sasl_username=notify@mailops.test" in line, line
    report(f"Alertmanager -> relay:{settings['lab_port']} ({settings['lab_security']}, AUTH, lab CA in the system store)", token, path)


def test_the_file_with_the_password_is_not_world_readable(appliance):
    config = appliance.file(CONFIG)
    assert f'smtp_auth_password: "{PASSWORD}"' in config.content_string  # this is the file that holds it
    assert (config.user, config.group, config.mode) == ("root", "prometheus", 0o640)
    assert config.mode & 0o007 == 0
    assert appliance.run(f"runuser -u nobody -- cat {CONFIG}").rc != 0
    assert appliance.run(f"runuser -u prometheus -- cat {CONFIG}").rc == 0


def test_a_wrong_password_fails_in_alertmanager_and_the_restored_one_delivers(appliance, relay):
    """With a wrong password Alertmanager's own send fails (535, logged and counted) and no mail arrives, while the role's
    path through the local Postfix keeps delivering; the right password put back delivers again."""
    wrong = "wrong-" + uuid.uuid4().hex[:8]
    appliance.check_output(f"journalctl -n 0 --show-cursor | sed -n 's/^-- cursor: //p' > {STATE}/wrong.cursor")
    failed_before = metric(appliance, 'alertmanager_notification_requests_failed_total{integration="email"}')
    set_alertmanager_smtp(lab_port=465, lab_security="tls", lab_password=wrong)
    token = uuid.uuid4().hex
    fire(appliance, token, "direct-465-wrong-password")
    deadline, journal = time.monotonic() + 30, ""
    while time.monotonic() < deadline and "535" not in journal:
        time.sleep(1)
        journal = alertmanager_journal(appliance, f"{STATE}/wrong.cursor")
    error = next((line for line in journal.splitlines() if "535" in line), None)
    assert error and "authentication failed" in error, journal
    assert metric(appliance, 'alertmanager_notification_requests_failed_total{integration="email"}') > failed_before
    assert wrong not in journal and PASSWORD not in journal
    print(f"\n[refused] Alertmanager -> relay:465 with a wrong password: {error[error.find('err=') :][:200]}")
    # meanwhile the path through the role's Postfix still delivers
    other = uuid.uuid4().hex
    mail = f"From: {NOREPLY}\nTo: {RECIPIENT}\nSubject: postfix {other}\n\nbody {other}\n"
    assert appliance.run(f"printf %s {shlex.quote(mail)} | /usr/sbin/sendmail -f {NOREPLY} {RECIPIENT}").rc == 0
    report("sendmail -> role's local Postfix -> relay:587 (while Alertmanager's password is wrong)", other, wait_for_file_with(relay, RELAY_MAILDIR, other))
    found = relay.run(f"grep -l -r -F -e {token} {RELAY_MAILDIR}/new")
    assert found.stdout == "", f"the alert sent with a wrong password arrived: {found.stdout}"
    # resolve the refused alert (no notification for resolved alerts), then put the right password back
    fire(appliance, token, "direct-465-wrong-password", ends_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    set_alertmanager_smtp(lab_port=465, lab_security="tls")
    again = uuid.uuid4().hex
    fire(appliance, again, "direct-465-restored")
    report("Alertmanager -> relay:465 (password restored)", again, wait_for_file_with(relay, RELAY_MAILDIR, again))


# --- GitLab: the gitlab.rb that smtp_settings writes, evaluated and delivered with the Mail gem --------------------------

GITLAB = [
    pytest.param({"lab_port": 587, "lab_security": "starttls"}, "postfix/submission", id="587-starttls"),
    pytest.param({"lab_port": 465, "lab_security": "tls"}, "postfix/submissions", id="465-implicit-tls"),
]


def gitlab_mail(appliance, gitlab_rb, subject):
    return appliance.run(f"ruby {STATE}/gitlab_mail.rb {shlex.quote(gitlab_rb)} {RECIPIENT} {shlex.quote(subject)}")


@pytest.mark.parametrize(("settings", "service"), GITLAB)
def test_gitlab_s_mail_library_delivers_with_the_gitlab_rb_smtp_settings_wrote(appliance, relay, settings, service):
    result = run_playbook("app_smtp.yml", {"lab_app": "gitlab", **settings})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert PASSWORD not in result.stdout + result.stderr
    rb = appliance.file(GITLAB_RB).content_string
    assert f"gitlab_rails['smtp_port'] = {settings['lab_port']}" in rb
    token = uuid.uuid4().hex
    sent = gitlab_mail(appliance, GITLAB_RB, f"gitlab {token}")
    assert sent.rc == 0, sent.stdout + sent.stderr
    assert PASSWORD not in sent.stdout + sent.stderr
    print("\n" + sent.stdout.strip())
    expected = {"address": "relay", "port": settings["lab_port"], "authentication": "login", "user_name": "notify", "password": "********",
                "ca_file": "/etc/mailops-lab/ca.crt", "openssl_verify_mode": "peer"}  # fmt: skip
    used = json.loads(sent.stdout.split("Mail::SMTP settings: ", 1)[1].splitlines()[0])
    assert {key: used.get(key) for key in expected} == expected
    if settings["lab_security"] == "tls":
        assert used["tls"] is True and used["enable_starttls_auto"] is False
    else:
        assert used["enable_starttls_auto"] is True and used.get("tls") in (None, False)
    path = wait_for_file_with(relay, RELAY_MAILDIR, token)
    message, received = received_chain(relay, path)
    assert message["From"] == f"Gitlab lab <gitlab@{FQDN}>"
    assert len(received) == 1 and re.search(SUBMITTED, received[0]), received
    got_service, line = relay_service_of(relay, received[0])
    assert got_service == service and "sasl_method=LOGIN, sasl_username=notify@mailops.test" in line, line
    report(f"Mail gem (GitLab's gitlab.rb) -> relay:{settings['lab_port']} ({settings['lab_security']}, AUTH, smtp_ca_file)", token, path)


def test_gitlab_s_mail_library_checks_the_relay_s_name_in_its_certificate(appliance):
    """The same gitlab.rb with the relay's address instead of its name: the certificate does not name it, delivery fails."""
    address = lab("relay").check_output("hostname -I").split()[0]
    copy = f"{STATE}/gitlab-by-address.rb"
    script = f's/^gitlab_rails\\[.smtp_address.\\] = .*/gitlab_rails["smtp_address"] = "{address}"/'
    appliance.check_output(f"umask 077 && sed {shlex.quote(script)} {GITLAB_RB} > {copy}")
    assert f'gitlab_rails["smtp_address"] = "{address}"' in appliance.file(copy).content_string
    sent = gitlab_mail(appliance, copy, f"gitlab by address {uuid.uuid4().hex}")
    appliance.run(f"rm -f {copy}")
    assert sent.rc != 0
    assert "certificate verify failed" in sent.stderr or "hostname" in sent.stderr, sent.stderr[-2000:]
    print(f"\n[refused] Mail gem -> relay by address {address}: {sent.stderr.strip().splitlines()[0][:200]}")
