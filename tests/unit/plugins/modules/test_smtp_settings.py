# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""smtp_settings through main(): real files in tmp_path, and a fake Manage GHES API on loopback
(tests/unit/plugins/fixtures/ghes_fake_server.py; no GHES appliance can run here)."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import stat
import subprocess
from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mailops.notify.plugins.modules import smtp_settings
from ansible_collections.mailops.notify.tests.unit.plugins.fixtures import ghes_fake_server
from ansible_collections.mailops.notify.tests.unit.plugins.fixtures.app_secrets import FILE_SECRETS
from ansible_collections.mailops.notify.tests.unit.plugins.module_runner import run_module as _run

FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures"
SECRET = "Mod-Secret#1;pw"
ROOT_PW = "root-site-admin-pw"


ALL_FILE_SECRETS = [secret for secrets in FILE_SECRETS.values() for secret in secrets]


def call(args: dict, check_mode: bool = False, diff: bool = True, secrets: tuple = ()) -> dict:
    """Run the module; no result may hold the SMTP password, the API password or any other secret of the fixtures."""
    return _run(smtp_settings.main, args, check_mode=check_mode, diff=diff, secrets=[SECRET, ROOT_PW, *ALL_FILE_SECRETS, *secrets])[1]


FILE_CASES = {
    "mattermost": ("mattermost_config.json", "config.json", {"provider": "gmail", "username": "me@gmail.com", "from_name": "Mattermost"}),
    "gitlab": ("gitlab.rb", "gitlab.rb", {"provider": "ses", "provider_region": "eu-west-1", "username": "AKIAEXAMPLE", "helo_domain": "example.com"}),
    "gitea": ("gitea_app.ini", "app.ini", {"provider": "office365", "username": "gitea@example.com", "from_name": "Gitea"}),
}


@pytest.fixture(params=sorted(FILE_CASES))
def app_file(request, tmp_path: pathlib.Path):
    app = request.param
    source, name, params = FILE_CASES[app]
    path = tmp_path / name
    shutil.copy(FIXTURES / source, path)
    os.chmod(path, 0o640)
    args = {"app": app, "path": str(path), "password": SECRET, "enabled": True, "from_address": "notify@example.com", **params}
    return app, path, args


def test_check_real_check_real(app_file) -> None:
    _app, path, args = app_file
    original = path.read_bytes()
    mtime = path.stat().st_mtime_ns

    predicted = call(args, check_mode=True)
    assert predicted["changed"] is True
    assert path.read_bytes() == original and path.stat().st_mtime_ns == mtime
    assert sorted(os.listdir(path.parent)) == [path.name]

    real = call(args)
    assert real["changed"] is True
    assert real["settings"] == predicted["settings"] and real["diff"] == predicted["diff"]
    assert real["settings"]["password"] == "********"
    assert real["diff"]["before_header"] == str(path)
    assert json.loads(real["diff"]["before"]) != json.loads(real["diff"]["after"])
    assert SECRET in path.read_text()
    assert (path.stat().st_mode & 0o777) == 0o640
    assert sorted(os.listdir(path.parent)) == [path.name]  # no temp file, no backup
    written = path.read_bytes()

    again = call(args, check_mode=True)
    assert again["changed"] is False
    assert again["diff"]["before"] == again["diff"]["after"]
    final = call(args)
    assert final["changed"] is False
    assert path.read_bytes() == written
    assert set(final) == {"changed", "settings", "diff"}
    assert final["settings"] == real["settings"]


def test_backup(app_file) -> None:
    _app, path, args = app_file
    original = path.read_bytes()
    result = call({**args, "backup": True})
    assert result["changed"] is True
    backup = pathlib.Path(result["backup_file"])
    assert backup.parent == path.parent and backup.read_bytes() == original
    assert call({**args, "backup": True}).get("backup_file") is None


def test_validation_failure_leaves_file_untouched(app_file) -> None:
    app, path, args = app_file
    original = path.read_bytes()
    args = {key: value for key, value in args.items() if not key.startswith("provider")}
    result = call({**args, "port": 465, "security": "starttls", "host": "smtp.example.com"})
    assert result["failed"] is True
    assert result["option"] == "port"
    assert result["msg"].startswith(f"Invalid settings for app={app}: port: port 465 is SMTPS")
    assert path.read_bytes() == original


def test_mattermost_exact_result(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "config.json"
    shutil.copy(FIXTURES / "mattermost_config.json", path)
    result = call(
        {
            "app": "mattermost",
            "path": str(path),
            "provider": "ses",
            "username": "AKIAEXAMPLE",
            "password": SECRET,
            "from_address": "mattermost@example.com",
            "extra": {"EnableSignUpWithEmail": True, "ServiceSettings.EnableEmailInvitations": True},
        },
    )
    diff = result.pop("diff")
    assert result == {
        "changed": True,
        "settings": {
            "enabled": True,
            "host": "email-smtp.us-east-1.amazonaws.com",
            "port": 465,
            "security": "tls",
            "auth": "plain",
            "username": "AKIAEXAMPLE",
            "password": "********",
            "from_address": "mattermost@example.com",
            "from_name": "",
            "reply_to": "test@example.com",
            "support_address": "",
            "support_address_type": "email",
            "validate_certs": True,
        },
    }
    before, after = json.loads(diff["before"]), json.loads(diff["after"])
    assert after["EmailSettings.SMTPPassword"] == "********" and before["EmailSettings.SMTPPassword"] == ""
    assert (before["ServiceSettings.EnableEmailInvitations"], after["ServiceSettings.EnableEmailInvitations"]) == (False, True)
    assert diff["before_header"] == diff["after_header"] == str(path)
    data = json.loads(path.read_text())
    assert data["EmailSettings"]["SMTPPort"] == "465" and data["EmailSettings"]["ConnectionSecurity"] == "TLS"
    assert data["ServiceSettings"]["EnableEmailInvitations"] is True


def test_gitlab_output_passes_ruby(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "gitlab.rb"
    shutil.copy(FIXTURES / "gitlab.rb", path)
    call({"app": "gitlab", "path": str(path), "provider": "gmail", "username": "me@gmail.com", "password": SECRET, "from_name": "GitLab's bot"})
    ruby = shutil.which("ruby")
    assert ruby, "Debian's ruby package is required"
    check = subprocess.run([ruby, "-c", str(path)], capture_output=True, text=True, timeout=30, check=False)
    assert check.returncode == 0 and check.stdout.strip() == "Syntax OK", check.stderr


def test_missing_file(tmp_path: pathlib.Path) -> None:
    result = call({"app": "gitea", "path": str(tmp_path / "nope.ini"), "enabled": True})
    assert result["failed"] is True and "does not exist" in result["msg"]


def test_unparsable_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{ not json")
    result = call({"app": "mattermost", "path": str(path), "enabled": True})
    assert result["failed"] is True
    assert result["msg"].startswith("Cannot manage the SMTP settings of app=mattermost: config.json is not valid JSON")


@pytest.fixture
def fake():
    server = ghes_fake_server.FakeGhes(password=ROOT_PW, polls_until_done=2).start()
    yield server
    server.stop()


GHES_ARGS = {
    "app": "ghes",
    "api_password": ROOT_PW,
    "apply_poll_interval": 0.01,
    "enabled": True,
    "host": "smtp.example.com",
    "port": 587,
    "security": "starttls",
    "auth": "login",
    "username": "ghe@example.com",
    "password": SECRET,
    "helo_domain": "ghe.example.com",
    "from_address": "noreply@ghe.example.com",
    "discard_to_noreply": True,
    "support_address": "help@example.com",
}


def test_ghes_check_real_check_real(fake) -> None:
    args = {**GHES_ARGS, "api_url": fake.url}
    predicted = call(args, check_mode=True)
    assert predicted["changed"] is True
    assert fake.mutating_requests() == []
    assert "ghes_apply" not in predicted

    real = call(args)
    assert real["changed"] is True
    assert fake.mutating_requests() == [("PUT", "/manage/v1/config/settings"), ("POST", "/manage/v1/config/apply")]
    apply = real["ghes_apply"]
    assert apply["successful"] is True and apply["running"] is False and apply["run_id"]
    assert real["settings"] == predicted["settings"]
    assert real["settings"]["password"] == "********"
    assert json.loads(real["diff"]["after"])["port"] == "587"
    assert fake.settings["smtp"]["password"] == SECRET
    assert fake.settings["smtp"]["discard-to-noreply-address"] is True

    assert call(args, check_mode=True)["changed"] is False
    final = call(args)
    assert final["changed"] is False and "ghes_apply" not in final
    assert len(fake.mutating_requests()) == 2


def test_ghes_failing_apply(fake) -> None:
    fake.fail_next_apply = True
    result = call({**GHES_ARGS, "api_url": fake.url})
    assert result["failed"] is True
    assert result["msg"].startswith("the GHES configuration run ") and result["msg"].endswith("failed; the settings are saved but not applied")
    assert result["ghes_apply"]["successful"] is False
    assert result["changed"] is True


def test_ghes_bad_password(fake) -> None:
    result = call({**GHES_ARGS, "api_url": fake.url, "api_password": "not-" + ROOT_PW[4:]})
    assert result["failed"] is True and "401 Unauthorized" in result["msg"]
    assert fake.mutating_requests() == []


def test_ghes_unreachable() -> None:
    result = call({**GHES_ARGS, "api_url": "http://127.0.0.1:9", "api_timeout": 2})
    assert result["failed"] is True and "cannot reach http://127.0.0.1:9" in result["msg"]


def test_ghes_requires_api() -> None:
    result = call({"app": "ghes", "enabled": True})
    assert result["failed"] is True and "api_url" in result["msg"] and "api_password" in result["msg"]


OWNED = {
    "mattermost": re.compile(r"^(EmailSettings\.[A-Za-z]+|SupportSettings\.SupportEmail)$"),
    "gitlab": re.compile(r"^(smtp_|gitlab_email_)[a-z_]+$"),
    "gitea": re.compile(r"^(mailer\.[A-Z_]+|service\.ENABLE_NOTIFY_MAIL)$"),
}
PASSWORD_KEY = {"mattermost": "EmailSettings.SMTPPassword", "gitlab": "smtp_password", "gitea": "mailer.PASSWD"}


@pytest.mark.parametrize("check_mode", [True, False], ids=["check", "real"])
@pytest.mark.parametrize("diff", [True, False], ids=["diff", "no-diff"])
def test_results_hold_only_the_owned_settings(app_file, diff: bool, check_mode: bool) -> None:
    app, _path, args = app_file
    result = call(args, check_mode=check_mode, diff=diff)  # call() checks that no fixture secret is in the result
    assert result["changed"] is True
    if not diff:
        assert set(result) == {"changed", "settings"}
        return
    assert set(result) == {"changed", "settings", "diff"}
    assert set(result["diff"]) == {"before", "after", "before_header", "after_header"}
    before, after = json.loads(result["diff"]["before"]), json.loads(result["diff"]["after"])
    for key in [*before, *after]:
        assert OWNED[app].match(key), key
    assert after[PASSWORD_KEY[app]] == "********"


@pytest.mark.parametrize("app", sorted(FILE_CASES))
def test_non_utf8_file_is_refused_untouched(tmp_path: pathlib.Path, app: str) -> None:
    source, name, params = FILE_CASES[app]
    data = (FIXTURES / source).read_bytes()
    offset = data.index(b"example.com") + 6
    bad = data[:offset] + b"\xff" + data[offset + 1 :]
    path = tmp_path / name
    path.write_bytes(bad)
    os.utime(path, ns=(1_500_000_000_000_000_000, 1_500_000_000_000_000_000))
    args = {"app": app, "path": str(path), "password": SECRET, "enabled": True, "from_address": "notify@example.com", **params}
    for check_mode in (True, False):
        result = call(args, check_mode=check_mode)
        assert result["failed"] is True
        line = bad[:offset].count(b"\n") + 1
        assert result["msg"] == (
            f"Cannot manage the SMTP settings of app={app}: {path} is not valid UTF-8: byte 0xff at offset {offset} (line {line});"
            " refusing to edit it, nothing was changed"
        )
        assert path.read_bytes() == bad and path.stat().st_mtime_ns == 1_500_000_000_000_000_000
        assert sorted(os.listdir(tmp_path)) == [name]


def test_symlink_is_followed(app_file) -> None:
    _app, path, args = app_file
    target = path.with_name("real-" + path.name)
    path.rename(target)
    path.symlink_to(target.name)
    original = target.read_bytes()

    predicted = call(args, check_mode=True)
    assert predicted["changed"] is True
    assert path.is_symlink() and os.readlink(path) == target.name
    assert target.read_bytes() == original

    result = call(args)
    assert result["changed"] is True
    assert path.is_symlink() and os.readlink(path) == target.name
    assert SECRET in target.read_text()
    assert (target.stat().st_mode & 0o777) == 0o640
    assert sorted(os.listdir(path.parent)) == sorted([path.name, target.name])
    assert call(args)["changed"] is False


def test_backup_is_private_and_the_file_keeps_owner_and_mode(app_file) -> None:
    _app, path, args = app_file
    uid, gid = (1234, 2345) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    os.chown(path, uid, gid)
    os.chmod(path, 0o644)
    original = path.read_bytes()
    result = call({**args, "backup": True})
    backup = pathlib.Path(result["backup_file"])
    assert backup.read_bytes() == original
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert (backup.stat().st_uid, backup.stat().st_gid) == (uid, gid)
    info = path.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o644, uid, gid)


def test_duplicate_json_key_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "config.json"
    text = (FIXTURES / "mattermost_config.json").read_text()
    text = text.replace('"SMTPPassword": "",', '"SMTPPassword": "first-Dup-Secret",\n        "SMTPPassword": "",', 1)
    path.write_text(text)
    result = call({"app": "mattermost", "path": str(path), "host": "smtp.example.com"}, secrets=("first-Dup-Secret",))
    assert result["failed"] is True
    assert "config.json has the key 'EmailSettings.SMTPPassword' twice (the second at line 247)" in result["msg"]
    assert path.read_text() == text


EXTRA_PASSWORDS = [("mattermost", "SMTPPassword"), ("mattermost", "smtppassword"), ("gitlab", "smtp_password"), ("gitea", "PASSWD"), ("gitea", "passwd")]


@pytest.mark.parametrize("app, key", EXTRA_PASSWORDS)
def test_password_in_extra_is_refused(tmp_path: pathlib.Path, app: str, key: str) -> None:
    source, name, _params = FILE_CASES[app]
    path = tmp_path / name
    shutil.copy(FIXTURES / source, path)
    original = path.read_bytes()
    result = call({"app": app, "path": str(path), "extra": {key: SECRET}})
    assert result["failed"] is True and result["option"] == f"extra.{key}"
    assert "set the SMTP password with the option password" in result["msg"]
    assert path.read_bytes() == original


@pytest.mark.parametrize("app", sorted(FILE_CASES))
@pytest.mark.parametrize("char", ["\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x00"], ids=lambda c: f"U+{ord(c):04X}")
def test_line_breaks_in_from_name_are_refused(tmp_path: pathlib.Path, app: str, char: str) -> None:
    source, name, _params = FILE_CASES[app]
    path = tmp_path / name
    shutil.copy(FIXTURES / source, path)
    original = path.read_bytes()
    result = call({"app": app, "path": str(path), "from_address": "notify@example.com", "from_name": f"Ops{char}[security]"})
    assert result["failed"] is True and result["option"] == "from_name"
    assert f"U+{ord(char):04X}" in result["msg"]
    assert path.read_bytes() == original


def ruby_check(path: pathlib.Path) -> None:
    ruby = shutil.which("ruby")
    assert ruby, "Debian's ruby package is required"
    check = subprocess.run([ruby, "-c", str(path)], capture_output=True, text=True, timeout=30, check=False)
    assert check.returncode == 0 and check.stdout.strip() == "Syntax OK", check.stderr


def test_gitlab_with_line_separators_in_the_file_runs_twice(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "gitlab.rb"
    text = (FIXTURES / "gitlab.rb").read_text() + "gitlab_rails['smtp_password'] = \"old\u2028tail-of-Old-Pw\"\ngitlab_rails['smtp_address'] = 'x'\n"
    path.write_text(text)
    ruby_check(path)
    args = {"app": "gitlab", "path": str(path), "provider": "gmail", "username": "me@gmail.com", "password": SECRET}
    first = call(args, secrets=("tail-of-Old-Pw",))
    assert first["changed"] is True
    ruby_check(path)
    written = path.read_bytes()
    second = call(args, secrets=("tail-of-Old-Pw",))
    assert second["changed"] is False
    assert path.read_bytes() == written
    ruby_check(path)


def test_gitlab_candidate_must_pass_ruby(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "gitlab.rb"
    text = (FIXTURES / "gitlab.rb").read_text() + "nginx['listen_addresses'] = ['*',\n"  # already broken: an unclosed array
    path.write_text(text)
    result = call({"app": "gitlab", "path": str(path), "provider": "local_postfix"})
    assert result["failed"] is True
    assert result["msg"].startswith(f"Cannot manage the SMTP settings of app=gitlab: the edited {path} does not pass `ruby -c`")
    assert "the file fails `ruby -c` before the change too" in result["msg"]
    assert path.read_text() == text
    assert sorted(os.listdir(tmp_path)) == ["gitlab.rb"]


def test_gitea_line_separators_in_the_file_run_twice(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "app.ini"
    text = (FIXTURES / "gitea_app.ini").read_text().replace("[mailer]\nENABLED = false", "[mailer]\nENABLED = false\nSUBJECT_PREFIX = a\u2028[security]\u2028b")
    path.write_text(text)
    args = {"app": "gitea", "path": str(path), "provider": "office365", "username": "gitea@example.com", "password": SECRET, "from_name": "Gitea"}
    args["from_address"] = "gitea@example.com"
    assert call(args)["changed"] is True
    written = path.read_text()
    assert [line for line in written.split("\n") if line.startswith("[security")] == ["[security]"]
    assert call(args)["changed"] is False
    assert path.read_text() == written


def test_ghes_api_url_with_credentials_is_refused() -> None:
    result = call({**GHES_ARGS, "api_url": "https://api_key:Url-Secret-3@127.0.0.1:9"}, secrets=("Url-Secret-3",))
    assert result["failed"] is True and result["option"] == "api_url"
    assert "api_password" in result["msg"]


def test_ghes_diff_only_in_diff_mode(fake) -> None:
    args = {**GHES_ARGS, "api_url": fake.url}
    plain = call(args, check_mode=True, diff=False)
    assert set(plain) == {"changed", "settings"}
    shown = call(args, check_mode=True)
    assert json.loads(shown["diff"]["after"])["password"] == "********"


@pytest.mark.parametrize("key", ["password", "Password", "smtp_password", "auth_token"])
def test_ghes_secret_in_extra_is_refused(fake, key: str) -> None:
    result = call({**GHES_ARGS, "api_url": fake.url, "extra": {key: SECRET}})
    assert result["failed"] is True and result["option"] == f"extra.{key}"
    assert fake.requests == []


def test_secret_options_are_no_log() -> None:
    spec = smtp_settings.argument_spec()
    assert {name for name, option in spec.items() if option.get("no_log")} == {"password", "api_password"}
    assert spec["extra"].get("no_log") is not True  # documented: secrets are refused in extra instead


@pytest.mark.parametrize("no_log", [False, True], ids=["logged", "task-no_log"])
def test_secret_in_extra_stays_out_of_the_log_and_the_result(tmp_path: pathlib.Path, no_log: bool) -> None:
    """Ansible logs the arguments (extra is not no_log) before any module code runs; the refused secret must not be in that log
    nor in the failure result, where AnsibleModule adds the invocation."""
    path = tmp_path / "gitlab.rb"
    shutil.copy(FIXTURES / "gitlab.rb", path)
    logged: list[str] = []
    result: dict = {}

    def log(self, msg, log_args=None):
        logged.append(msg + json.dumps(log_args, default=str))

    def fail_json(self, msg, **kwargs):
        # what AnsibleModule._return_formatted does with the result: the invocation, then remove_values
        result.update(remove_values({"msg": msg, "invocation": {"module_args": self.params}, **kwargs}, self.no_log_values))
        raise SystemExit(1)

    args = {"app": "gitlab", "path": str(path), "extra": {"smtp_password": "Extra-Secret-5", "SMTP_PASSWORD": ["Extra-Secret-6"]}}
    with (
        patch_module_args({**args, "_ansible_no_log": no_log}),
        mock.patch.multiple(basic.AnsibleModule, log=log, fail_json=fail_json),
        pytest.raises(SystemExit),
    ):
        smtp_settings.main()
    assert result["option"] in ("extra.smtp_password", "extra.SMTP_PASSWORD")
    assert bool(logged) is not no_log
    dumped = json.dumps(result) + "".join(logged)
    assert "Extra-Secret-5" not in dumped and "Extra-Secret-6" not in dumped
    assert result["invocation"]["module_args"]["extra"]["smtp_password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


ALERTMANAGER_ARGS = {
    "app": "alertmanager",
    "host": "smtp.example.com",
    "port": 587,
    "security": "starttls",
    "username": "alerts@example.com",
    "password": SECRET,
    "from_address": "alerts@example.com",
    "from_name": "Alertmanager",
}


def test_alertmanager_check_real_check_real_checked_by_amtool(tmp_path: pathlib.Path) -> None:
    assert shutil.which("amtool"), "amtool is missing: install prometheus-alertmanager (tests/run.sh APT_PACKAGES)"
    path = tmp_path / "alertmanager.yml"
    shutil.copy(FIXTURES / "alertmanager.yml", path)
    os.chmod(path, 0o640)
    original = path.read_text()
    args = {**ALERTMANAGER_ARGS, "path": str(path)}
    predicted = call(args, check_mode=True)
    assert predicted["changed"] is True and path.read_text() == original
    real = call(args)
    assert real["changed"] is True and real["settings"] == predicted["settings"]
    assert real["settings"]["password"] == "********" and real["settings"]["security"] == "starttls"
    text = path.read_text()
    assert 'smtp_smarthost: "smtp.example.com:587"' in text and SECRET in text
    # Only lines of the global SMTP keys changed: receivers, routes and comments are where they were.
    kept = [line for line in original.splitlines() if not line.strip().startswith("smtp_")]
    assert [line for line in text.splitlines() if not line.strip().startswith("smtp_")] == kept
    assert subprocess.run(["amtool", "check-config", str(path)], capture_output=True, check=False).returncode == 0
    assert call(args, check_mode=True)["changed"] is False
    assert call(args)["changed"] is False and path.read_text() == text


def test_alertmanager_file_that_amtool_refuses_is_not_written(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "alertmanager.yml"
    # A route to a receiver that does not exist: valid YAML, refused by amtool check-config.
    path.write_text("route:\n  receiver: ops\nreceivers:\n  - name: other\n")
    original = path.read_bytes()
    result = call({**ALERTMANAGER_ARGS, "path": str(path)})
    assert result["failed"] is True and "amtool" in result["msg"] and "nothing was written" in result["msg"]
    assert path.read_bytes() == original


# ---- Settings the application cannot use are refused before anything is written ------------------------------------------


def copy_fixture(tmp_path: pathlib.Path, source: str, name: str, text: str | None = None) -> tuple[pathlib.Path, bytes, int]:
    path = tmp_path / name
    if text is None:
        shutil.copy(FIXTURES / source, path)
    else:
        path.write_text(text)
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))  # an mtime no write could keep
    return path, path.read_bytes(), path.stat().st_mtime_ns


def assert_untouched(path: pathlib.Path, data: bytes, mtime: int) -> None:
    assert path.read_bytes() == data and path.stat().st_mtime_ns == mtime
    assert sorted(os.listdir(path.parent)) == sorted(entry for entry in os.listdir(path.parent) if ".tmp" not in entry)


@pytest.mark.parametrize("check_mode", [True, False])
@pytest.mark.parametrize(
    "extra_args, option, fragment",
    [
        ({}, "security", "security: credentials (username/password) are set but security is none, and app=mattermost can never authenticate"),
        ({"allow_plaintext_auth": True}, "allow_plaintext_auth", "allow_plaintext_auth: app=mattermost can never send credentials without TLS"),
    ],
)
def test_mattermost_credentials_without_tls_on_localhost_are_refused(
    tmp_path: pathlib.Path, check_mode: bool, extra_args: dict, option: str, fragment: str
) -> None:
    path, data, mtime = copy_fixture(tmp_path, "mattermost_config.json", "config.json")
    args = {"app": "mattermost", "path": str(path), "host": "localhost", "port": 25, "security": "none", "username": "relay", "password": SECRET}
    result = call({**args, **extra_args}, check_mode=check_mode)
    assert result["failed"] is True and result["option"] == option
    assert result["msg"].startswith(f"Invalid settings for app=mattermost: {fragment}")
    assert "'localhost:25', which is not exactly localhost, 127.0.0.1 or ::1" in result["msg"]
    assert_untouched(path, data, mtime)


def test_gitlab_leftover_smtp_ssl_is_corrected_and_reported(tmp_path: pathlib.Path) -> None:
    text = (FIXTURES / "gitlab.rb").read_text() + "gitlab_rails['smtp_enable_starttls_auto'] = false\ngitlab_rails['smtp_ssl'] = true\n"
    path, data, mtime = copy_fixture(tmp_path, "", "gitlab.rb", text)
    args = {"app": "gitlab", "path": str(path), "host": "smtp.example.com", "port": 587, "security": "starttls"}
    expected = (
        "gitlab.rb: gitlab_rails['smtp_ssl'] was set to false; GitLab treats smtp_ssl like smtp_tls (implicit TLS),"
        " so the leftover value would have overridden security=starttls"
    )
    failed, predicted = _run(smtp_settings.main, args, check_mode=True, diff=True, warnings=True)
    assert not failed and predicted["changed"] is True and predicted["warnings"] == [expected]
    assert json.loads(predicted["diff"]["after"])["smtp_ssl"] is False
    assert_untouched(path, data, mtime)
    failed, real = _run(smtp_settings.main, args, warnings=True)
    assert not failed and real["settings"]["security"] == "starttls" and real["warnings"] == [expected]
    assert path.read_text().endswith("gitlab_rails['smtp_enable_starttls_auto'] = true\ngitlab_rails['smtp_ssl'] = false\n")
    failed, again = _run(smtp_settings.main, args, warnings=True)
    assert not failed and again["changed"] is False and again["warnings"] == []


def test_gitea_reports_what_gitea_infers_and_writes_the_protocol(tmp_path: pathlib.Path) -> None:
    path, _data, _mtime = copy_fixture(
        tmp_path, "", "app.ini", "[mailer]\nENABLED = true\nSMTP_ADDR = smtp.example.com\nSMTP_PORT = 2525\n\n[service]\nENABLE_NOTIFY_MAIL = true\n"
    )
    failed, seen = _run(smtp_settings.main, {"app": "gitea", "path": str(path), "enabled": True}, warnings=True)
    assert not failed and seen["changed"] is False
    assert (seen["settings"]["security"], seen["settings"]["port"]) == ("tls", 2525)
    assert any("has no PROTOCOL and SMTP_PORT '2525' is none of 25, 465 and 587, so Gitea assumes smtps" in w for w in seen["warnings"])
    failed, moved = _run(smtp_settings.main, {"app": "gitea", "path": str(path), "host": "relay.example.com"}, warnings=True)
    assert not failed and moved["changed"] is True and moved["settings"]["security"] == "tls"
    assert (
        path.read_text()
        == "[mailer]\nENABLED = true\nSMTP_ADDR = relay.example.com\nSMTP_PORT = 2525\nPROTOCOL = smtps\n\n[service]\nENABLE_NOTIFY_MAIL = true\n"
    )


# Where Mattermost takes its configuration from.  systemd does not run on this test machine (there is no PID 1 systemd to
# ask), so a stand-in `systemctl` on PATH prints what `systemctl show` prints for a unit; the EnvironmentFile it names is a
# real file and the running process is a real process, read through /proc.  Mattermost itself cannot run here.

DSN_SECRET = "Db-Pass-In-Dsn-88"


@pytest.fixture
def systemctl_stand_in(tmp_path: pathlib.Path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    env_file = tmp_path / "mattermost.env"
    log = tmp_path / "systemctl.args"
    show = tmp_path / "show.txt"
    show.write_text(
        "LoadState=loaded\nMainPID=0\nEnvironment=MM_SERVICESETTINGS_SITEURL=https://chat.example.com\n"
        f"EnvironmentFiles={env_file} (ignore_errors=no)\n"
        "ExecStart={ path=/opt/mattermost/bin/mattermost ; argv[]=/opt/mattermost/bin/mattermost ; ignore_errors=no ; start_time=[n/a] }\n"
    )
    script = bindir / "systemctl"
    script.write_text(f'#!/bin/sh\necho "$@" >> {log}\n[ "$1" = show ] || exit 1\ncat {show}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    return env_file, log


@pytest.mark.parametrize("check_mode", [True, False])
@pytest.mark.parametrize(
    "case",
    [
        (f"MM_CONFIG=postgres://mmuser:{DSN_SECRET}@db.example.com/mattermost\n", ["MM_CONFIG"], "is a database DSN (mysql:// or postgres://)"),
        (f'MM_CONFIG="mysql://mmuser:{DSN_SECRET}@tcp(db.example.com:3306)/mm"\n', ["MM_CONFIG"], "is a database DSN"),
        ("MM_CONFIG=/etc/mattermost/other.json\n", ["MM_CONFIG"], "names another configuration file"),
        ("mm_emailsettings_smtpserver=db.example.com\n", ["MM_EMAILSETTINGS_SMTPSERVER"], "overrides EmailSettings.SMTPServer, which this task writes"),
    ],
)
def test_mattermost_file_that_mattermost_does_not_read_is_refused(tmp_path: pathlib.Path, systemctl_stand_in, check_mode: bool, case: tuple) -> None:
    env_text, names, fragment = case
    env_file, log = systemctl_stand_in
    env_file.write_text(env_text)
    path, data, mtime = copy_fixture(tmp_path, "mattermost_config.json", "config.json")
    args = {"app": "mattermost", "path": str(path), "host": "smtp.example.com", "port": 587, "security": "starttls"}
    result = call(args, check_mode=check_mode, secrets=(DSN_SECRET, "db.example.com"))
    assert result["failed"] is True and result["overrides"] == names
    assert result["msg"].startswith(f"Cannot manage the SMTP settings of app=mattermost: {path} is not what Mattermost reads: ")
    where = f"in the systemd service mattermost (EnvironmentFile={env_file})"
    assert f"{names[0]} {where} {fragment}" in result["msg"] and result["msg"].endswith(". Nothing was changed")
    assert_untouched(path, data, mtime)
    assert log.read_text().split("\n")[0].endswith("-- mattermost")


def test_mattermost_service_check_passes_and_can_be_skipped(tmp_path: pathlib.Path, systemctl_stand_in) -> None:
    env_file, log = systemctl_stand_in
    path, _data, _mtime = copy_fixture(tmp_path, "mattermost_config.json", "config.json")
    args = {"app": "mattermost", "path": str(path), "host": "smtp.example.com", "port": 587, "security": "starttls"}
    env_file.write_text("MM_EMAILSETTINGS_SMTPPASSWORD=kept-out-of-the-file\nMM_CONFIG=config.json\n")
    failed, result = _run(smtp_settings.main, {**args, "service": "mattermost.service"}, warnings=True, secrets=("kept-out-of-the-file",))
    assert not failed and result["changed"] is True
    assert result["warnings"] == [
        "the systemd service mattermost.service sets MM_EMAILSETTINGS_SMTPPASSWORD: Mattermost uses those values, not the ones in"
        f" {path} (this task does not write them)"
    ]
    assert log.read_text().split("\n")[0].endswith("-- mattermost.service")
    env_file.write_text(f"MM_CONFIG=postgres://mm:{DSN_SECRET}@db/mm\n")
    log.unlink()
    assert call({**args, "port": 25, "security": "none", "service": ""})["changed"] is True  # skipped
    assert not log.exists()


@pytest.mark.parametrize("service", ["-H", "--host=root@example.com", "mm x", "mm\u2028"])
def test_mattermost_service_name_is_checked_first(tmp_path: pathlib.Path, systemctl_stand_in, service: str) -> None:
    _env_file, log = systemctl_stand_in
    path, data, mtime = copy_fixture(tmp_path, "mattermost_config.json", "config.json")
    result = call({"app": "mattermost", "path": str(path), "host": "smtp.example.com", "service": service})
    assert result["failed"] is True and result["option"] == "service"
    assert_untouched(path, data, mtime)
    assert not log.exists()


def test_mattermost_running_process_environment_is_read(tmp_path: pathlib.Path) -> None:
    # A real process called mattermost (a copy of sleep) started with an override; no systemd here, so only /proc counts.
    binary = tmp_path / "mattermost"
    shutil.copy(shutil.which("sleep"), binary)
    process = subprocess.Popen([str(binary), "60"], env={"PATH": "/usr/bin:/bin", "MM_EMAILSETTINGS_SMTPPORT": "2525"})
    try:
        path, data, mtime = copy_fixture(tmp_path, "mattermost_config.json", "config.json")
        result = call({"app": "mattermost", "path": str(path), "port": 587, "security": "starttls"})
        assert result["failed"] is True and result["overrides"] == ["MM_EMAILSETTINGS_SMTPPORT"]
        pid = process.pid
        assert f"MM_EMAILSETTINGS_SMTPPORT in the running Mattermost process {pid} (/proc/{pid}/environ) overrides EmailSettings.SMTPPort" in result["msg"]
        assert_untouched(path, data, mtime)
    finally:
        process.kill()
        process.wait(timeout=10)
