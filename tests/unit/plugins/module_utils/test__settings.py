# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._app_ghes import GhesBackend
from ansible_collections.mailops.notify.plugins.module_utils._app_gitea import GiteaBackend
from ansible_collections.mailops.notify.plugins.module_utils._app_gitlab import GitlabBackend
from ansible_collections.mailops.notify.plugins.module_utils._app_mattermost import MattermostBackend
from ansible_collections.mailops.notify.plugins.module_utils._settings import (
    MASK,
    SettingsFormatError,
    SettingsValidationError,
    build_desired,
    decode_config,
    extra_secret_values,
    is_email,
    is_hostname,
    is_loopback,
    line_body,
    looks_secret,
    mask_secret,
    plan,
    split_lines,
)

BACKENDS = {"ghes": GhesBackend(), "mattermost": MattermostBackend(), "gitlab": GitlabBackend(), "gitea": GiteaBackend()}

MM_MIN = """{
    "ServiceSettings": {
        "SiteURL": ""
    },
    "EmailSettings": {
        "SendEmailNotifications": false,
        "EnableSMTPAuth": false,
        "SMTPUsername": "",
        "SMTPPassword": "",
        "SMTPServer": "localhost",
        "SMTPPort": "10025",
        "ConnectionSecurity": ""
    }
}
"""


@pytest.mark.parametrize(
    "value, ok",
    [
        ("noreply@example.com", True),
        ("first.last+tag@sub.example.co.uk", True),
        ("root@localhost", True),
        ("noreply@example", False),
        ("no reply@example.com", False),
        ("noreply@@example.com", False),
        ("noreply", False),
        ("Name <noreply@example.com>", False),
        (".dot@example.com", False),
        ("a..b@example.com", False),
        ("a@-bad-.example.com", False),
        (42, False),
    ],
)
def test_is_email(value: object, ok: bool) -> None:
    assert is_email(value) is ok


@pytest.mark.parametrize(
    "value, ok",
    [
        ("smtp.example.com", True),
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("smtp_example.com", False),
        ("", False),
        ("a" * 64 + ".com", False),
    ],
)
def test_is_hostname(value: str, ok: bool) -> None:
    assert is_hostname(value) is ok


@pytest.mark.parametrize(
    "value, ok", [("localhost", True), ("127.0.0.2", True), ("::1", True), ("10.0.0.1", False), ("smtp.example.com", False), (None, False)]
)
def test_is_loopback(value: str | None, ok: bool) -> None:
    assert is_loopback(value) is ok


def test_mask_secret() -> None:
    assert mask_secret("s3cret") == MASK
    assert mask_secret("") == ""
    assert mask_secret(None) is None


def test_preset_merge_explicit_wins() -> None:
    desired = build_desired("mattermost", {"provider": "gmail", "port": 465, "security": "tls", "username": "me@gmail.com"}, BACKENDS["mattermost"])
    assert desired.values == {"host": "smtp.gmail.com", "port": 465, "security": "tls", "auth": "plain", "username": "me@gmail.com"}
    assert desired.explicit == frozenset({"port", "security", "username"})


def test_support_type_is_guessed() -> None:
    assert build_desired("ghes", {"support_address": "https://help.example.com"}).values["support_address_type"] == "url"
    assert build_desired("ghes", {"support_address": "help@example.com"}).values["support_address_type"] == "email"


# Static rules: (app, params, option named in the error, part of the rule)
STATIC_FAILURES = [
    ("ghes", {"port": 0}, "port", "out of range"),
    ("ghes", {"port": 70000}, "port", "1 to 65535"),
    ("gitea", {"port": 465, "security": "starttls"}, "port", "port 465 is SMTPS"),
    ("gitlab", {"port": 587, "security": "tls"}, "port", "port 587 is submission with STARTTLS"),
    ("ghes", {"support_address": "support.example.com", "support_address_type": "url"}, "support_address", "must start with http:// or https://"),
    ("ghes", {"support_address": "ftp://support.example.com", "support_address_type": "url"}, "support_address", "must start with http:// or https://"),
    ("ghes", {"support_address": "https://", "support_address_type": "url"}, "support_address", "not a valid http(s) URL"),
    ("ghes", {"support_address": "help-at-example.com", "support_address_type": "email"}, "support_address", "not a valid email address"),
    ("mattermost", {"from_address": "noreply"}, "from_address", "not a valid email address"),
    ("gitlab", {"reply_to": "noreply@"}, "reply_to", "not a valid email address"),
    ("mattermost", {"host": "smtp://smtp.example.com"}, "host", "without scheme or port"),
    ("mattermost", {"host": "smtp.example.com:587"}, "host", "without scheme or port"),
    ("ghes", {"helo_domain": "bad domain"}, "helo_domain", "not a valid domain name"),
    ("mattermost", {"auth": "cram-md5"}, "auth", "app=mattermost cannot do auth=cram-md5"),
    ("ghes", {"security": "tls"}, "security", "app=ghes cannot do security=tls"),
    ("mattermost", {"helo_domain": "example.com"}, "helo_domain", "not supported by app=mattermost"),
    ("ghes", {"from_name": "GHES"}, "from_name", "not supported by app=ghes"),
    ("gitea", {"reply_to": "noreply@example.com"}, "reply_to", "not supported by app=gitea"),
    ("gitlab", {"support_address": "help@example.com"}, "support_address", "not supported by app=gitlab"),
    ("mattermost", {"discard_to_noreply": True}, "discard_to_noreply", "not supported by app=mattermost"),
    ("ghes", {"validate_certs": False}, "validate_certs", "not supported by app=ghes"),
    ("mattermost", {"auth": "none", "username": "me"}, "auth", "contradicts the username"),
    ("gitlab", {"host": "smtp.example.com", "allow_plaintext_auth": True}, "allow_plaintext_auth", "only allowed for a local server"),
    # Mattermost cannot authenticate without TLS on any host (Go's PlainAuth sees "localhost:25"; its LOGIN needs TLS)
    ("mattermost", {"host": "localhost", "allow_plaintext_auth": True}, "allow_plaintext_auth", "app=mattermost can never send credentials without TLS"),
    ("mattermost", {"host": "smtp.example.com", "allow_plaintext_auth": True}, "allow_plaintext_auth", "not even to a local server"),
    ("mattermost", {"provider": "gmail", "security": "none"}, "security", "provider=gmail does not accept port 587 with security=none"),
    ("mattermost", {"provider": "local_postfix", "username": "u"}, "username", "provider=local_postfix is a local server"),
    ("mattermost", {"provider": "ses", "provider_region": "mars"}, "provider_region", "not an AWS region"),
    ("mattermost", {"provider_region": "eu-west-1"}, "provider_region", "only applies together with provider=ses"),
    ("gitea", {"support_address_type": "url"}, "support_address_type", "needs support_address"),
]


@pytest.mark.parametrize("app, params, option, fragment", STATIC_FAILURES)
def test_static_rules(app: str, params: dict, option: str, fragment: str) -> None:
    with pytest.raises(SettingsValidationError) as exc:
        build_desired(app, params, BACKENDS[app])
    assert exc.value.option == option
    assert fragment in exc.value.rule
    assert str(exc.value).startswith(f"{option}: ")


# Rules on the effective result (stored values combined with the requested ones).
EFFECTIVE_FAILURES = [
    # stored ConnectionSecurity "" + new credentials: the Mattermost rule
    ({"username": "me@example.com", "password": "pw"}, "security", "credentials (username/password) are set but security is none"),
    # Mattermost: on localhost too, and whatever the port
    ({"host": "localhost", "port": 25, "security": "none", "username": "relay", "password": "pw"}, "security", "can never authenticate without TLS"),
    ({"host": "127.0.0.1", "port": 10025, "username": "relay", "password": "pw"}, "security", "Go's net/smtp PlainAuth sees 'localhost:25'"),
    ({"host": "::1", "security": "none", "username": "relay"}, "security", "Mattermost's LOGIN refuses every connection without TLS"),
    ({"auth": "plain", "security": "starttls"}, "username", "auth=plain needs a username"),
    ({"security": "starttls", "password": "pw"}, "password", "a password needs a username"),
]


@pytest.mark.parametrize("params, option, fragment", EFFECTIVE_FAILURES)
def test_effective_rules(params: dict, option: str, fragment: str) -> None:
    backend = BACKENDS["mattermost"]
    with pytest.raises(SettingsValidationError) as exc:
        plan(backend, MM_MIN, build_desired("mattermost", params, backend))
    assert exc.value.option == option
    assert fragment in exc.value.rule


GITLAB_MIN = "external_url 'https://gitlab.example.com'\n"


def test_plaintext_override_for_localhost() -> None:
    # GitLab (Ruby net-smtp) and Gitea (which hands "localhost" to Go's PlainAuth) can authenticate to a local server in plaintext
    for app, text in (("gitlab", GITLAB_MIN), ("gitea", "[mailer]\nENABLED = true\n")):
        backend = BACKENDS[app]
        params = {"host": "localhost", "port": 25, "security": "none", "username": "relay", "password": "pw", "allow_plaintext_auth": True}
        result = plan(backend, text, build_desired(app, params, backend))
        assert result.changed
        assert result.settings["password"] == MASK and result.settings["security"] == "none"


def test_plaintext_override_refused_for_a_remote_server() -> None:
    backend = BACKENDS["gitlab"]
    params = {"host": "smtp.example.com", "security": "none", "username": "me", "allow_plaintext_auth": True}
    with pytest.raises(SettingsValidationError) as exc:
        plan(backend, GITLAB_MIN, build_desired("gitlab", params, backend))
    assert exc.value.option == "allow_plaintext_auth"
    assert "only allowed for a local server" in exc.value.rule


def test_mattermost_stored_credentials_without_tls_are_refused_when_security_is_managed() -> None:
    # credentials already in the file (EnableSMTPAuth with a username), this run asks for security none on localhost
    backend = BACKENDS["mattermost"]
    stored = MM_MIN.replace('"SMTPUsername": ""', '"SMTPUsername": "legacy"').replace('"EnableSMTPAuth": false', '"EnableSMTPAuth": true')
    with pytest.raises(SettingsValidationError) as exc:
        plan(backend, stored, build_desired("mattermost", {"host": "localhost", "port": 25, "security": "none"}, backend))
    assert exc.value.option == "security"
    assert str(exc.value).startswith("security: credentials (username/password) are set but security is none, and app=mattermost")
    assert "use security=starttls or tls" in str(exc.value).lower()


def test_untouched_oddity_does_not_block() -> None:
    # credentials stored with security none, but this run only changes the sender address
    backend = BACKENDS["mattermost"]
    odd = MM_MIN.replace('"SMTPUsername": ""', '"SMTPUsername": "legacy"').replace('"EnableSMTPAuth": false', '"EnableSMTPAuth": true')
    result = plan(backend, odd, build_desired("mattermost", {"from_address": "noreply@example.com"}, backend))
    assert result.changed


def test_port_rule_against_stored_security() -> None:
    backend = BACKENDS["mattermost"]
    stored = MM_MIN.replace('"ConnectionSecurity": ""', '"ConnectionSecurity": "STARTTLS"')
    with pytest.raises(SettingsValidationError) as exc:
        plan(backend, stored, build_desired("mattermost", {"port": 465}, backend))
    assert exc.value.option == "port"
    assert "stored in the application" in exc.value.rule


def test_plan_returns_masked_diff_and_header() -> None:
    backend = BACKENDS["mattermost"]
    params = {"provider": "gmail", "username": "me@gmail.com", "password": "hunter2-secret"}
    result = plan(backend, MM_MIN, build_desired("mattermost", params, backend), header="/etc/mm/config.json")
    assert result.diff["before_header"] == result.diff["after_header"] == "/etc/mm/config.json"
    assert "hunter2-secret" in result.after
    assert "hunter2-secret" not in repr(result.diff) + repr(result.settings)
    assert json.loads(result.diff["after"])["EmailSettings.SMTPPassword"] == MASK
    assert json.loads(result.diff["before"])["EmailSettings.SMTPPassword"] == ""


# Everything str.splitlines() splits on, NUL, and other C0/C1 control characters.
BAD_CHARACTERS = ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\x00", "\t", "\x1b", "\x7f", "\x9b"]
TEXT_OPTIONS = {
    "ghes": ("username", "password", "helo_domain"),
    "mattermost": ("username", "password", "from_name"),
    "gitlab": ("username", "password", "from_name", "helo_domain"),
    "gitea": ("username", "password", "from_name", "helo_domain"),
}
TEXT_CASES = [(app, option, char) for app, options in TEXT_OPTIONS.items() for option in options for char in BAD_CHARACTERS]


@pytest.mark.parametrize("app, option, char", TEXT_CASES, ids=[f"{a}-{o}-U+{ord(c):04X}" for a, o, c in TEXT_CASES])
def test_line_breaks_and_control_characters_are_refused(app: str, option: str, char: str) -> None:
    value = f"Ops{char}[security]"
    with pytest.raises(SettingsValidationError) as exc:
        build_desired(app, {option: value}, BACKENDS[app])
    assert exc.value.option == option
    assert f"U+{ord(char):04X}" in exc.value.rule
    assert "line break or control character" in exc.value.rule
    assert value not in str(exc.value)


EXTRA_TEXT = {"ghes": "enforce_tls_auth", "mattermost": "FeedbackOrganization", "gitlab": "gitlab_email_subject_suffix", "gitea": "SUBJECT_PREFIX"}


@pytest.mark.parametrize("app", sorted(EXTRA_TEXT))
@pytest.mark.parametrize("char", ["\n", "\u2028", "\x85", "\x00"], ids=lambda c: f"U+{ord(c):04X}")
def test_control_characters_in_extra_values_are_refused(app: str, char: str) -> None:
    key = EXTRA_TEXT[app]
    with pytest.raises(SettingsValidationError) as exc:
        build_desired(app, {"extra": {key: f"[x]{char}[security]"}}, BACKENDS[app])
    assert exc.value.option == f"extra.{key}"
    assert "line break or control character" in exc.value.rule


def test_control_characters_in_extra_keys_are_refused() -> None:
    with pytest.raises(SettingsValidationError) as exc:
        build_desired("gitea", {"extra": {"SUBJECT_PREFIX\n[security]": "x"}}, BACKENDS["gitea"])
    assert exc.value.option == "extra"
    assert "line break or control character" in exc.value.rule


# Secrets never travel through extra (it is not no_log): each backend's password key, in any case, and keys that look secret.
EXTRA_SECRETS = [
    ("mattermost", "SMTPPassword"),
    ("mattermost", "smtppassword"),
    ("mattermost", "EmailSettings.SMTPPassword"),
    ("mattermost", "MessageExportSettings.GlobalRelaySettings.SMTPPassword"),
    ("mattermost", "LdapSettings.BindPassword"),
    ("mattermost", "SqlSettings.AtRestEncryptKey"),
    ("mattermost", "SqlSettings.DataSource"),
    ("mattermost", "FileSettings.PublicLinkSalt"),
    ("mattermost", "GitLabSettings.Secret"),
    ("gitlab", "smtp_password"),
    ("gitlab", "SMTP_PASSWORD"),
    ("gitlab", "Smtp_Password"),
    ("gitea", "PASSWD"),
    ("gitea", "passwd"),
    ("gitea", "Passwd"),
    ("ghes", "password"),
    ("ghes", "Password"),
    ("ghes", "PASSWORD"),
    ("ghes", "api_token"),
]


@pytest.mark.parametrize("app, key", EXTRA_SECRETS)
def test_secrets_in_extra_are_refused(app: str, key: str) -> None:
    value = "Extra-Secret-Value-1"
    with pytest.raises(SettingsValidationError) as exc:
        build_desired(app, {"extra": {key: value}}, BACKENDS[app])
    assert exc.value.option == f"extra.{key}"
    assert "extra is not no_log" in exc.value.rule
    assert "option password" in exc.value.rule
    assert value not in str(exc.value)


@pytest.mark.parametrize(
    "key, secret",
    [
        ("SMTPPassword", True),
        ("EmailSettings.SMTPPassword", True),
        ("smtp_password", True),
        ("PASSWD", True),
        ("mailer.PASSWD", True),
        ("AtRestEncryptKey", True),
        ("PublicLinkSalt", True),
        ("DataSource", True),
        ("AmazonS3SecretAccessKey", True),
        ("api_token", True),
        ("SMTPUsername", False),
        ("EnableSMTPAuth", False),
        ("smtp_user_name", False),
        ("smtp_authentication", False),
        ("CLIENT_KEY_FILE", False),
        ("gitlab_email_smime_key_file", False),
        ("SUBJECT_PREFIX", False),
        ("discard-to-noreply-address", False),
    ],
)
def test_looks_secret(key: str, secret: bool) -> None:
    assert looks_secret(key) is secret


@pytest.mark.parametrize(
    "text, lines",
    [
        ("a\nb\n", ["a\n", "b\n"]),
        ("a\r\nb", ["a\r\n", "b"]),
        ("a\u2028b\x0c\x0b\x1c\x1d\x1e\x85c\rd\n", ["a\u2028b\x0c\x0b\x1c\x1d\x1e\x85c\rd\n"]),
        ("", []),
        ("\n\n", ["\n", "\n"]),
    ],
)
def test_split_lines_only_at_line_feed(text: str, lines: list) -> None:
    assert split_lines(text) == lines
    assert "".join(split_lines(text)) == text


@pytest.mark.parametrize("line, body, ending", [("a\r\n", "a", "\r\n"), ("a\n", "a", "\n"), ("a", "a", ""), ("a\r", "a\r", ""), ("a\u2028\n", "a\u2028", "\n")])
def test_line_body(line: str, body: str, ending: str) -> None:
    assert line_body(line) == (body, ending)


def test_decode_config_refuses_non_utf8() -> None:
    assert decode_config(b"caf\xc3\xa9\n", "/etc/x") == "caf\u00e9\n"
    with pytest.raises(SettingsFormatError) as exc:
        decode_config(b"line one\nline \xff two\n", "/etc/gitea/app.ini")
    assert str(exc.value).startswith("/etc/gitea/app.ini is not valid UTF-8: byte 0xff at offset 14 (line 2)")
    # an encoded surrogate is not UTF-8 either
    with pytest.raises(SettingsFormatError, match="offset 0"):
        decode_config(b"\xed\xa0\x80", "/x")


def test_extra_secret_values() -> None:
    extra = {"SUBJECT_PREFIX": "[gitea]", "passwd": "pw-1", "x_token": {"a": ["tok-2", 3, True, None]}, "SMTPPassword": ""}
    assert extra_secret_values(extra, ("PASSWD",)) == {"pw-1", "tok-2", "3"}
    assert extra_secret_values(None) == set()
