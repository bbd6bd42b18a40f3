# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import difflib
import json
import pathlib
import re

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._app_mattermost import (
    EMAIL_SETTINGS_TYPES,
    MattermostBackend,
    is_json_type,
    set_path,
)
from ansible_collections.mailops.notify.plugins.module_utils._settings import (
    MASK,
    SettingsFormatError,
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
