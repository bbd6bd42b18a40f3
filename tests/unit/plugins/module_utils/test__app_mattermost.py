# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import difflib
import json
import os
import pathlib
import re
import shutil
import subprocess
import time

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._app_mattermost import (
    EMAIL_SETTINGS_TYPES,
    ConfigSource,
    MattermostBackend,
    check_config_sources,
    check_service_name,
    config_flag,
    is_json_type,
    override_name,
    parse_env_file,
    parse_systemctl_show,
    service_sources,
    set_path,
    verify_config_source,
)
from ansible_collections.mailops.notify.plugins.module_utils._settings import (
    MASK,
    SettingsFormatError,
    SettingsSourceError,
    SettingsValidationError,
    build_desired,
    plan,
)
from ansible_collections.mailops.notify.tests.unit.plugins.fixtures.app_secrets import FILE_SECRETS

FIXTURE = (pathlib.Path(__file__).parent.parent / "fixtures" / "mattermost_config.json").read_text()
BACKEND = MattermostBackend()
SECRET = "Zq9-not-in-any-output"


def run(text: str, **params: object):
    return plan(BACKEND, text, build_desired("mattermost", params, BACKEND), header="config.json")


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line[1:]
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def keys_in_order(text: str) -> list[str]:
    out: list[str] = []

    def walk(pairs: list) -> dict:
        out.extend(key for key, _value in pairs)
        return dict(pairs)

    json.loads(text, object_pairs_hook=walk)
    return out


def assert_types(text: str) -> None:
    data = json.loads(text)
    for key, kind in EMAIL_SETTINGS_TYPES.items():
        assert is_json_type(data["EmailSettings"][key], kind), key


def test_fixture_matches_documented_struct() -> None:
    # the fixture is a full default config: every documented EmailSettings key, with its documented type
    assert set(json.loads(FIXTURE)["EmailSettings"]) == set(EMAIL_SETTINGS_TYPES)
    assert_types(FIXTURE)


# Each sample of the Mattermost guide, as a preset, yields exactly the guide's values.
GUIDE = [
    ("ses", {"username": "AKIAEXAMPLE", "password": SECRET}, "email-smtp.us-east-1.amazonaws.com", "465", "TLS", True),
    ("local_postfix", {}, "localhost", "25", "", False),
    ("gmail", {"username": "your_email@gmail.com", "password": SECRET}, "smtp.gmail.com", "587", "STARTTLS", True),
    ("outlook", {"username": "your_email@hotmail.com", "password": SECRET}, "smtp-mail.outlook.com", "587", "STARTTLS", True),
    ("office365", {"username": "your_email@hotmail.com", "password": SECRET}, "smtp.office365.com", "587", "STARTTLS", True),
]


@pytest.mark.parametrize("sample", GUIDE, ids=[sample[0] for sample in GUIDE])
def test_guide_provider_samples(sample: tuple) -> None:
    provider, creds, server, port, security, auth = sample
    result = run(FIXTURE, provider=provider, **creds)
    es = json.loads(result.after)["EmailSettings"]
    assert (es["SMTPServer"], es["SMTPPort"], es["ConnectionSecurity"], es["EnableSMTPAuth"]) == (server, port, security, auth)
    assert es["SMTPUsername"] == creds.get("username", "")
    assert es["SMTPPassword"] == creds.get("password", "")
    assert_types(result.after)
    assert SECRET not in json.dumps({"settings": result.settings, "diff": result.diff})
    # only EmailSettings lines changed, and each changed line carries one of the expected keys
    for line in changed_lines(FIXTURE, result.after):
        assert re.match(r'^        "(SMTPServer|SMTPPort|ConnectionSecurity|EnableSMTPAuth|SMTPUsername|SMTPPassword)": ', line), line
    again = run(result.after, provider=provider, **creds)
    assert again.changed is False
    assert again.after == result.after


def test_round_trip_keeps_everything_else() -> None:
    result = run(
        FIXTURE,
        enabled=True,
        host="smtp.example.com",
        port=587,
        security="starttls",
        username="mm@example.com",
        password=SECRET,
        from_address="mattermost@example.com",
        from_name="Mattermost <Ops> & Co",
        reply_to="noreply@example.com",
        support_address="help@example.com",
        validate_certs=False,
        extra={"EnableSignUpWithEmail": "false", "EmailBatchingInterval": "60", "ServiceSettings.EnableEmailInvitations": True},
    )
    assert result.changed
    before, after = json.loads(FIXTURE), json.loads(result.after)
    assert keys_in_order(FIXTURE) == keys_in_order(result.after)
    es = after["EmailSettings"]
    assert es["FeedbackName"] == "Mattermost <Ops> & Co"
    assert "Mattermost \\u003cOps\\u003e \\u0026 Co" in result.after  # Go's json escaping
    assert es["EmailBatchingInterval"] == 60 and es["EnableSignUpWithEmail"] is False
    assert es["SkipServerCertificateVerification"] is True
    assert after["ServiceSettings"]["EnableEmailInvitations"] is True
    assert after["SupportSettings"]["SupportEmail"] == "help@example.com"
    # the other SMTP password in the file (message export) is untouched
    assert after["MessageExportSettings"] == before["MessageExportSettings"]
    for section in before:
        if section not in ("EmailSettings", "ServiceSettings", "SupportSettings"):
            assert after[section] == before[section]
    assert len(changed_lines(FIXTURE, result.after)) == 2 * 14
    assert_types(result.after)
    assert run(result.after, **{"password": SECRET, "username": "mm@example.com", "security": "starttls"}).changed is False


@pytest.mark.parametrize("indent", ["  ", "\t", "        "])
def test_indentation_style_is_kept(indent: str) -> None:
    data = json.loads(FIXTURE)
    del data["EmailSettings"]["EmailBatchingInterval"]  # an older config.json without the key
    text = json.dumps(data, indent=indent) + "\n"
    result = run(text, host="smtp.example.com", extra={"EmailBatchingInterval": 45})
    lines = changed_lines(text, result.after)
    assert f'{indent * 2}"SMTPServer": "smtp.example.com",' in lines
    assert f'{indent * 2}"EmailBatchingInterval": 45' in lines
    # the line that got a comma, the SMTPServer line before/after, the new line
    assert len(lines) == 5
    expected = keys_in_order(text)
    expected.insert(expected.index("LoginButtonTextColor") + 1, "EmailBatchingInterval")  # last member of EmailSettings
    assert keys_in_order(result.after) == expected


def test_missing_section_is_created() -> None:
    text = '{\n    "EmailSettings": {\n        "SMTPServer": "localhost"\n    }\n}\n'
    after = set_path(text, "SupportSettings.SupportEmail", "help@example.com")
    assert json.loads(after) == {"EmailSettings": {"SMTPServer": "localhost"}, "SupportSettings": {"SupportEmail": "help@example.com"}}
    assert after.startswith(text[: text.index("\n    }") + 6])
    assert '\n    "SupportSettings": {\n        "SupportEmail": "help@example.com"\n    }\n}' in after


def test_empty_object_gets_member() -> None:
    after = set_path('{\n    "EmailSettings": {}\n}', "EmailSettings.SMTPPort", "25")
    assert after == '{\n    "EmailSettings": {\n        "SMTPPort": "25"\n    }\n}'


def test_equal_value_keeps_bytes() -> None:
    text = '{"EmailSettings": {"FeedbackName": "A \\u0026 B", "SMTPPort": "25"}}'
    assert set_path(text, "EmailSettings.FeedbackName", "A & B") == text
    # same value, different JSON type: rewritten with the documented type
    assert json.loads(set_path('{"EmailSettings": {"SMTPPort": 25}}', "EmailSettings.SMTPPort", "25"))["EmailSettings"]["SMTPPort"] == "25"


@pytest.mark.parametrize(
    "text, where",
    [
        # the first of two SMTPPassword members used to show unmasked in the diff
        (
            '{"EmailSettings": {"SMTPPassword": "first-Dup-Secret",\n "SMTPServer": "a",\n "SMTPPassword": ""}}',
            "'EmailSettings.SMTPPassword' twice (the second at line 3)",
        ),
        ('{"EmailSettings": {"SMTPServer": "a"},\n"EmailSettings": {"SMTPServer": "b"}}', "'EmailSettings' twice (the second at line 2)"),
        ('{"EmailSettings": {}, "X": [{"Secret": "first-Dup-Secret", "Secret": ""}]}', "'Secret' twice;"),
    ],
)
def test_duplicate_keys_are_refused(text: str, where: str) -> None:
    with pytest.raises(SettingsFormatError) as exc:
        run(text, host="smtp.example.com")
    assert str(exc.value).startswith("config.json has the key ") and where in str(exc.value)
    assert str(exc.value).endswith("Mattermost would silently use the last one. Remove the duplicate, nothing was changed")
    assert "first-Dup-Secret" not in str(exc.value)
    with pytest.raises(SettingsFormatError):
        set_path(text, "EmailSettings.SMTPServer", "c")


@pytest.mark.parametrize(
    "key, value",
    [("SqlSettings.DriverName", "postgres"), ("ServiceSettings.SiteURL", "https://chat.example.com"), ("FileSettings.Directory", "./d")],
)
def test_extra_outside_email_settings_takes_only_booleans_and_numbers(key: str, value: str) -> None:
    with pytest.raises(SettingsValidationError) as exc:
        run(FIXTURE, extra={key: value})
    assert exc.value.option == f"extra.{key}"
    assert "only boolean and number keys can be set outside EmailSettings" in exc.value.rule


def test_diff_holds_only_owned_keys() -> None:
    result = run(
        FIXTURE,
        provider="gmail",
        username="me@gmail.com",
        password=SECRET,
        support_address="help@example.com",
        extra={"ServiceSettings.EnableEmailInvitations": True},
    )
    before, after = json.loads(result.diff["before"]), json.loads(result.diff["after"])
    for view in (before, after):
        others = {key for key in view if not key.startswith("EmailSettings.")}
        assert others == {"SupportSettings.SupportEmail", "ServiceSettings.EnableEmailInvitations"}
        assert set(view) - others == {f"EmailSettings.{key}" for key in EMAIL_SETTINGS_TYPES}
    assert after["EmailSettings.SMTPPassword"] == MASK and before["EmailSettings.SMTPPassword"] == ""
    assert after["EmailSettings.SMTPServer"] == "smtp.gmail.com" and before["EmailSettings.SMTPServer"] == "localhost"
    dumped = json.dumps(result.diff) + json.dumps(result.settings)
    for secret in (SECRET, *FILE_SECRETS["mattermost"]):
        assert secret not in dumped


def test_diff_masks_a_stored_password() -> None:
    stored = FIXTURE.replace('"SMTPPassword": "",', '"SMTPPassword": "Stored-Pw-55",', 1)
    result = run(stored, from_name="Mattermost")
    assert "Stored-Pw-55" not in json.dumps(result.diff)
    assert json.loads(result.diff["before"])["EmailSettings.SMTPPassword"] == MASK


def test_line_separators_are_escaped_like_go() -> None:
    # Go's encoding/json writes U+2028 and U+2029 escaped
    after = set_path('{"EmailSettings": {}}', "EmailSettings.FeedbackName", "a\u2028b\u2029c")
    assert "\u2028" not in after and "\u2029" not in after
    assert "a\\u2028b\\u2029c" in after
    assert json.loads(after)["EmailSettings"]["FeedbackName"] == "a\u2028b\u2029c"
    # a raw one already in the file (valid JSON) is kept as it is, and a second run changes nothing
    text = FIXTURE.replace('"FeedbackOrganization": ""', '"FeedbackOrganization": "Ops\u2028[x]\u2029Team"')
    first = run(text, host="smtp.example.com")
    assert '"FeedbackOrganization": "Ops\u2028[x]\u2029Team"' in first.after
    assert run(first.after, host="smtp.example.com").changed is False


@pytest.mark.parametrize(
    "extra, option, fragment",
    [
        ({"EmailBatchingInterval": 29}, "extra.EmailBatchingInterval", "at least 30"),
        ({"EmailBatchingBufferSize": 0}, "extra.EmailBatchingBufferSize", "greater than 0"),
        ({"EmailNotificationContentsType": "short"}, "extra.EmailNotificationContentsType", "full, generic"),
        ({"PushNotificationContents": "all"}, "extra.PushNotificationContents", "generic_no_channel"),
        ({"EnableEmailBatching": "maybe"}, "extra.EnableEmailBatching", "must be a boolean"),
        ({"SMTPServerTimeout": "ten"}, "extra.SMTPServerTimeout", "must be an integer"),
        ({"SMTPServer": "x"}, "extra.SMTPServer", "option host"),
        ({"EmailSettings.SMTPPassword": "x"}, "extra.EmailSettings.SMTPPassword", "option password"),
        ({"NoSuchKey": 1}, "extra.NoSuchKey", "EmailSettings has no key"),
        ({"ServiceSettings.NoSuchKey": 1}, "extra.ServiceSettings.NoSuchKey", "not in this config.json"),
        ({"EnableEmailBatching": True}, "extra.EnableEmailBatching", "ClusterSettings.Enable"),
    ],
)
def test_extra_rules(extra: dict, option: str, fragment: str) -> None:
    text = FIXTURE.replace('"ReadOnlyConfig": true', '"ReadOnlyConfig": true').replace(
        '"ClusterSettings": {\n        "Enable": false', '"ClusterSettings": {\n        "Enable": true'
    )
    with pytest.raises(SettingsValidationError) as exc:
        run(text, extra=extra)
    assert exc.value.option == option
    assert fragment in exc.value.rule


def test_email_batching_needs_site_url() -> None:
    text = FIXTURE.replace('"SiteURL": "https://chat.example.com"', '"SiteURL": ""')
    with pytest.raises(SettingsValidationError, match=r"ServiceSettings\.SiteURL"):
        run(text, extra={"EnableEmailBatching": True})
    assert json.loads(run(FIXTURE, extra={"EnableEmailBatching": True}).after)["EmailSettings"]["EnableEmailBatching"] is True


def test_update_password_on_create() -> None:
    first = run(FIXTURE, provider="gmail", username="me@gmail.com", password=SECRET, update_password="on_create")
    assert json.loads(first.after)["EmailSettings"]["SMTPPassword"] == SECRET
    second = run(first.after, provider="gmail", username="me@gmail.com", password="another-" + SECRET, update_password="on_create")
    assert second.changed is False
    rotated = run(first.after, provider="gmail", username="me@gmail.com", password="another-" + SECRET)
    assert rotated.changed is True
    assert json.loads(rotated.after)["EmailSettings"]["SMTPPassword"] == "another-" + SECRET
    assert SECRET not in json.dumps(rotated.diff) + json.dumps(rotated.settings)
    assert rotated.diff["before"].count(MASK) == 1 and rotated.diff["after"].count(MASK) == 1
    assert json.loads(rotated.diff["after"])["EmailSettings.SMTPPassword"] == MASK


def test_auth_none_clears_credentials() -> None:
    first = run(FIXTURE, provider="gmail", username="me@gmail.com", password=SECRET)
    cleared = run(first.after, provider="local_postfix")
    es = json.loads(cleared.after)["EmailSettings"]
    assert (es["EnableSMTPAuth"], es["SMTPUsername"], es["SMTPPassword"], es["ConnectionSecurity"]) == (False, "", "", "")


def test_support_url_is_refused() -> None:
    with pytest.raises(SettingsValidationError) as exc:
        run(FIXTURE, support_address="https://help.example.com")
    assert exc.value.option == "support_address_type"


@pytest.mark.parametrize("text", ["", "[]", '{"EmailSettings": ', '{"EmailSettings": {"SMTPPort": 25,}}'])
def test_invalid_json(text: str) -> None:
    with pytest.raises(SettingsFormatError, match="not valid JSON"):
        run(text, host="smtp.example.com")


def test_check_rejects_wrong_types() -> None:
    with pytest.raises(SettingsFormatError, match=r"SMTPPort must be a JSON str"):
        BACKEND.check('{"EmailSettings": {"SMTPPort": 25}}')
    with pytest.raises(SettingsFormatError, match="ConnectionSecurity"):
        BACKEND.check('{"EmailSettings": {"ConnectionSecurity": "SSL"}}')


# ---- Credentials without TLS: Mattermost cannot use them on any host -----------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1", "smtp.example.com"])
@pytest.mark.parametrize("port", [25, 10025])
def test_credentials_without_tls_are_refused_on_every_host(host: str, port: int) -> None:
    # mail.go: smtp.NewClient(conn, ServerName+":"+Port), so PlainAuth sees "localhost:25" and refuses; loginAuth needs TLS
    with pytest.raises(SettingsValidationError) as exc:
        run(FIXTURE, host=host, port=port, security="none", username="relay", password=SECRET)
    assert exc.value.option == "security"
    assert "app=mattermost can never authenticate without TLS, on any host" in exc.value.rule
    assert "'localhost:25', which is not exactly localhost, 127.0.0.1 or ::1" in exc.value.rule
    assert SECRET not in str(exc.value)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_allow_plaintext_auth_is_refused(host: str) -> None:
    with pytest.raises(SettingsValidationError) as exc:
        run(FIXTURE, host=host, port=25, security="none", username="relay", password=SECRET, allow_plaintext_auth=True)
    assert exc.value.option == "allow_plaintext_auth"
    assert exc.value.rule.startswith("app=mattermost can never send credentials without TLS, not even to a local server: ")


@pytest.mark.parametrize("security, port, value", [("starttls", 587, "STARTTLS"), ("tls", 465, "TLS")])
def test_credentials_with_tls_on_localhost_are_written(security: str, port: int, value: str) -> None:
    result = run(FIXTURE, host="localhost", port=port, security=security, username="relay", password=SECRET)
    es = json.loads(result.after)["EmailSettings"]
    assert (es["ConnectionSecurity"], es["EnableSMTPAuth"], es["SMTPPassword"]) == (value, True, SECRET)


def test_local_relay_without_credentials_is_fine() -> None:
    es = json.loads(run(FIXTURE, provider="local_postfix").after)["EmailSettings"]
    assert (es["SMTPServer"], es["SMTPPort"], es["ConnectionSecurity"], es["EnableSMTPAuth"]) == ("localhost", "25", "", False)


# ---- Does Mattermost read this file? ------------------------------------------------------------------------------------

CONFIG = "/opt/mattermost/config/config.json"
WRITES = ["EmailSettings.SMTPServer", "EmailSettings.SMTPPort", "SupportSettings.SupportEmail"]
DSN_SECRET = "Db-Pass-In-Dsn-77"


def check(environ: dict, argv: tuple = (), same_root: bool = True, **kwargs: object) -> tuple:
    source = ConfigSource("the systemd service mattermost", environ, argv, "ExecStart=", same_root, {k.upper(): "Environment=" for k in environ})
    errors, warnings, names = check_config_sources([source], CONFIG, WRITES, realpath=os.path.normpath, **kwargs)
    for text in (*errors, *warnings):
        assert DSN_SECRET not in text and "db.example.com" not in text  # never a value
    return errors, warnings, names


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "mysql"])
def test_database_dsn_in_mm_config(scheme: str) -> None:
    errors, _warnings, names = check({"MM_CONFIG": f"{scheme}://mmuser:{DSN_SECRET}@db.example.com/mattermost?sslmode=disable"})
    assert names == ["MM_CONFIG"]
    assert errors == [
        "MM_CONFIG in the systemd service mattermost (Environment=) is a database DSN (mysql:// or postgres://), so Mattermost keeps"
        " its configuration in the database (change it with mmctl config set or the System Console)"
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ("/opt/mattermost/bin/mattermost", "--config", f"postgres://mm:{DSN_SECRET}@db.example.com/mm"),
        ("/opt/mattermost/bin/mattermost", f"--config=postgres://mm:{DSN_SECRET}@db.example.com/mm"),
        ("/opt/mattermost/bin/mattermost", "-c", f"postgres://mm:{DSN_SECRET}@db.example.com/mm", "server"),
        ("/opt/mattermost/bin/mattermost", f"-cpostgres://mm:{DSN_SECRET}@db.example.com/mm"),
        ("/opt/mattermost/bin/mattermost", "--config", "/etc/other.json", f"--config=postgres://mm:{DSN_SECRET}@db.example.com/mm"),
    ],
)
def test_database_dsn_in_the_config_flag(argv: tuple) -> None:
    errors, _warnings, names = check({}, argv)
    assert names == ["--config"]
    assert errors[0].startswith("--config in the systemd service mattermost (ExecStart=) is a database DSN")


def test_the_flag_wins_over_mm_config() -> None:
    # getConfigDSN: the flag first, MM_CONFIG only when the flag is empty
    assert check({"MM_CONFIG": f"postgres://mm:{DSN_SECRET}@db.example.com/mm"}, ("mattermost", "--config", CONFIG)) == ([], [], [])
    errors, _w, names = check({"MM_CONFIG": CONFIG}, ("mattermost", "--config", f"mysql://mm:{DSN_SECRET}@db.example.com/mm"))
    assert names == ["--config"] and len(errors) == 1
    assert check({"MM_CONFIG": f"postgres://mm:{DSN_SECRET}@db.example.com/mm"}, ("mattermost", "--config="))[2] == ["MM_CONFIG"]


@pytest.mark.parametrize(
    "environ, argv, ok",
    [
        ({"MM_CONFIG": CONFIG}, (), True),
        ({"MM_CONFIG": "/opt/mattermost/config/../config/config.json"}, (), True),
        ({"MM_CONFIG": "/etc/mattermost/config.json"}, (), False),
        ({"MM_CONFIG": "config.json"}, (), True),  # relative: found in Mattermost's config directory
        ({"MM_CONFIG": "custom.json"}, (), False),
        ({}, ("mattermost",), True),  # no flag, no MM_CONFIG: config.json
        ({}, ("mattermost", "-c", "/srv/mm.json"), False),
    ],
)
def test_another_configuration_file(environ: dict, argv: tuple, ok: bool) -> None:
    errors, _warnings, names = check(environ, argv)
    assert (errors == []) is ok, errors
    if not ok:
        assert "names a" in errors[0] and names


def test_the_default_file_name_counts() -> None:
    source = ConfigSource("the systemd service mattermost", {}, ("mattermost",))
    errors, _w, names = check_config_sources([source], "/opt/mattermost/config/custom.json", WRITES)
    assert names == ["config.json"]
    assert errors == ["the systemd service mattermost (no --config, no MM_CONFIG: Mattermost reads config.json) names a configuration file with another name"]
    # the path given was a link called config.json: that is the file Mattermost finds
    assert check_config_sources([source], "/opt/mattermost/config/custom.json", WRITES, aliases=["/opt/mattermost/config/config.json"])[0] == []


def test_a_path_in_another_mount_namespace_is_not_compared() -> None:
    # a Mattermost in a container sees its own /mattermost/config/config.json, which may be this file mounted there
    assert check({"MM_CONFIG": "/mattermost/config/config.json"}, same_root=False) == ([], [], [])
    # a database DSN is a database in any namespace
    assert check({"MM_CONFIG": f"postgres://mm:{DSN_SECRET}@db.example.com/mm"}, same_root=False)[2] == ["MM_CONFIG"]


def test_environment_overrides_of_written_settings() -> None:
    # environment.go upper-cases the names: any case works
    errors, warnings, names = check({"MM_EMAILSETTINGS_SMTPSERVER": "relay.example.com", "mm_supportsettings_supportemail": "x@example.com"})
    assert names == ["MM_EMAILSETTINGS_SMTPSERVER", "MM_SUPPORTSETTINGS_SUPPORTEMAIL"]
    assert errors == [
        "MM_EMAILSETTINGS_SMTPSERVER in the systemd service mattermost (Environment=); MM_SUPPORTSETTINGS_SUPPORTEMAIL in the systemd"
        " service mattermost (Environment=) override EmailSettings.SMTPServer, SupportSettings.SupportEmail, which this task writes"
        " (the environment wins over the file)"
    ]
    assert warnings == []


def test_overrides_of_other_settings_are_warnings() -> None:
    errors, warnings, names = check({"MM_EMAILSETTINGS_SMTPPASSWORD": DSN_SECRET, "MM_SQLSETTINGS_DATASOURCE": DSN_SECRET, "HOME": "/x"})
    assert errors == [] and names == []
    assert warnings == [
        "the systemd service mattermost sets MM_EMAILSETTINGS_SMTPPASSWORD: Mattermost uses those values, not the ones in"
        f" {CONFIG} (this task does not write them)"
    ]


def test_override_names() -> None:
    assert override_name("EmailSettings.SMTPServer") == "MM_EMAILSETTINGS_SMTPSERVER"
    assert override_name("ServiceSettings.EnableEmailInvitations") == "MM_SERVICESETTINGS_ENABLEEMAILINVITATIONS"


def test_written_paths_are_every_key_the_run_sets() -> None:
    params = {"host": "smtp.example.com", "port": 587, "security": "starttls", "support_address": "help@example.com"}
    paths = BACKEND.written_paths(FIXTURE, build_desired("mattermost", {**params, "extra": {"EnableSignUpWithEmail": True}}, BACKEND))
    assert paths == [
        "EmailSettings.ConnectionSecurity",
        "EmailSettings.EnableSignUpWithEmail",
        "EmailSettings.SMTPPort",
        "EmailSettings.SMTPServer",
        "SupportSettings.SupportEmail",
    ]


@pytest.mark.parametrize(
    "argv, value",
    [
        (("mattermost",), None),
        (("mattermost", "--config", "a.json"), "a.json"),
        (("mattermost", "--config=a.json"), "a.json"),
        (("mattermost", "-c", "a.json"), "a.json"),
        (("mattermost", "-c=a.json"), "a.json"),
        (("mattermost", "-ca.json"), "a.json"),
        (("mattermost", "--config"), None),
        (("mattermost", "--", "--config", "a.json"), None),
        (("mattermost", "server", "--config", "a.json"), "a.json"),
    ],
)
def test_config_flag(argv: tuple, value: str | None) -> None:
    assert config_flag(argv) == value


def test_parse_env_file() -> None:
    text = (
        "# comment\n; another\n\nMM_CONFIG='postgres://u:p w@db/mm'\n"
        'MM_EMAILSETTINGS_SMTPSERVER="relay \\"x\\""\n  MM_LONG=a\\\nb\nnot an assignment\nexport MM_X=1\n=empty\r\nMM_CRLF=v\r\n'
    )
    assert parse_env_file(text) == [
        ("MM_CONFIG", "postgres://u:p w@db/mm"),
        ("MM_EMAILSETTINGS_SMTPSERVER", 'relay "x"'),
        ("MM_LONG", "ab"),
        ("MM_CRLF", "v"),
    ]


SHOW = """LoadState=loaded
MainPID=0
Environment=MM_SERVICESETTINGS_SITEURL=https://chat.example.com "MM_CONFIG=postgres://mm:Db-Pass-In-Dsn-77@db.example.com/mm?a=b c"
EnvironmentFiles=/nonexistent/mattermost.env (ignore_errors=yes)
ExecStart={ path=/opt/mattermost/bin/mattermost ; argv[]=/opt/mattermost/bin/mattermost --config ${MM_CONFIG} ; ignore_errors=no ; \
start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }
"""


def test_parse_systemctl_show() -> None:
    props = parse_systemctl_show(SHOW)
    assert props["LoadState"] == ["loaded"] and props["MainPID"] == ["0"]
    assert props["EnvironmentFiles"] == ["/nonexistent/mattermost.env (ignore_errors=yes)"]


def _no_proc(tmp_path: pathlib.Path) -> str:
    proc = tmp_path / "proc"
    proc.mkdir(exist_ok=True)
    return str(proc)


def test_service_sources_from_systemctl_show(tmp_path: pathlib.Path) -> None:
    env_file = tmp_path / "mattermost.env"
    env_file.write_text("MM_EMAILSETTINGS_SMTPPORT=2525\n")
    calls = []

    def systemctl(args: list) -> tuple:
        calls.append(args)
        return 0, SHOW.replace("/nonexistent/mattermost.env", str(env_file)), ""

    sources, warnings = service_sources("mattermost", systemctl, proc=_no_proc(tmp_path))
    assert calls == [
        [
            "show",
            "--property=LoadState",
            "--property=MainPID",
            "--property=Environment",
            "--property=EnvironmentFiles",
            "--property=ExecStart",
            "--",
            "mattermost",
        ]
    ]
    assert warnings == []
    (source,) = sources
    assert source.environ["MM_CONFIG"].startswith("postgres://") and source.environ["MM_EMAILSETTINGS_SMTPPORT"] == "2525"
    assert source.argv == ("/opt/mattermost/bin/mattermost", "--config", source.environ["MM_CONFIG"])  # ${MM_CONFIG} expanded
    assert source.where("MM_EMAILSETTINGS_SMTPPORT") == f"the systemd service mattermost (EnvironmentFile={env_file})"
    with pytest.raises(SettingsSourceError) as exc:
        verify_config_source("mattermost", CONFIG, WRITES, systemctl, proc=_no_proc(tmp_path))
    message = str(exc.value)
    assert message.startswith(f"{CONFIG} is not what Mattermost reads: --config in the systemd service mattermost (ExecStart=) is a database DSN")
    assert f"MM_EMAILSETTINGS_SMTPPORT in the systemd service mattermost (EnvironmentFile={env_file}) overrides EmailSettings.SMTPPort" in message
    assert message.endswith(". Nothing was changed")
    assert exc.value.names == ["--config", "MM_EMAILSETTINGS_SMTPPORT"]
    assert DSN_SECRET not in message and "db.example.com" not in message


@pytest.mark.parametrize(
    "rc, out",
    [
        (1, "System has not been booted with systemd as init system (PID 1). Can't operate.\n"),
        (0, "LoadState=not-found\nMainPID=0\nEnvironment=\nExecStart=\n"),
    ],
)
def test_no_systemd_or_no_such_service(tmp_path: pathlib.Path, rc: int, out: str) -> None:
    assert service_sources("mattermost", lambda args: (rc, out, ""), proc=_no_proc(tmp_path)) == ([], [])
    assert verify_config_source("mattermost", CONFIG, WRITES, None, proc=_no_proc(tmp_path)) == []


def test_unreadable_environment_file_is_a_warning(tmp_path: pathlib.Path) -> None:
    env_dir = tmp_path / "a-directory.env"
    env_dir.mkdir()
    show = SHOW.replace("/nonexistent/mattermost.env", str(env_dir))
    sources, warnings = service_sources("mattermost", lambda args: (0, show, ""), proc=_no_proc(tmp_path))
    assert len(sources) == 1
    assert warnings == [f"cannot read {env_dir}, an EnvironmentFile of mattermost (Is a directory); its variables were not checked"]


@pytest.mark.parametrize("name", ["-H", "--host=x", "a b", "mm\\n", "mm\u2028x", "mm\x00", "x" * 256, ""])
def test_service_name_rules(name: str) -> None:
    with pytest.raises(SettingsValidationError) as exc:
        check_service_name(name.replace("\\n", "\n"))
    assert exc.value.option == "service"


@pytest.mark.parametrize("name", ["mattermost", "mattermost.service", "mattermost@team-a.service", "snap.mattermost.mattermostd"])
def test_service_names_accepted(name: str) -> None:
    check_service_name(name)


@pytest.fixture
def mattermost_process(tmp_path: pathlib.Path):
    """A real process called mattermost (a copy of sleep) with an environment and a command line, read through /proc."""
    sleep = shutil.which("sleep")
    assert sleep
    binary = tmp_path / "bin" / "mattermost"
    binary.parent.mkdir()
    shutil.copy(sleep, binary)
    env = {"PATH": "/usr/bin:/bin", "MM_EMAILSETTINGS_SMTPSERVER": "relay.example.com", "MM_CONFIG": f"postgres://mm:{DSN_SECRET}@db.example.com/mm"}
    process = subprocess.Popen([str(binary), "60"], env=env)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and b"MM_CONFIG" not in pathlib.Path(f"/proc/{process.pid}/environ").read_bytes():
            time.sleep(0.05)
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


def test_a_running_mattermost_process_is_read_from_proc(mattermost_process) -> None:
    pid = mattermost_process.pid
    sources, warnings = service_sources("mattermost", None)
    mine = [source for source in sources if source.label == f"the running Mattermost process {pid}"]
    assert len(mine) == 1 and warnings == []
    assert mine[0].argv[1:] == ("60",) and mine[0].same_root is True
    with pytest.raises(SettingsSourceError) as exc:
        verify_config_source("mattermost", CONFIG, WRITES, None)
    message = str(exc.value)
    assert f"MM_CONFIG in the running Mattermost process {pid} (/proc/{pid}/environ) is a database DSN" in message
    assert f"MM_EMAILSETTINGS_SMTPSERVER in the running Mattermost process {pid} (/proc/{pid}/environ) overrides EmailSettings.SMTPServer" in message
    assert DSN_SECRET not in message and "relay.example.com" not in message
