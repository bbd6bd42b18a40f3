"""The mail path proven end to end on the lab: appliance -> relay (STARTTLS + AUTH), outside -> appliance (MX), no open relay."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
import uuid

import pytest
from conftest import lab

# Every test runs once and reaches the hosts it needs through `podman exec` (the molecule podman driver's
# containers, in the podman configuration that lab/lab.sh env exported).
testinfra_hosts = ["podman://appliance"]

FQDN = "appliance.mailops.test"
REPLY_DOMAIN = f"reply.{FQDN}"
NOREPLY = f"noreply@noreply.{FQDN}"
RECIPIENT = "ops@provider.test"
RELAY_MAILDIR = "/var/mail/relay/inbox"
REPLY_MAILDIR = "/var/mail/mailops/reply"
PASSWORD = "lab-relay-secret-7f3a"  # the lab's throw-away relay password (molecule/default/group_vars/all.yml)
TSIG_SECRET = "bWFpbG9wcy1sYWItdHNpZy1rZXktZm9yLXRlc3RzLW9ubHk="  # the lab's throw-away TSIG key
WAIT = 30


def wait_for_file_with(host, directory, token):
    """The path of the message in a Maildir's new/ that contains token, waiting at most WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = host.run(f"grep -l -r -F -e {shlex.quote(token)} {directory}/new")
        if found.rc == 0 and found.stdout.strip():
            return found.stdout.split()[0]
        time.sleep(1)
    raise AssertionError(f"no message with {token} in {directory}/new after {WAIT} s")


def postconf(host):
    out = host.check_output("postconf -n")
    return dict(line.split(" = ", 1) if " = " in line else (line.rstrip(" ="), "") for line in out.splitlines())


def test_postfix_runs_with_the_expected_configuration(appliance):
    assert appliance.service("postfix").is_running
    assert appliance.service("postfix").is_enabled
    conf = postconf(appliance)
    expected = {
        "myhostname": FQDN,
        "relayhost": "[relay]:587",
        "smtp_tls_security_level": "secure",
        "smtp_tls_wrappermode": "no",
        "smtp_tls_CAfile": "/etc/mailops-lab/ca.crt",
        "smtp_sasl_auth_enable": "yes",
        "smtp_sasl_password_maps": "hash:/etc/postfix/sasl_passwd",
        "smtp_sasl_security_options": "noplaintext, noanonymous",
        "smtp_sasl_tls_security_options": "noanonymous",
        "inet_interfaces": "all",
        "mydestination": "localhost",
        "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
        "smtpd_recipient_restrictions": (
            "permit_mynetworks, reject_non_fqdn_recipient, reject_unauth_destination,"
            f" check_recipient_access inline:{{ {REPLY_DOMAIN}=OK, noreply.{FQDN}=OK }}, reject"
        ),
        "parent_domain_matches_subdomains": "debug_peer_list, fast_flush_domains, mynetworks, permit_mx_backup_networks, qmqpd_authorized_clients",
        "virtual_alias_domains": "",
        "virtual_alias_maps": f"inline:{{ postmaster@{FQDN}=root@localhost }}",
        "virtual_mailbox_domains": REPLY_DOMAIN,
        "virtual_mailbox_base": "/var/mail/mailops",
        "relay_domains": f"noreply.{FQDN}",
        "transport_maps": "hash:/etc/postfix/mailops_transport",
        "smtpd_tls_security_level": "may",
        "allow_percent_hack": "no",
    }
    assert {key: conf.get(key) for key in expected} == expected
    assert conf["mynetworks"].split()[0] == "127.0.0.0/8"
    assert "10." not in conf["mynetworks"]
    check = appliance.run("postfix check")
    assert check.rc == 0 and check.stderr == "", check.stderr


def test_credentials_are_root_only_and_out_of_main_cf(appliance):
    map_type = postconf(appliance)["smtp_sasl_password_maps"].split(":", 1)[0]
    database = "/etc/postfix/sasl_passwd." + {"hash": "db", "btree": "db", "lmdb": "lmdb", "cdb": "cdb"}[map_type]
    for path in ("/etc/postfix/sasl_passwd", database):
        f = appliance.file(path)
        assert f.exists, path
        assert (f.user, f.group, f.mode) == ("root", "root", 0o600), path
    assert appliance.file("/etc/postfix/sasl_passwd").content_string.splitlines()[-1] == f"[relay]:587 notify:{PASSWORD}"
    assert PASSWORD not in appliance.file("/etc/postfix/main.cf").content_string
    # Nowhere else on the host: not in another Postfix file, the application's config, a left-over temporary file or a log.
    found = appliance.run(f"grep -r -l -F -e {PASSWORD} /etc /opt /root /home /tmp /var /run /srv /usr/local")
    assert sorted(found.stdout.split()) == ["/etc/postfix/sasl_passwd", database]


# Runs on the appliance: records every inotify event on /etc/postfix/sasl_passwd* with the file's mode and size then.
WATCH_CREDENTIALS = r"""
import ctypes, ctypes.util, json, os, struct, sys
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
fd = libc.inotify_init()
assert libc.inotify_add_watch(fd, b"/etc/postfix", 0xFFF) >= 0
out = open(sys.argv[1], "w", buffering=1)
out.write("[]\n")
while True:
    events, at = os.read(fd, 65536), 0
    while at < len(events):
        _wd, mask, _cookie, length = struct.unpack_from("iIII", events, at)
        name = events[at + 16 : at + 16 + length].rstrip(b"\0").decode()
        at += 16 + length
        if name.startswith("sasl_passwd"):
            try:
                st = os.stat("/etc/postfix/" + name)
                out.write(json.dumps([name, mask, st.st_mode & 0o7777, st.st_uid, st.st_size]) + "\n")
            except FileNotFoundError:
                out.write(json.dumps([name, mask, None, None, None]) + "\n")
"""


def test_credential_file_is_root_only_before_the_first_credential_byte(appliance):
    """On a first run the credentials go into a file that already exists, empty, 0600 root.

    Ansible's atomic_move renames a new file into place with the default mode (0644 under umask 022) and only then
    applies mode 0600; into an existing file it copies that file's mode and owner before the rename.
    """
    address = lab("dns").check_output("hostname -I").split()[0]
    appliance.check_output("rm -f /etc/postfix/sasl_passwd /etc/postfix/sasl_passwd.db /etc/postfix/sasl_passwd.lmdb")
    log = "/run/mailops-watch-credentials.log"
    appliance.check_output(f"systemd-run --unit=mailops-watch-credentials --collect python3 -c {shlex.quote(WATCH_CREDENTIALS)} {log}")
    try:
        assert appliance.run(f"for i in $(seq 50); do test -s {log} && exit 0; sleep 0.1; done; exit 1").rc == 0
        result = run_playbook("configure_notifications", f"mail_notifications_dns_server={address}", f'{{"mail_notifications_dns_nameservers": ["{address}"]}}')
        assert result.returncode == 0, result.stdout[-3000:]
        assert PASSWORD not in result.stdout + result.stderr
    finally:
        appliance.run("systemctl stop mailops-watch-credentials")
    events = [json.loads(line) for line in appliance.file(log).content_string.splitlines()[1:]]
    seen = [(mode, uid, size) for name, _mask, mode, uid, size in events if name == "sasl_passwd" and mode is not None]
    assert seen, events
    assert seen[0][2] == 0, f"sasl_passwd appeared with its content (mode {seen[0][0]:o}), not empty: {events}"
    first_content = next(i for i, (_mode, _uid, size) in enumerate(seen) if size)
    assert (seen[first_content - 1][0], seen[first_content - 1][1]) == (0o600, 0), events  # 0600 root before any byte
    assert all((mode, uid) == (0o600, 0) for mode, uid, size in seen if size), events
    databases = [(mode, size) for name, _mask, mode, _uid, size in events if name != "sasl_passwd" and mode is not None]
    assert databases and all(mode == 0o600 for mode, size in databases if size), events
    test_credentials_are_root_only_and_out_of_main_cf(appliance)


def test_firewall_opens_25_tcp_and_nothing_else(appliance, outside):
    ruleset = appliance.check_output("nft list ruleset")
    port_rules = [line.strip() for line in ruleset.splitlines() if "dport" in line]
    assert port_rules == ['tcp dport 25 accept comment "mailops.notify: inbound mail"']
    assert outside.run(f"nc -z -w 5 {FQDN} 25").rc == 0
    # A second listener on the appliance stays unreachable from outside: the host policy is untouched.
    appliance.run("systemd-run --unit=mailops-probe-8025 --collect python3 -m http.server 8025")
    try:
        assert appliance.run("for i in 1 2 3 4 5 6 7 8 9 10; do nc -z 127.0.0.1 8025 && exit 0; sleep 0.5; done; exit 1").rc == 0
        assert outside.run(f"nc -z -w 3 {FQDN} 8025").rc != 0
    finally:
        appliance.run("systemctl stop mailops-probe-8025")


def test_notification_reaches_the_relay_over_verified_tls_with_auth(appliance, relay):
    token = uuid.uuid4().hex
    message = f"From: {NOREPLY}\nTo: {RECIPIENT}\nSubject: notification {token}\n\nbody {token}\n"
    sent = appliance.run(f"printf %s {shlex.quote(message)} | /usr/sbin/sendmail -f {NOREPLY} {RECIPIENT}")
    assert sent.rc == 0, sent.stderr
    path = wait_for_file_with(relay, RELAY_MAILDIR, token)
    headers = relay.file(path).content_string.split("\n\n", 1)[0]
    assert f"\nFrom: {NOREPLY}\n" in headers
    assert f"Return-Path: <{NOREPLY}>" in headers
    assert "(Authenticated sender: notify@mailops.test)" in headers
    assert "with ESMTPSA" in headers  # ESMTP + TLS + AUTH
    log = appliance.check_output("journalctl --no-pager -q -t postfix/smtp")
    assert "Verified TLS connection established to relay[" in log
    assert "status=sent (250 2.0.0 Ok: queued as" in log


def test_a_local_application_over_smtp_on_loopback_still_sends_through_the_relay(appliance, relay):
    """What Mattermost does (SMTP to localhost:25, no AUTH) passes permit_mynetworks, before the inbound restrictions."""
    script = (
        "import smtplib, sys; s = smtplib.SMTP(sys.argv[1], 25, timeout=30); "
        "s.sendmail(sys.argv[2], [sys.argv[3]], 'Subject: app ' + sys.argv[4] + '\\n\\nbody ' + sys.argv[4] + '\\n'); s.quit()"
    )
    loopbacks = ["127.0.0.1"] + (["::1"] if "[::1]/128" in postconf(appliance)["mynetworks"] else [])
    for address in loopbacks:
        token = uuid.uuid4().hex
        sent = appliance.run(f"python3 -c {shlex.quote(script)} {address} {NOREPLY} {RECIPIENT} {token}")
        assert sent.rc == 0, sent.stderr
        path = wait_for_file_with(relay, RELAY_MAILDIR, token)
        assert "(Authenticated sender: notify@mailops.test)" in relay.file(path).content_string, address


def test_outside_resolves_the_mx_and_delivers_a_reply_into_the_maildir(appliance, outside):
    address = appliance.check_output("hostname -I").split()[0]
    assert outside.check_output(f"dig +short MX {REPLY_DOMAIN}") == f"10 {REPLY_DOMAIN}."
    assert outside.check_output(f"dig +short A {REPLY_DOMAIN}") == address
    assert outside.check_output(f"dig +short MX noreply.{FQDN}") == f"10 {FQDN}."
    token = uuid.uuid4().hex
    to = f"reply+{token}@{REPLY_DOMAIN}"
    sent = outside.run(f"swaks --to {to} --from someone@outside.test --header 'Subject: Re: {token}' --body 'reply {token}'")
    assert sent.rc == 0, sent.stdout
    assert f"Trying {REPLY_DOMAIN}:25" in sent.stdout  # found through the MX record
    path = wait_for_file_with(appliance, REPLY_MAILDIR, token)
    assert appliance.file(path).user == "mailops-mail"
    assert f"Delivered-To: {to}" in appliance.file(path).content_string


def test_mail_to_noreply_is_accepted_and_discarded(appliance, outside):
    token = uuid.uuid4().hex
    sent = outside.run(f"swaks --to {NOREPLY} --from someone@outside.test --header 'Subject: {token}'")
    assert sent.rc == 0, sent.stdout
    queue_id = sent.stdout.split("queued as ")[1].split()[0]
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        log = appliance.run(f"journalctl --no-pager -q -t postfix/discard | grep -F {queue_id}").stdout
        if log:
            break
        time.sleep(1)
    assert f"{queue_id}: to=<{NOREPLY}>, relay=none" in log and "status=sent (no-reply address)" in log
    assert appliance.run(f"grep -r -l -F -e {token} {REPLY_MAILDIR}").stdout == ""


@pytest.mark.parametrize(
    "rcpt",
    [
        "victim@foreign.test",
        f"victim%foreign.test@{FQDN}",  # percent hack
        f"victim%foreign.test@{REPLY_DOMAIN}",
        f"@{FQDN}:victim@foreign.test",  # source route
        f"@{REPLY_DOMAIN}:victim@foreign.test",
        f'"victim@foreign.test"@{FQDN}',  # quoted local part
        f'"victim@foreign.test"@{REPLY_DOMAIN}',
        f"foreign.test!victim@{FQDN}",  # bang path
        f"victim@{FQDN}",  # the host itself is not a destination
    ],
)
def test_outside_cannot_relay_through_the_appliance(outside, rcpt):
    result = outside.run(f"swaks --server {FQDN} --from spammer@foreign.test --to {shlex.quote(rcpt)} --quit-after RCPT")
    assert result.rc == 24, result.stdout  # swaks: the recipient was rejected
    assert "<** 554 5.7.1" in result.stdout and "Relay access denied" in result.stdout


def test_mattermost_sends_through_the_local_postfix(appliance):
    settings = json.loads(appliance.file("/opt/mattermost/config/config.json").content_string)["EmailSettings"]
    wanted = {"SMTPServer": "localhost", "SMTPPort": "25", "EnableSMTPAuth": False, "SMTPPassword": "", "FeedbackEmail": NOREPLY}
    assert {key: settings[key] for key in wanted} == wanted


def run_playbook(name, *extra, check=False):
    """Run one of the collection's playbooks against the lab appliance, with the scenario's inventory."""
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3", ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    command = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], f"mailops.notify.{name}", "-e", "mail_notifications_target=appliance"]
    for item in extra:
        command += ["-e", item]
    if check:
        command += ["--check", "--diff"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


def recap(output):
    line = next(line for line in output.splitlines() if line.startswith("appliance "))
    return dict(field.split("=") for field in line.split(":", 1)[1].split())


def test_playbook_test_email_follows_a_message_to_sent(relay):
    result = run_playbook("test_email")
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap(result.stdout)["failed"] == "0"
    assert "250 2.0.0 Ok: queued as" in result.stdout  # the relay's answer, reported by the last task
    assert PASSWORD not in result.stdout and PASSWORD not in result.stderr


def test_playbook_dns_records_finds_the_records_in_place():
    address = lab("dns").check_output("hostname -I").split()[0]
    result = run_playbook("dns_records", f"mail_notifications_dns_server={address}", f'{{"mail_notifications_dns_nameservers": ["{address}"]}}')
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap(result.stdout)["changed"] == "0"
    assert TSIG_SECRET not in result.stdout


def test_check_mode_on_the_configured_host_predicts_no_change_and_shows_no_secret(appliance):
    address = lab("dns").check_output("hostname -I").split()[0]
    before = appliance.check_output("sha256sum /etc/postfix/main.cf /etc/postfix/sasl_passwd")
    result = run_playbook(
        "configure_notifications", f"mail_notifications_dns_server={address}", f'{{"mail_notifications_dns_nameservers": ["{address}"]}}', check=True
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap(result.stdout)["changed"] == "0"
    assert PASSWORD not in result.stdout and TSIG_SECRET not in result.stdout
    assert appliance.check_output("sha256sum /etc/postfix/main.cf /etc/postfix/sasl_passwd") == before


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '{"mail_notifications_postfix_extra": {"smtp_tls_security_level": "bogus"}}',
            "mail_notifications_postfix_extra: smtp_tls_security_level = bogus is not one of none, may, encrypt",
        ),
        ('{"mail_notifications_relay_port": 465}', "mail_notifications_relay_security: port 465 speaks implicit TLS"),
        ('{"mail_notifications_relay_security": "none"}', "mail_notifications_relay_security: credentials would cross the network in clear text"),
        ('{"mail_notifications_relay_host": "[relay]:587"}', "mail_notifications_relay_host: every relay host must be a bare host name"),
        ('{"mail_notifications_relay_port": "many"}', "mail_notifications_relay_port"),
        ('{"mail_notifications_firewall": "iptables"}', "mail_notifications_firewall"),
    ],
)
def test_bad_variables_fail_before_any_change(appliance, extra, message):
    before = appliance.check_output("sha256sum /etc/postfix/main.cf /etc/postfix/sasl_passwd /etc/nftables.conf")
    result = run_playbook("configure_notifications", "mail_notifications_dns_enabled=false", extra)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr, result.stdout[-3000:] + result.stderr[-3000:]
    assert recap(result.stdout)["changed"] == "0"
    assert PASSWORD not in result.stdout + result.stderr
    assert appliance.check_output("sha256sum /etc/postfix/main.cf /etc/postfix/sasl_passwd /etc/nftables.conf") == before
    assert appliance.service("postfix").is_running
