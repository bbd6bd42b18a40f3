# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""GHES backend and client, against a fake Manage GHES API on loopback (no appliance can run here)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._app_ghes import GhesBackend, GhesClient, HttpResponse, check_api_url
from ansible_collections.mailops.notify.plugins.module_utils._settings import (
    MASK,
    SettingsApiError,
    SettingsValidationError,
    build_desired,
    plan,
)
from ansible_collections.mailops.notify.tests.unit.plugins.fixtures import ghes_fake_server

ROOT_PW = "root-site-admin-pw"
SECRET = "smtp-pw-never-shown"
BACKEND = GhesBackend()


class UrllibTransport:
    """Plain urllib with basic auth (the module uses Ansible's open_url instead)."""

    def __init__(self, password: str) -> None:
        self.auth = "Basic " + base64.b64encode(f"api_key:{password}".encode()).decode()

    def request(self, method, url, body=None, headers=None):
        request = urllib.request.Request(url, data=body, method=method, headers={**(headers or {}), "Authorization": self.auth})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return HttpResponse(response.status, response.read())
        except urllib.error.HTTPError as exc:
            return HttpResponse(exc.code, exc.read())


@pytest.fixture
def fake():
    server = ghes_fake_server.FakeGhes(password=ROOT_PW, polls_until_done=3).start()
    yield server
    server.stop()


def client_for(fake, password: str = ROOT_PW) -> GhesClient:
    return GhesClient(UrllibTransport(password), fake.url, sleep=lambda _s: None)


PARAMS = {
    "enabled": True,
    "host": "smtp.example.com",
    "port": 587,
    "security": "starttls",
    "auth": "login",
    "helo_domain": "ghe.example.com",
    "username": "ghe@example.com",
    "password": SECRET,
    "from_address": "noreply@ghe.example.com",
    "discard_to_noreply": True,
    "support_address": "https://support.example.com",
    "support_address_type": "url",
}


def converge(client: GhesClient, params: dict, *, apply: bool = True):
    before = client.get_smtp()
    result = plan(BACKEND, before, build_desired("ghes", params, BACKEND))
    status = None
    if result.changed:
        client.put_smtp(BACKEND.changes(before, result.after))
        if apply:
            status = client.wait_for_apply(client.start_apply(), timeout=60, interval=0.01)
    return result, status


def test_full_cycle(fake) -> None:
    client = client_for(fake)
    result, status = converge(client, PARAMS)
    assert result.changed
    assert status["successful"] is True and status["running"] is False
    assert status["nodes"] == [{"hostname": "ghe-local-primary", "running": False, "successful": True, "run_id": status["run_id"]}]
    # stored with the schema's exact keys and types
    assert fake.settings["smtp"] == {
        "enabled": True,
        "address": "smtp.example.com",
        "authentication": "login",
        "port": "587",
        "domain": "ghe.example.com",
        "username": "ghe@example.com",
        "user_name": "ghe@example.com",
        "enable_starttls_auto": True,
        "password": SECRET,
        "discard-to-noreply-address": True,
        "support_address": "https://support.example.com",
        "support_address_type": "url",
        "noreply_address": "noreply@ghe.example.com",
    }
    # other settings untouched by the partial PUT
    assert fake.settings["github_hostname"] == "ghe.example.com"
    assert fake.settings["ntp"] == ghes_fake_server.DEFAULT_SETTINGS["ntp"]
    assert SECRET not in json.dumps({"diff": result.diff, "settings": result.settings})
    assert json.loads(result.diff["after"])["password"] == MASK
    assert result.settings["password"] == MASK
    # second run: the API returns the password, so it is compared and nothing changes
    requests_before = len(fake.mutating_requests())
    again, status = converge(client, PARAMS)
    assert again.changed is False and status is None
    assert len(fake.mutating_requests()) == requests_before


def test_partial_put_sends_only_changes(fake) -> None:
    client = client_for(fake)
    before = client.get_smtp()
    result = plan(BACKEND, before, build_desired("ghes", {"host": "smtp.example.com", "port": 2525}, BACKEND))
    assert BACKEND.changes(before, result.after) == {"address": "smtp.example.com", "port": "2525"}


def test_failing_apply(fake) -> None:
    fake.fail_next_apply = True
    _result, status = converge(client_for(fake), PARAMS)
    assert status["successful"] is False and status["running"] is False


def test_apply_timeout(fake) -> None:
    fake.polls_until_done = 1000
    clock = iter(range(0, 10000, 10))
    client = GhesClient(UrllibTransport(ROOT_PW), fake.url, sleep=lambda _s: None, clock=lambda: next(clock))
    run_id = client.start_apply()
    with pytest.raises(SettingsApiError, match=f"configuration run {run_id} still running after 30 seconds"):
        client.wait_for_apply(run_id, timeout=30, interval=5)


def test_bad_credentials(fake) -> None:
    with pytest.raises(SettingsApiError, match="401 Unauthorized"):
        client_for(fake, "wrong").get_smtp()
    assert "wrong" not in str(fake.requests)


def test_server_rejects_wrong_types(fake) -> None:
    with pytest.raises(SettingsApiError, match=r"HTTP 400: .*smtp\.port must be a str"):
        client_for(fake).put_smtp({"port": 587})


def test_hidden_password_semantics(fake) -> None:
    fake.hide_password = True
    client = client_for(fake)
    first, _status = converge(client, PARAMS)
    assert first.changed
    # always: the API does not reveal the password, so it is sent again (changed) with a warning
    again, _status = converge(client, PARAMS)
    assert again.changed is True
    assert any("does not reveal the stored password" in warning for warning in again.warnings)
    # on_create: a username is stored, so the password is left alone
    quiet, _status = converge(client, {**PARAMS, "update_password": "on_create"})
    assert quiet.changed is False


def test_masked_password_is_never_sent_back() -> None:
    before = {"username": "u", "password": "********", "enable_starttls_auto": True}
    result = plan(BACKEND, before, build_desired("ghes", {"host": "smtp.example.com"}, BACKEND))
    assert BACKEND.changes(before, result.after) == {"address": "smtp.example.com"}


def test_auth_none() -> None:
    before = {"authentication": "plain", "username": "u", "user_name": "u", "password": "p", "enable_starttls_auto": True}
    result = plan(BACKEND, before, build_desired("ghes", {"auth": "none"}, BACKEND))
    assert BACKEND.changes(before, result.after) == {"authentication": "", "username": "", "user_name": "", "password": ""}


@pytest.mark.parametrize(
    "params, option, fragment",
    [
        ({"security": "tls"}, "security", "app=ghes cannot do security=tls; it supports none, starttls"),
        ({"extra": {"address": "x"}, "host": "y"}, "extra.address", "option host"),
        ({"extra": {"port": 25}}, "extra.port", "must be a JSON str"),
        ({"port": 465, "security": "starttls"}, "port", "port 465 is SMTPS"),
    ],
)
def test_rules(params: dict, option: str, fragment: str) -> None:
    with pytest.raises(SettingsValidationError) as exc:
        plan(BACKEND, {"enable_starttls_auto": True}, build_desired("ghes", params, BACKEND))
    assert exc.value.option == option
    assert fragment in exc.value.rule


def test_extra_key_passed_verbatim() -> None:
    result = plan(BACKEND, {}, build_desired("ghes", {"extra": {"enforce_tls_auth": True}}, BACKEND))
    assert result.after == {"enforce_tls_auth": True}


def test_diff_masks_every_secret_of_the_smtp_object() -> None:
    before = {"username": "u", "password": "Stored-Pw-88", "enable_starttls_auto": True, "relay_token": "Token-99", "address": "a.example.com"}
    result = plan(BACKEND, before, build_desired("ghes", {"host": "smtp.example.com"}, BACKEND))
    shown = json.loads(result.diff["before"])
    assert shown == {"username": "u", "password": MASK, "enable_starttls_auto": True, "relay_token": MASK, "address": "a.example.com"}
    assert json.loads(result.diff["after"])["address"] == "smtp.example.com"
    assert "Stored-Pw-88" not in json.dumps(result.diff) and "Token-99" not in json.dumps(result.diff)


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("https://api_key:pw@ghe.example.com:8443", "must not carry credentials"),
        ("https://user@ghe.example.com:8443", "must not carry credentials"),
        ("ghe.example.com:8443", "must start with http:// or https://"),
        ("https://ghe.example.com:8443/\nX-Injected: 1", "line break or control character"),
        ("https://", "has no host"),
        ("https://ghe.example.com:99999", "not a valid URL"),
        ("https://ghe.example.com:0", "not a valid URL"),
    ],
)
def test_api_url_rules(url: str, fragment: str) -> None:
    with pytest.raises(SettingsValidationError) as exc:
        check_api_url(url)
    assert exc.value.option == "api_url"
    assert fragment in exc.value.rule
    assert "pw@" not in exc.value.rule


def test_api_url_ok() -> None:
    check_api_url("https://ghe.example.com:8443")
    check_api_url("http://127.0.0.1:8080/")
