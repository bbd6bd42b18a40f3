# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Alertmanager backend: every file the tests produce is checked by the real ``amtool check-config``."""

from __future__ import annotations

import contextlib
import difflib
import json
import pathlib
import shutil
import subprocess
import time
import urllib.request

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._app_alertmanager import (
    AlertmanagerBackend,
    encode,
    parse_global,
    set_key,
    split_hostport,
    validate_command,
)
from ansible_collections.mailops.notify.plugins.module_utils._settings import (
    MASK,
    SettingsFormatError,
    SettingsValidationError,
    build_desired,
    plan,
)
from ansible_collections.mailops.notify.tests.unit.plugins.smtp_servers import PASSWORD, USERNAME, SmtpServer, free_port

FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures"
FIXTURE = (FIXTURES / "alertmanager.yml").read_text(encoding="utf-8")
FOREIGN_SECRETS = ("Http-Proxy-Secret-5", "Slack-Secret-8", "Pager-Secret-13")
PATH = "/etc/prometheus/alertmanager.yml"
BACKEND = AlertmanagerBackend(PATH)
SECRET = 'Am-"Secret"\\pw #1: x'
MINIMAL = "route:\n  receiver: ops\nreceivers:\n  - name: ops\n    email_configs:\n      - to: ops@example.org\n        from: am@example.org\n"
AMTOOL = shutil.which("amtool")


def amtool(text: str, directory: pathlib.Path) -> subprocess.CompletedProcess:
    assert AMTOOL, "amtool is missing: install the Debian package prometheus-alertmanager (tests/run.sh APT_PACKAGES)"
    candidate = directory / "alertmanager.yml"
    candidate.write_text(text, encoding="utf-8")
    return subprocess.run([AMTOOL if arg == "amtool" else arg for arg in validate_command(str(candidate))], capture_output=True, text=True, check=False)


@pytest.fixture
def run(tmp_path: pathlib.Path):
    """plan() through build_desired, then amtool check-config on the result and on the idempotent second run."""

    def _run(text: str, **params: object):
        desired = build_desired("alertmanager", params, BACKEND)
        result = plan(BACKEND, text, desired, header=PATH)
        checked = amtool(result.after, tmp_path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        again = plan(BACKEND, result.after, desired, header=PATH)
        assert again.changed is False and again.after == result.after
        return result

    return _run


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line[1:]
        for line in difflib.unified_diff(before.split("\n"), after.split("\n"), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


FULL = {
    "host": "smtp.example.com",
    "port": 587,
    "security": "starttls",
    "helo_domain": "alertmanager.example.com",
    "username": "alertmanager@example.com",
    "password": SECRET,
    "from_address": "alertmanager@example.com",
    "from_name": "Ops Alerts",
}


def test_full_round_trip_keeps_every_other_byte(run) -> None:
    result = run(FIXTURE, **FULL)
    assert changed_lines(FIXTURE, result.after) == [
        "  smtp_smarthost: 'mail.example.org:25'  # the old relay",
        '  smtp_from: "Alerts <alertmanager@example.org>"',
        "  smtp_hello: alertmanager.example.org",
        '  smtp_smarthost: "smtp.example.com:587"  # the old relay',
        '  smtp_from: "Ops Alerts <alertmanager@example.com>"',
        '  smtp_hello: "alertmanager.example.com"',
        "  smtp_require_tls: true",
        '  smtp_auth_username: "alertmanager@example.com"',
        '  smtp_auth_password: "Am-\\"Secret\\"\\\\pw #1: x"',
    ]
    # receivers, routes, templates, inhibit rules and comments: byte for byte
    assert result.after.split("\n# Templates are read", 1)[1] == FIXTURE.split("\n# Templates are read", 1)[1]
    assert result.after.split("  smtp_smarthost", 1)[0] == FIXTURE.split("  smtp_smarthost", 1)[0]
    assert BACKEND.read(result.after) == {**FULL, "auth": "plain", "password": SECRET}
    assert result.settings["password"] == MASK and result.settings["security"] == "starttls"
    shown = json.dumps({"diff": result.diff, "settings": result.settings, "warnings": result.warnings})
    for secret in (SECRET, json.dumps(SECRET)[1:-1], *FOREIGN_SECRETS):
        assert secret not in shown
    after = json.loads(result.diff["after"])
    assert after["global.smtp_auth_password"] == MASK and after["global.smtp_smarthost"] == "smtp.example.com:587"
    assert set(after) == {
        f"global.{key}" for key in ("smtp_smarthost", "smtp_from", "smtp_hello", "smtp_require_tls", "smtp_auth_username", "smtp_auth_password")
    }


def test_changing_one_key_changes_one_line(run) -> None:
    result = run(FIXTURE, helo_domain="mx.example.net")
    assert changed_lines(FIXTURE, result.after) == ["  smtp_hello: alertmanager.example.org", '  smtp_hello: "mx.example.net"']
    assert json.loads(result.diff["before"])["global.smtp_hello"] == "alertmanager.example.org"


def test_equal_values_in_another_quoting_style_are_not_rewritten(run) -> None:
    result = run(FIXTURE, host="mail.example.org", port=25, from_address="alertmanager@example.org", from_name="Alerts", helo_domain="alertmanager.example.org")
    assert result.changed is False and result.after == FIXTURE


BARE = MINIMAL.replace("        from: am@example.org\n", "")  # no sender anywhere: amtool needs smtp_from
NEW = 'global:\n  smtp_smarthost: "localhost:25"\n  smtp_require_tls: false\n  smtp_from: "am@example.org"\n'


@pytest.mark.parametrize(
    "text, expected",
    [
        (BARE, NEW + "\n" + BARE),
        ("# Ops team\n# second comment line\n\n" + BARE, "# Ops team\n# second comment line\n" + NEW + "\n" + BARE),
        ("---\n# header\n" + BARE, "---\n# header\n" + NEW + "\n" + BARE),
        ("global:\n  # nothing yet\n" + BARE, NEW + "  # nothing yet\n" + BARE),
        ("global: # empty\n" + BARE, NEW.replace("global:", "global: # empty") + BARE),
        (BARE + "global:\n    resolve_timeout: 1m", BARE + NEW.replace("  ", "    ").replace("global:\n", "global:\n    resolve_timeout: 1m\n")),
        ("\ufeff" + BARE, "\ufeff" + NEW + "\n" + BARE),
    ],
    ids=["no-global", "after-comments", "after-document-start", "empty-global", "empty-global-comment", "global-last-no-newline", "bom"],
)
def test_fresh_global_block(run, text: str, expected: str) -> None:
    assert run(text, provider="local_postfix", from_address="am@example.org").after == expected


def test_crlf_file_keeps_crlf(run) -> None:
    text = FIXTURE.replace("\n", "\r\n")
    result = run(text, **FULL)
    assert "\n" not in result.after.replace("\r\n", "") and '  smtp_auth_password: "Am-' in result.after
    assert run(MINIMAL.replace("\n", "\r\n"), provider="local_postfix").after == (NEW.replace('  smtp_from: "am@example.org"\n', "") + "\n" + MINIMAL).replace(
        "\n", "\r\n"
    )


def test_password_change_is_detected_without_showing_it(run) -> None:
    first = run(FIXTURE, **FULL)
    second = run(first.after, **{**FULL, "password": "Rotated-Secret-2"})
    assert second.changed is True and changed_lines(first.after, second.after) == [
        '  smtp_auth_password: "Am-\\"Secret\\"\\\\pw #1: x"',
        '  smtp_auth_password: "Rotated-Secret-2"',
    ]
    assert second.diff["before"] == second.diff["after"]  # the only change is the masked secret
    shown = json.dumps({"diff": second.diff, "settings": second.settings})
    assert "Rotated-Secret-2" not in shown and "Am-" not in shown
    kept = plan(BACKEND, first.after, build_desired("alertmanager", {**FULL, "password": "Rotated-Secret-2", "update_password": "on_create"}, BACKEND))
    assert kept.changed is False


@pytest.mark.parametrize(
    "params, smarthost, require_tls",
    [
        ({"host": "smtp.example.com", "port": 587, "security": "starttls"}, "smtp.example.com:587", True),
        ({"host": "smtp.example.com", "port": 465, "security": "tls"}, "smtp.example.com:465", False),
        ({"host": "relay.example.com", "port": 25, "security": "none"}, "relay.example.com:25", False),
        ({"host": "2001:db8::25", "port": 587, "security": "starttls"}, "[2001:db8::25]:587", True),
        ({"provider": "ses", "provider_region": "eu-west-1"}, "email-smtp.eu-west-1.amazonaws.com:465", False),
        ({"provider": "gmail"}, "smtp.gmail.com:587", True),
    ],
)
def test_security_maps_to_port_and_require_tls(run, params: dict, smarthost: str, require_tls: bool) -> None:
    result = run(MINIMAL, **params)
    assert BACKEND.values(result.after)["smtp_smarthost"] == smarthost
    assert BACKEND.values(result.after)["smtp_require_tls"] is require_tls
    read = BACKEND.read(result.after)
    assert (read["host"], read["port"], read["security"]) == (params.get("host", read["host"]), params.get("port", read["port"]), result.settings["security"])


AUTH_TEXT = 'global:\n  smtp_smarthost: "smtp.example.com:587"\n  smtp_auth_username: "am"\n  smtp_auth_password: "Old-Secret-3"\n' + MINIMAL


def test_auth_mechanisms(run) -> None:
    cram = run(AUTH_TEXT, auth="cram-md5", security="starttls")
    assert BACKEND.values(cram.after) == {**BACKEND.values(AUTH_TEXT), "smtp_auth_password": "", "smtp_auth_secret": "Old-Secret-3", "smtp_require_tls": True}
    assert BACKEND.read(cram.after)["auth"] == "cram-md5" and BACKEND.read(cram.after)["password"] == "Old-Secret-3"
    assert json.loads(cram.diff["after"])["global.smtp_auth_secret"] == MASK
    back = run(cram.after, auth="login", password="New-Secret-4")
    assert BACKEND.values(back.after)["smtp_auth_password"] == "New-Secret-4" and BACKEND.values(back.after)["smtp_auth_secret"] == ""
    none = run(AUTH_TEXT, auth="none")
    assert BACKEND.read(none.after)["auth"] == "none" and "Old-Secret-3" not in none.after


def test_plaintext_credentials_only_to_exact_localhost(run) -> None:
    local = {"host": "127.0.0.1", "port": 25, "security": "none", "username": "am", "password": "Local-Secret-6", "allow_plaintext_auth": True}
    assert BACKEND.read(run(MINIMAL, **local).after)["security"] == "none"
    assert BACKEND.values(run(MINIMAL, **{**local, "host": "::1"}).after)["smtp_smarthost"] == "[::1]:25"
    for host in ("127.0.0.2", "localhost."):
        with pytest.raises(SettingsValidationError) as exc:
            run(MINIMAL, **{**local, "host": host})
        assert exc.value.option == "host" and "exactly localhost, 127.0.0.1 or ::1" in exc.value.rule


def test_from_name_non_ascii_is_an_rfc2047_word(run) -> None:
    result = run(FIXTURE, from_address="am@example.com", from_name="Jörg's Wächter, Ops")
    assert BACKEND.values(result.after)["smtp_from"].isascii()
    assert BACKEND.read(result.after)["from_name"] == "Jörg's Wächter, Ops"


def test_extra_keys(run) -> None:
    result = run(AUTH_TEXT, extra={"smtp_auth_identity": "ops"})
    assert BACKEND.values(result.after)["smtp_auth_identity"] == "ops"
    moved = run(AUTH_TEXT, password="", extra={"smtp_auth_password_file": "/etc/prometheus/smtp.pw"})
    assert BACKEND.read(moved.after)["password"] is None and "Old-Secret-3" not in moved.after


@pytest.mark.parametrize(
    "text, params, option, fragment",
    [
        (MINIMAL, {"security": "tls", "port": 2465, "host": "smtp.example.com"}, "security", "implicit TLS only on port 465"),
        (MINIMAL, {"security": "none", "port": 465, "host": "smtp.example.com"}, "security", "always does implicit TLS on port 465"),
        (AUTH_TEXT, {"port": 465}, "security", "set security too"),
        ('global:\n  smtp_smarthost: "smtp.example.com:465"\n  smtp_require_tls: false\n' + MINIMAL, {"port": 587}, "security", "set security too"),
        (MINIMAL, {"host": "smtp.example.com"}, "port", "set port too"),
        (MINIMAL, {"port": 25}, "host", "set host too"),
        (MINIMAL, {"from_name": "Ops"}, "from_name", "set from_address too"),
        (MINIMAL, {"from_address": "am@example.com", "from_name": "{{ .Status }}"}, "from_name", "Go template"),
        (MINIMAL, {"from_address": "{{x}}@example.com"}, "from_address", "Go template"),
        (MINIMAL, {"enabled": True}, "enabled", "no switch for email"),
        (MINIMAL, {"reply_to": "ops@example.com"}, "reply_to", "not supported by app=alertmanager"),
        (MINIMAL, {"validate_certs": False}, "validate_certs", "no global TLS setting"),
        (MINIMAL, {"extra": {"smtp_smarthost": "x:25"}}, "extra.smtp_smarthost", "extra keys are smtp_auth_identity"),
        (MINIMAL, {"extra": {"smtp_auth_identity": 5}}, "extra.smtp_auth_identity", "must be a string"),
        (MINIMAL, {"extra": {"smtp_auth_secret": "Extra-Secret-1"}}, "extra.smtp_auth_secret", "not no_log"),
        (AUTH_TEXT, {"extra": {"smtp_auth_password_file": "/pw"}}, "extra.smtp_auth_password_file", "only one of smtp_auth_password"),
        (MINIMAL, {"host": "mail.example.com", "port": 25, "security": "none", "username": "u", "password": "p"}, "security", "credentials"),
    ],
)
def test_rules(run, text: str, params: dict, option: str, fragment: str) -> None:
    with pytest.raises(SettingsValidationError) as exc:
        run(text, **params)
    assert exc.value.option == option
    assert fragment in exc.value.rule
    assert "Extra-Secret-1" not in str(exc.value)


BAD_CHARACTERS = ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\x00", "\t", "\x7f", "\x9b"]
TEXT_OPTIONS = ("host", "helo_domain", "username", "password", "from_address", "from_name", "extra.smtp_auth_identity")


@pytest.mark.parametrize("char", BAD_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("option", TEXT_OPTIONS)
def test_line_separators_and_controls_are_refused(run, option: str, char: str) -> None:
    value = f"ops{char}smtp_smarthost: evil.example:25"
    params: dict = {"extra": {option.split(".", 1)[1]: value}} if option.startswith("extra.") else {option: value}
    with pytest.raises(SettingsValidationError) as exc:
        run(AUTH_TEXT, **params)
    assert exc.value.option == option
    assert f"U+{ord(char):04X}" in exc.value.rule and value not in str(exc.value)


@pytest.mark.parametrize("value", ["a\nb", "x\u2028y\u2029z\x85w", "\x0b\x0c\x1c\x1d\x1e\x7f\x9b", "tab\there", "é ü 😀", "\ud800"])
def test_encode_is_always_one_line(value: str) -> None:
    assert set_key("", "smtp_hello", value).count("\n") == 2 and len(set_key("\ufeff", "smtp_hello", value).splitlines()) == 2
    encoded = encode(value)
    assert len(encoded.splitlines()) == 1 and encoded.startswith('"') and encoded.endswith('"')
    assert all(ord(char) >= 0x20 and char not in "\x7f\x85\u2028\u2029" and not 0x80 <= ord(char) <= 0x9F for char in encoded)


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "it's",
        'say "hi"',
        "back\\slash",
        " padded ",
        "# not a comment",
        "a: b",
        "- dash",
        "{{ x }}",
        "é 😀",
        "*star",
        "&amp",
        "!bang",
        "%25",
        "@at",
        "`tick",
    ],
)
def test_tricky_values_round_trip(run, value: str) -> None:
    result = run(AUTH_TEXT, password=value)
    assert BACKEND.read(result.after)["password"] == value


@pytest.mark.parametrize(
    "line, value",
    [
        ("smtp_hello: plain.example  # comment", "plain.example"),
        ("smtp_hello: 'it''s'  # comment", "it's"),
        ('smtp_hello: "tab\\there\\x41\\u00e9\\U0001F600\\/\\ \\_" # c', "tab\thereA\u00e9\U0001f600/ \xa0"),
        ('"smtp_hello": quoted-key', "quoted-key"),
        ("'smtp_hello':   spaced", "spaced"),
        ("smtp_hello: a#b", "a#b"),
        ("smtp_hello: ~", None),
        ("smtp_hello:", None),
        ("smtp_hello: # only a comment", None),
        ("smtp_require_tls: no", False),
        ("smtp_require_tls: On", True),
        ("smtp_require_tls: 'true'", "true"),
    ],
)
def test_read_scalars(line: str, value: object) -> None:
    key = line.split(":", 1)[0].strip("'\"")
    assert BACKEND.values(f"global:\n  {line}\n" + MINIMAL)[key] == value


REFUSED = [
    ("global: {smtp_from: a@b.c}\n", "line 1: global has flow-style global: {...}"),
    ("global: &g\n  smtp_hello: x\n", "line 1: global has an anchor"),
    ("global:\n  smtp_hello: &h x\n", "line 2: smtp_hello has an anchor"),
    ("global:\n  smtp_hello: *h\n", "line 2: smtp_hello has an alias"),
    ("global:\n  smtp_hello: !!str x\n", "line 2: smtp_hello has a tag"),
    ("global:\n  smtp_auth_password: |\n    Block-Secret-9\n", "line 2: smtp_auth_password has a multi-line block scalar"),
    ("global:\n  smtp_hello: >-\n    folded\n", "line 2: smtp_hello has a multi-line block scalar"),
    ("global:\n  smtp_hello: first\n    second\n", "line 3: smtp_hello continues on this line"),
    ('global:\n  smtp_hello: "open\n    close"\n', "line 2: smtp_hello has a quoted value that does not end"),
    ('global:\n  smtp_hello: "bad \\q escape"\n', "unknown escape"),
    ("global:\n  smtp_hello: 'x' tail\n", "text after its quoted value"),
    ("global:\n  smtp_hello: a: b\n", "': ' in a plain value"),
    ("global:\n  smtp_hello: [a, b]\n", "a flow sequence"),
    ("global:\n  smtp_hello:\n    nested: x\n", "line 3: smtp_hello continues"),
    ("global:\n\tsmtp_hello: x\n", "line 2: a tab in the indentation"),
    ("global:\n  resolve_timeout: 5m\n \tsmtp_hello: x\n", "line 3: a tab in the indentation"),
    ("global:\n  smtp_hello: a\n  smtp_hello: b\n", "line 3: duplicate key 'smtp_hello' in global (first on line 2)"),
    ("global:\n  smtp_hello: a\n  'smtp_hello': b\n", "duplicate key 'smtp_hello'"),
    ("global:\n  smtp_hello: a\nglobal:\n  smtp_from: b@c.d\n", "line 3: duplicate key 'global' (first on line 1)"),
    ("global:\n  <<: *defaults\n", "a merge key"),
    ("global:\n    smtp_hello: a\n  smtp_from: b@c.d\n", "line 3: this line of the global block is not"),
    ("global:\n  smtp_hello: a\n---\nroute: {}\n", "a second YAML document"),
    ("? complex\n", "line 1: this top-level line is not"),
    ("# comment\u2028global: {}\n", "line 1: U+2028"),
    ("global:\n  smtp_hello: a\u2029b\n", "line 2: U+2029"),
    ("global:\n  smtp_hello: a\x85b\n", "line 2: U+0085"),
    ("global:\n  smtp_hello: a\rb\n", "line 2: U+000D"),
    ("global:\n  smtp_hello: a\x0cb\n", "line 2: U+000C"),
    ("route:\n  receiver: x\x0b\n", "line 2: U+000B"),
    ("global:\n  smtp_hello: a\x1cb\n", "line 2: U+001C"),
    ("global:\n  smtp_hello: a\x00b\n", "line 2: U+0000"),
]


@pytest.mark.parametrize("text, fragment", REFUSED)
def test_unsafe_files_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(SettingsFormatError) as exc:
        plan(BACKEND, text + MINIMAL, build_desired("alertmanager", {"helo_domain": "x.example.com"}, BACKEND))
    message = str(exc.value)
    assert message.startswith(f"{PATH}: line ") and fragment in message and "nothing was changed" in message
    assert "Block-Secret-9" not in message


def test_smarthost_without_port_is_refused_like_amtool(tmp_path: pathlib.Path) -> None:
    broken = 'global:\n  smtp_smarthost: "mail.example.org"\n' + MINIMAL
    checked = amtool(broken, tmp_path)
    assert checked.returncode != 0 and "missing port in address" in checked.stdout
    with pytest.raises(SettingsFormatError, match="is not host:port"):
        plan(BACKEND, broken, build_desired("alertmanager", {"helo_domain": "x.example.com"}, BACKEND))


def test_amtool_catches_what_the_line_editor_does_not_know(tmp_path: pathlib.Path) -> None:
    result = plan(BACKEND, MINIMAL.replace("receiver: ops", "receiver: nobody"), build_desired("alertmanager", {"provider": "local_postfix"}, BACKEND))
    checked = amtool(result.after, tmp_path)
    assert checked.returncode != 0 and 'undefined receiver "nobody"' in checked.stdout
    assert validate_command("/etc/prometheus/.alertmanager.yml.tmp") == ["amtool", "check-config", "/etc/prometheus/.alertmanager.yml.tmp"]
    assert BACKEND.syntax_error(checked.returncode, checked.stdout, checked.stderr) == 'undefined receiver "nobody" used in route'
    assert validate_command("/x.yml") == ["amtool", *BACKEND.syntax_check[2], "/x.yml"] and BACKEND.syntax_check[0] == "amtool"


def test_syntax_error_masks_the_values_amtool_quotes(tmp_path: pathlib.Path) -> None:
    broken = 'global:\n  smtp_require_tls: "Hunter2"\n  smtp_auth_password: [Seq-Secret-7]\n' + MINIMAL
    checked = amtool(broken, tmp_path)
    assert checked.returncode == 1 and "Hunter2" in checked.stdout
    problem = BACKEND.syntax_error(checked.returncode, checked.stdout, checked.stderr)
    assert problem == "yaml: unmarshal errors: line 2: cannot unmarshal !!str `***` into bool line 3: cannot unmarshal !!seq into config.plain"
    assert BACKEND.syntax_error(0, "SUCCESS", "") is None and BACKEND.syntax_error(2, "", "") == "exit code 2"


def test_warnings() -> None:
    text = 'global:\n  smtp_smarthost: "smtp.example.com:465"\n  smtp_auth_username: am\n' + MINIMAL + "        smarthost: other.example.com:25\n"
    warnings = BACKEND.warnings(text)
    assert len(warnings) == 3
    assert "port 465 with smtp_require_tls not false" in warnings[0]
    assert "smtp_auth_username without a password" in warnings[1]
    assert "receivers set smarthost themselves" in warnings[2]
    assert BACKEND.warnings(FIXTURE) == []


@pytest.mark.parametrize(
    "value, expected",
    [
        ("a.example:25", ("a.example", 25)),
        ("[::1]:587", ("::1", 587)),
        ("::1:25", (None, None)),
        ("host", (None, None)),
        ("h:", ("h", None)),
        (":25", ("", 25)),
    ],
)
def test_split_hostport(value: str, expected: tuple) -> None:
    assert split_hostport(value) == expected


def test_parse_global_locates_the_block() -> None:
    lines, block = parse_global(FIXTURE, PATH)
    assert lines[block.header] == "global:\n" and lines[block.last].startswith("  slack_api_url:")
    assert block.indent == "  " and sorted(block.keys)[:3] == ["http_config", "resolve_timeout", "slack_api_url"]


@pytest.mark.parametrize(
    "mode, params",
    [
        ("starttls", {"host": "localhost", "security": "starttls"}),
        ("plain", {"host": "127.0.0.1", "security": "none", "allow_plaintext_auth": True}),
    ],
)
def test_real_alertmanager_sends_through_the_rendered_file(run, certs, tmp_path: pathlib.Path, mode: str, params: dict) -> None:
    """The real Alertmanager 0.25 binary, the file this backend wrote and aiosmtpd on 127.0.0.1 (AUTH required)."""
    binary = shutil.which("prometheus-alertmanager")
    assert binary, "prometheus-alertmanager is missing: install the Debian package prometheus-alertmanager"
    server = SmtpServer(certs, mode=mode, auth_required=True, auth_require_tls=False)
    # Alertmanager takes the first mechanism offered, and its LOGIN expects the challenge "Username:"; aiosmtpd
    # sends "User Name" (Postfix/Dovecot and Cyrus send "Username:"), so this server offers PLAIN only.
    server.controller.SMTP_kwargs["auth_exclude_mechanism"] = ["LOGIN"]
    with server:
        text = MINIMAL.replace("receiver: ops\n", "receiver: ops\n  group_wait: 1s\n", 1)
        result = run(text, port=server.port, username=USERNAME, password=PASSWORD, from_address="am@example.test", from_name="Jörg Alerts", **params)
        config = tmp_path / "alertmanager.yml"
        config.write_text(result.after.replace("        from: am@example.org\n", ""), encoding="utf-8")
        web = free_port()
        command = [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{web}",
            "--cluster.listen-address=",
        ]
        with open(tmp_path / "alertmanager.log", "wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={"PATH": "/usr/bin:/bin", "SSL_CERT_FILE": certs.ca_file})
        try:
            alert = json.dumps([{"labels": {"alertname": "MailopsProbe"}}]).encode()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not server.messages:
                with contextlib.suppress(OSError):
                    request = urllib.request.Request(f"http://127.0.0.1:{web}/api/v2/alerts", data=alert, headers={"Content-Type": "application/json"})
                    urllib.request.urlopen(request, timeout=2).close()
                    alert = b"[]"
                time.sleep(0.2)
        finally:
            process.terminate()
            process.wait(timeout=20)
    log_text = (tmp_path / "alertmanager.log").read_text(encoding="utf-8", errors="replace")
    assert server.messages, log_text
    message = server.messages[0]
    assert message["mail_from"] == "am@example.test" and message["rcpt_tos"] == ["ops@example.org"]
    assert "From: =?utf-8?q?J=C3=B6rg_Alerts?= <am@example.test>" in message["content"] and "MailopsProbe" in message["content"]
    assert PASSWORD not in log_text
