# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import configparser
import difflib
import json
import pathlib

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._app_gitea import GiteaBackend, decode_value, effective_mailer, read_ini
from ansible_collections.mailops.notify.plugins.module_utils._settings import (
    MASK,
    SettingsFormatError,
    SettingsValidationError,
    build_desired,
    plan,
)
from ansible_collections.mailops.notify.tests.unit.plugins.fixtures.app_secrets import FILE_SECRETS

FIXTURE = (pathlib.Path(__file__).parent.parent / "fixtures" / "gitea_app.ini").read_text()
BACKEND = GiteaBackend()
SECRET = "g1tea;secret#pw"


def run(text: str, **params: object):
    return plan(BACKEND, text, build_desired("gitea", params, BACKEND), header="app.ini")


def parse(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, inline_comment_prefixes=None)
    parser.optionxform = str  # go-ini keys are case-sensitive
    parser.read_string("[__root__]\n" + text)
    return parser


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line[1:]
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


FULL = {
    "enabled": True,
    "provider": "office365",
    "username": "gitea@example.com",
    "password": SECRET,
    "helo_domain": "git.example.com",
    "from_address": "gitea@example.com",
    "from_name": "Gitea",
    "validate_certs": True,
    "extra": {"SUBJECT_PREFIX": "[gitea]", "SEND_AS_PLAIN_TEXT": False},
}


def test_full_round_trip() -> None:
    result = run(FIXTURE, **FULL)
    before, after = parse(FIXTURE), parse(result.after)
    mailer = dict(after["mailer"])
    assert mailer == {
        "ENABLED": "true",
        "PROTOCOL": "smtp+starttls",
        "SMTP_ADDR": "smtp.office365.com",
        "SMTP_PORT": "587",
        "HELO_HOSTNAME": "git.example.com",
        "USER": "gitea@example.com",
        "PASSWD": f"`{SECRET}`",
        "FROM": "Gitea <gitea@example.com>",
        "FORCE_TRUST_SERVER_CERT": "false",
        "SUBJECT_PREFIX": "[gitea]",
        "SEND_AS_PLAIN_TEXT": "false",
    }
    assert decode_value(mailer["PASSWD"]) == SECRET
    assert after["service"]["ENABLE_NOTIFY_MAIL"] == "true"
    for section in before.sections():
        if section not in ("mailer", "service"):
            assert dict(after[section]) == dict(before[section]), section
    assert dict(after["service"]) == {**dict(before["service"]), "ENABLE_NOTIFY_MAIL": "true"}
    # [database] has HOST/USER/PASSWD too: untouched
    assert after["database"]["PASSWD"] == "`db#pass;word`"
    lines = changed_lines(FIXTURE, result.after)
    assert lines == [
        "ENABLE_NOTIFY_MAIL = false",
        "ENABLE_NOTIFY_MAIL = true",
        "ENABLED = false",
        "ENABLED = true",
        "PROTOCOL = smtp+starttls",
        "SMTP_ADDR = smtp.office365.com",
        "SMTP_PORT = 587",
        "HELO_HOSTNAME = git.example.com",
        "USER = gitea@example.com",
        f"PASSWD = `{SECRET}`",
        "FROM = Gitea <gitea@example.com>",
        "FORCE_TRUST_SERVER_CERT = false",
        "SUBJECT_PREFIX = [gitea]",
        "SEND_AS_PLAIN_TEXT = false",
    ]
    assert SECRET not in json.dumps({"diff": result.diff, "settings": result.settings})
    assert json.loads(result.diff["after"])["mailer.PASSWD"] == MASK
    assert BACKEND.read(result.after)["password"] == SECRET
    again = run(result.after, **FULL)
    assert again.changed is False and again.after == result.after


@pytest.mark.parametrize("security, port, protocol", [("none", 25, "smtp"), ("starttls", 587, "smtp+starttls"), ("tls", 465, "smtps")])
def test_protocol(security: str, port: int, protocol: str) -> None:
    result = run(FIXTURE, host="smtp.example.com", port=port, security=security)
    assert parse(result.after)["mailer"]["PROTOCOL"] == protocol
    assert BACKEND.read(result.after)["security"] == security


def test_protocol_inferred_from_port_when_empty() -> None:
    text = FIXTURE.replace("[mailer]\nENABLED = false", "[mailer]\nENABLED = true\nSMTP_ADDR = smtp.example.com\nSMTP_PORT = 465")
    assert BACKEND.read(text)["security"] == "tls"


def test_missing_sections_are_appended() -> None:
    text = "APP_NAME = Gitea\n\n[server]\nDOMAIN = git.example.com"
    result = run(text, enabled=True, host="localhost", port=25, security="none")
    assert result.after == (
        "APP_NAME = Gitea\n\n[server]\nDOMAIN = git.example.com\n\n"
        "[mailer]\nENABLED = true\nPROTOCOL = smtp\nSMTP_ADDR = localhost\nSMTP_PORT = 25\n\n"
        "[service]\nENABLE_NOTIFY_MAIL = true\n"
    )
    parse(result.after)
    assert run(result.after, enabled=True, host="localhost", port=25, security="none").changed is False


def test_update_password_on_create() -> None:
    first = run(FIXTURE, **FULL)
    assert run(first.after, **{**FULL, "password": "rotated", "update_password": "on_create"}).changed is False
    assert run(first.after, **{**FULL, "password": "rotated"}).changed is True


def test_plaintext_remote_warning() -> None:
    result = run(FIXTURE, host="mail.example.com", port=25, security="none")
    assert result.warnings == ["app.ini [mailer] PROTOCOL=smtp sends in plaintext to a remote server (Gitea logs a warning for this too)"]


def test_deprecated_key_warning() -> None:
    text = FIXTURE.replace("[mailer]\nENABLED = false", "[mailer]\nENABLED = false\nHOST = smtp.example.com:587\nIS_TLS_ENABLED = false")
    warnings = run(text, host="smtp.example.com", port=587, security="starttls").warnings
    assert "app.ini [mailer] still has the deprecated key HOST; Gitea 1.18+ uses SMTP_ADDR and SMTP_PORT instead" in warnings
    assert len(warnings) == 2


@pytest.mark.parametrize(
    "params, option, fragment",
    [
        ({"extra": {"HOST": "smtp.example.com:25"}}, "extra.HOST", "deprecated since Gitea 1.18; use SMTP_ADDR and SMTP_PORT"),
        ({"extra": {"subject_prefix": "x"}}, "extra.subject_prefix", "upper-case [mailer] keys"),
        ({"host": "smtp.example.com", "extra": {"SMTP_ADDR": "x"}}, "extra.SMTP_ADDR", "option host"),
        ({"security": "tls", "username": "u", "password": "a`b;c"}, "password", "contains a backtick"),
        ({"from_name": "Gitea"}, "from_name", "set from_address too"),
    ],
)
def test_rules(params: dict, option: str, fragment: str) -> None:
    with pytest.raises(SettingsValidationError) as exc:
        run(FIXTURE, **params)
    assert exc.value.option == option
    assert fragment in exc.value.rule


def test_check_rejects_bad_from() -> None:
    with pytest.raises(SettingsFormatError, match="RFC 5322"):
        BACKEND.check("[mailer]\nFROM = not an address\n")


@pytest.mark.parametrize(
    "raw, value",
    [("plain", "plain"), ("`a#b;c`", "a#b;c"), ('"quoted" tail', "quoted"), ("value ; comment", "value"), ("  spaced  ", "spaced"), ("", "")],
)
def test_decode_value(raw: str, value: str) -> None:
    assert decode_value(raw) == value


def go_ini_sections(text: str) -> list[str]:
    """Section headers as go-ini sees them: lines split at \n only, leading white space trimmed."""
    return [line.strip() for line in text.split("\n") if line.lstrip(" \t\r\x0b\x0c\x85\u2028\u2029").startswith("[")]


def test_diff_holds_only_owned_keys() -> None:
    stored = FIXTURE.replace("[mailer]\nENABLED = false", "[mailer]\nENABLED = false\nPASSWD = `Stored;Pw-77`")
    result = run(stored, **FULL)
    before, after = json.loads(result.diff["before"]), json.loads(result.diff["after"])
    assert before == {"mailer.ENABLED": "false", "mailer.PASSWD": MASK, "service.ENABLE_NOTIFY_MAIL": "false"}
    assert {key.split(".")[0] for key in after} == {"mailer", "service"}
    assert after["mailer.PASSWD"] == MASK and after["mailer.SMTP_ADDR"] == "smtp.office365.com"
    assert after["service.ENABLE_NOTIFY_MAIL"] == "true" and "service.DISABLE_REGISTRATION" not in after
    dumped = json.dumps(result.diff) + json.dumps(result.settings)
    for secret in (SECRET, "Stored;Pw-77", *FILE_SECRETS["gitea"]):
        assert secret not in dumped


SEPARATORS = "\u2028\u2029\x85\x0c\x0b\x1c\x1d\x1e"


def test_existing_line_separators_stay_inside_their_line() -> None:
    # go-ini splits app.ini at \n only: "[security]" after a U+2028 is part of the value, not a section
    text = FIXTURE.replace(
        "[mailer]\nENABLED = false", f"[mailer]\nENABLED = false\nENVELOPE_FROM = a{SEPARATORS}[security]{SEPARATORS}b\nUSER = old{SEPARATORS}user"
    )
    assert go_ini_sections(text).count("[security]") == 1
    assert BACKEND.read(text)["username"] == f"old{SEPARATORS}user"
    first = run(text, **FULL)
    assert go_ini_sections(first.after) == go_ini_sections(text)
    assert f"ENVELOPE_FROM = a{SEPARATORS}[security]{SEPARATORS}b\nUSER = gitea@example.com\n" in first.after
    mailer = first.after.split("[mailer]\n", 1)[1].split("\n\n", 1)[0].split("\n")
    assert [line.split(" = ")[0] for line in mailer] == [
        "ENABLED",
        "ENVELOPE_FROM",
        "USER",
        "PROTOCOL",
        "SMTP_ADDR",
        "SMTP_PORT",
        "HELO_HOSTNAME",
        "PASSWD",
        "FROM",
        "FORCE_TRUST_SERVER_CERT",
        "SUBJECT_PREFIX",
        "SEND_AS_PLAIN_TEXT",
    ]
    second = run(first.after, **FULL)
    assert second.changed is False and second.after == first.after


def test_crlf_file_round_trip() -> None:
    text = FIXTURE.replace("\n", "\r\n")
    first = run(text, **FULL)
    assert "\r\n[mailer]\r\nENABLED = true\r\nPROTOCOL = smtp+starttls\r\n" in first.after
    assert "\n" not in first.after.replace("\r\n", "")
    assert run(first.after, **FULL).changed is False


@pytest.mark.parametrize("name, option", [("Ops\nTeam", "from_name"), ("Ops\u2028[security]", "from_name"), ("Ops `x` #1", "from_name")])
def test_from_name_errors_name_from_name(name: str, option: str) -> None:
    with pytest.raises(SettingsValidationError) as exc:
        run(FIXTURE, from_address="gitea@example.com", from_name=name)
    assert exc.value.option == option


@pytest.mark.parametrize("value", ["[gitea]\\", "a\\b", " padded ", "x#y;z", '"""open', "'q'", 'say "hi"'])
def test_tricky_values_round_trip(value: str) -> None:
    result = run(FIXTURE, extra={"SUBJECT_PREFIX": value})
    assert read_mailer(result.after)["SUBJECT_PREFIX"] == value
    assert go_ini_value(result.after, "SUBJECT_PREFIX") == value
    assert run(result.after, extra={"SUBJECT_PREFIX": value}).changed is False


def read_mailer(text: str) -> dict:
    return read_ini(text)["mailer"]


def go_ini_value(text: str, key: str) -> str:
    """The value as go-ini reads it (IgnoreContinuation off, as in older Gitea): a trailing backslash joins the next line."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if line.startswith(f"{key} ="):
            raw = line.split("=", 1)[1].strip()
            if raw.startswith("`"):
                return raw[1 : raw.rindex("`")]
            if raw.endswith("\\"):
                return raw[:-1] + lines[index + 1].strip()  # continuation: the next line is swallowed
            return decode_value(raw)
    raise AssertionError(key)


def test_section_headers_as_go_ini_reads_them() -> None:
    # go-ini: a line starting with "[" (after white space) is a header whose name ends at the last "]", untrimmed
    text = "[mailer]\u2028; note\nENABLED = true\n\x0c[ mailer ]\nSMTP_ADDR = other.example.com\n[service]\nENABLE_NOTIFY_MAIL = true\n"
    data = read_ini(text)
    assert data["mailer"] == {"ENABLED": "true"}
    assert data[" mailer "] == {"SMTP_ADDR": "other.example.com"}
    result = run(text, host="smtp.example.com")
    # no port and no PROTOCOL: Gitea assumes smtps, and the module writes it down
    assert result.after == text.replace("ENABLED = true\n", "ENABLED = true\nPROTOCOL = smtps\nSMTP_ADDR = smtp.example.com\n")
    assert run(result.after, host="smtp.example.com").changed is False


# ---- The protocol Gitea really uses (modules/setting/mailer.go loadMailerFrom) ------------------------------------------

MAILER = "[mailer]\nENABLED = true\nSMTP_ADDR = smtp.example.com\n"


@pytest.mark.parametrize(
    "lines, security, port, assumed",
    [
        ("SMTP_PORT = 25", "none", 25, False),
        ("SMTP_PORT = 465", "tls", 465, False),
        ("SMTP_PORT = 587", "starttls", 587, False),
        # any other port: "unable to infer unspecified mailer.PROTOCOL ... assume using smtps"
        ("SMTP_PORT = 2525", "tls", 2525, True),
        ("SMTP_PORT = 10025", "tls", 10025, True),
        # no port and no protocol: smtps on 465
        ("", "tls", 465, True),
        # a protocol without a port gives the port
        ("PROTOCOL = smtp+starttls", "starttls", 587, False),
        ("PROTOCOL = smtp", "none", 25, False),
        ("PROTOCOL = smtp+startls\nSMTP_PORT = 2587", "starttls", 2587, False),
        ("PROTOCOL = smtps\nSMTP_PORT = 2465", "tls", 2465, False),
        # an empty PROTOCOL line is no protocol
        ("PROTOCOL =\nSMTP_PORT = 2525", "tls", 2525, True),
        # the deprecated keys still count when the new ones are absent
        ("IS_TLS_ENABLED = true\nSMTP_PORT = 2525", "tls", 2525, False),
        ("IS_TLS_ENABLED = false\nSMTP_PORT = 2525", "starttls", 2525, False),
    ],
)
def test_security_gitea_infers(lines: str, security: str, port: int, assumed: bool) -> None:
    text = MAILER + (lines + "\n" if lines else "")
    settings = BACKEND.read(text)
    assert (settings["security"], settings["port"]) == (security, port)
    assert effective_mailer(read_ini(text)["mailer"])["ASSUMED"] is assumed
    warning = [w for w in BACKEND.warnings(text) if "assumes smtps" in w]
    assert bool(warning) is assumed
    if assumed:
        assert warning[0].startswith("app.ini [mailer] has no PROTOCOL and SMTP_PORT ")
        assert f"so Gitea assumes smtps (implicit TLS) on port {port}; set security to make the protocol explicit" in warning[0]


def test_deprecated_host_and_a_socket_path() -> None:
    settings = BACKEND.read("[mailer]\nENABLED = true\nHOST = smtp.example.com:587\n")
    assert (settings["host"], settings["port"], settings["security"]) == ("smtp.example.com", 587, "starttls")
    assert BACKEND.read("[mailer]\nHOST = [::1]:25\n")["security"] == "none"
    # SMTP_ADDR wins over HOST
    assert BACKEND.read("[mailer]\nHOST = old.example.com:25\nSMTP_ADDR = new.example.com\nSMTP_PORT = 465\n")["host"] == "new.example.com"
    # an address that is a path is smtp+unix: no TLS either way, no security to report
    unix = BACKEND.read("[mailer]\nSMTP_ADDR = /run/smtp.sock\n")
    assert unix["security"] is None
    assert effective_mailer({"SMTP_ADDR": "/run/smtp.sock"})["PROTOCOL"] == "smtp+unix"
    assert effective_mailer({"MAILER_TYPE": "sendmail"})["PROTOCOL"] == "sendmail"


@pytest.mark.parametrize(
    "stored, params, protocol, why",
    [
        ("SMTP_PORT = 25\n", {"host": "relay.example.com"}, "smtp", "as Gitea infers it"),
        ("", {"port": 587}, "smtp+starttls", "as Gitea infers it"),
        ("", {"port": 465, "host": "relay.example.com"}, "smtps", "as Gitea infers it"),
        ("", {"port": 2525}, "smtps", "SMTP_PORT '2525' is none of 25, 465 and 587, so Gitea assumes smtps"),
        ("SMTP_PORT = 2525\n", {"host": "relay.example.com"}, "smtps", "SMTP_PORT '2525' is none of 25, 465 and 587, so Gitea assumes smtps"),
    ],
)
def test_host_or_port_writes_protocol(stored: str, params: dict, protocol: str, why: str) -> None:
    result = run(MAILER + stored, **params)
    assert read_ini(result.after)["mailer"]["PROTOCOL"] == protocol
    # the written protocol is the one Gitea used without it: the behaviour is unchanged, now it is explicit
    assert BACKEND.read(result.after)["security"] == BACKEND.read(result.after.replace(f"PROTOCOL = {protocol}\n", ""))["security"]
    assert f"app.ini [mailer] had no PROTOCOL; PROTOCOL = {protocol} was written ({why}); set security to choose the protocol" in result.warnings
    again = run(result.after, **params)
    assert again.changed is False and not any("had no PROTOCOL" in w for w in again.warnings)


def test_a_stored_protocol_is_kept_and_extra_protocol_is_respected() -> None:
    stored = MAILER + "PROTOCOL = smtp+starttls\nSMTP_PORT = 587\n"
    assert run(stored, host="relay.example.com").after == stored.replace("smtp.example.com", "relay.example.com")
    result = run(MAILER, port=25, extra={"PROTOCOL": "smtp+unix"})
    assert read_ini(result.after)["mailer"]["PROTOCOL"] == "smtp+unix"
    assert not any("had no PROTOCOL" in w for w in result.warnings)
