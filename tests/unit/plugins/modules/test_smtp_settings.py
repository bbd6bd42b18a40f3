# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""smtp_settings through main(): real files in tmp_path, and a fake Manage GHES API on loopback
(tests/unit/plugins/fixtures/ghes_fake_server.py; no GHES appliance can run here)."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess

import pytest

from ansible_collections.mailops.notify.plugins.modules import smtp_settings
from ansible_collections.mailops.notify.tests.unit.plugins.fixtures import ghes_fake_server
from ansible_collections.mailops.notify.tests.unit.plugins.module_runner import run_module as _run

FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures"
SECRET = "Mod-Secret#1;pw"
ROOT_PW = "root-site-admin-pw"


def call(args: dict, check_mode: bool = False, diff: bool = True) -> dict:
    return _run(smtp_settings.main, args, check_mode=check_mode, diff=diff, secrets=[SECRET, ROOT_PW])[1]


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
    assert real["diff"]["before"] == original.decode()
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
        diff=False,
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
    assert '"SMTPPassword": "********"' in diff["after"] and '"SMTPPassword": ""' in diff["before"]
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
