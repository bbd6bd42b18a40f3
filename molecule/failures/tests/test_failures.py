"""Failures on a working appliance: each run ends with the collection's diagnosis, the previous configuration keeps
serving, and mail queued while the relay is down is delivered once it is back."""

from __future__ import annotations

import base64
import gzip
import json
import os
import shlex
import stat
import subprocess
import tarfile
import time
import uuid

import pytest
import testinfra

testinfra_hosts = ["podman://appliance"]

FQDN = "appliance.mailops.test"
NOREPLY = f"noreply@noreply.{FQDN}"
RECIPIENT = "ops@provider.test"
RELAY_MAILDIR = "/var/mail/relay/inbox"
PASSWORD = "lab-relay-secret-7f3a"  # the lab's throw-away relay password (molecule/default/group_vars/all.yml)
CONFIG = "/etc/postfix/main.cf /etc/postfix/sasl_passwd /etc/postfix/sasl_passwd.db"
WAIT = 30


@pytest.fixture(scope="module")
def relay():
    return testinfra.get_host("podman://relay")


def run_playbook(*extra):
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3", ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    command = ["ansible-playbook", "-i", inventory, "mailops.notify.configure_notifications", "-e", "mail_notifications_target=appliance"]
    command += ["-e", "mail_notifications_dns_enabled=false"]
    for item in extra:
        command += ["-e", item]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


def send_notification(appliance):
    token = uuid.uuid4().hex
    message = f"From: {NOREPLY}\nTo: {RECIPIENT}\nSubject: notification {token}\n\nbody {token}\n"
    sent = appliance.run(f"printf %s {shlex.quote(message)} | /usr/sbin/sendmail -f {NOREPLY} {RECIPIENT}")
    assert sent.rc == 0, sent.stderr
    return token


def arrived(relay, token, wait=WAIT):
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if relay.run(f"grep -r -l -F -e {token} {RELAY_MAILDIR}/new").stdout.strip():
            return True
        time.sleep(1)
    return False


def assert_fails_with_old_config_serving(host, relay, result, *messages):
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    for message in messages:
        assert message in output, output[-4000:]
    assert PASSWORD not in output and "wrong-password-5e1d" not in output
    # The previous configuration still serves: a notification goes out through the relay.
    assert arrived(relay, send_notification(host))


@pytest.fixture(scope="module")
def config_before(host):
    return host.check_output(f"sha256sum {CONFIG}")


def test_wrong_relay_password_is_diagnosed_before_the_change(host, relay, config_before):
    result = run_playbook("mail_notifications_relay_password=wrong-password-5e1d")
    assert_fails_with_old_config_serving(host, relay, result, "auth_failed", "535")
    assert host.check_output(f"sha256sum {CONFIG}") == config_before


def test_starttls_not_offered_is_diagnosed_before_the_change(host, relay, config_before):
    result = run_playbook("mail_notifications_relay_port=2525")
    assert_fails_with_old_config_serving(host, relay, result, "STARTTLS")
    assert host.check_output(f"sha256sum {CONFIG}") == config_before


def test_invalid_variables_are_refused_before_the_change(host, relay, config_before):
    result = run_playbook('{"mail_notifications_postfix_extra": {"smtp_tls_wrappermode": "maybe"}}')
    assert_fails_with_old_config_serving(host, relay, result, "mail_notifications_postfix_extra: smtp_tls_wrappermode = maybe is not one of yes, no")
    assert host.check_output(f"sha256sum {CONFIG}") == config_before


def test_relay_down_is_diagnosed_and_queued_mail_arrives_when_it_is_back(host, relay, config_before):
    relay.run("systemctl stop postfix")
    try:
        result = run_playbook()
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert "connection_refused" in output or "refused" in output.lower(), output[-4000:]
        assert host.check_output(f"sha256sum {CONFIG}") == config_before
        token = send_notification(host)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and "status=deferred" not in host.run("journalctl --no-pager -q -t postfix/smtp -n 20").stdout:
            time.sleep(1)
        queue = host.check_output("postqueue -j")
        assert RECIPIENT in queue, "the notification must wait in the queue while the relay is down"
        assert not arrived(relay, token, wait=2)
    finally:
        relay.run("systemctl start postfix")
    assert relay.service("postfix").is_running
    host.run("postqueue -f")
    assert arrived(relay, token), "the queued notification was not delivered once the relay was back"
    assert host.check_output("postqueue -j") == ""


# The troubleshooting playbook on the same broken states: one verdict line names the cause, and the support
# bundle written on the controller carries no form of the relay password.
USERNAME = "notify"  # molecule/default/group_vars/all.yml lab_relay_user
WRONG = "wrong-password-5e1d"
TSIG = "hmac-sha256:mailops-lab:bWFpbG9wcy1sYWItdHNpZy1rZXktZm9yLXRlc3RzLW9ubHk="  # group_vars lab_tsig_*
REPLY_DOMAIN = f"reply.{FQDN}"


def secret_forms(password):
    encoded = [f"\0{USERNAME}\0{password}", f"{USERNAME}\0{USERNAME}\0{password}", password]
    return [password, *(base64.b64encode(form.encode()).decode() for form in encoded)]


def troubleshoot(tmp_path, host, *extra):
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3", ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    address = host.check_output("hostname -I").split()[0]
    nameserver = testinfra.get_host("podman://dns").check_output("hostname -I").split()[0]
    command = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "mailops.notify.troubleshoot_email"]
    # The lab connects as root, and its containers have no sudo.
    command += ["-e", "troubleshoot_hosts=appliance", "-e", "troubleshoot_become=false", "-e", f"troubleshoot_bundle_dir={tmp_path}"]
    command += ["-e", json.dumps({"troubleshoot_dns_address": [address], "troubleshoot_dns_nameservers": [nameserver]})]
    for item in extra:
        command += ["-e", item]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    bundles = sorted(tmp_path.glob("*.tar.gz"))
    assert len(bundles) == 1, output[-4000:]
    with tarfile.open(bundles[0]) as tar:
        members = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    assert {"verdict.txt", "report.html", "evidence.json", "postconf.txt"} <= set(members), sorted(members)
    assert stat.S_IMODE(bundles[0].stat().st_mode) == 0o600
    everything = output.encode() + gzip.decompress(bundles[0].read_bytes())
    for form in secret_forms(PASSWORD) + secret_forms(WRONG):
        assert form.encode() not in everything, "a form of the relay password is in the output or the bundle"
    return output, members["verdict.txt"].decode()


def test_troubleshoot_names_a_wrong_relay_password(tmp_path, host):
    output, verdict = troubleshoot(tmp_path, host, f"mail_notifications_relay_password={WRONG}")
    assert "outbound: relay rejects the credentials (535" in verdict, verdict
    assert "relay rejects the credentials (535" in output


def test_troubleshoot_names_a_missing_mx(tmp_path, host):
    dns = testinfra.get_host("podman://dns")
    change = "server 127.0.0.1\nupdate {op} {name} 3600 IN MX 10 {name}.\nsend\n"
    removed = dns.run(f"printf %s {shlex.quote(change.format(op='delete', name=REPLY_DOMAIN))} | nsupdate -y {TSIG}")
    assert removed.rc == 0, removed.stderr
    try:
        _output, verdict = troubleshoot(tmp_path, host)
    finally:
        restored = dns.run(f"printf %s {shlex.quote(change.format(op='add', name=REPLY_DOMAIN))} | nsupdate -y {TSIG}")
    assert restored.rc == 0, restored.stderr
    assert f"inbound: MX for {REPLY_DOMAIN} missing" in verdict, verdict


def test_troubleshoot_names_port_25_closed_by_the_firewall(tmp_path, host):
    rules = host.check_output("nft -a list chain inet filter input")
    handles = [line.rsplit("# handle ", 1)[1] for line in rules.splitlines() if "tcp dport 25 accept" in line]
    assert handles, rules
    for handle in handles:
        host.run_test(f"nft delete rule inet filter input handle {handle}")
    try:
        _output, verdict = troubleshoot(tmp_path, host)
    finally:
        host.run_test(f"nft -f {shlex.quote('/etc/nftables.conf')}")
    assert "tcp dport 25 accept" in host.check_output("nft list chain inet filter input")
    assert "inbound: port 25 is closed by the firewall (nftables)" in verdict, verdict
