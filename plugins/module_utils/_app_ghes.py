# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""GitHub Enterprise Server backend: the ``smtp`` object of the Manage GHES API.

``GET /manage/v1/config/settings`` returns the settings (no ``enterprise`` wrapper);
``PUT /manage/v1/config/settings`` takes a partial JSON body and answers 204;
``POST /manage/v1/config/apply`` starts a configuration run and returns its ``run_id``;
``GET /manage/v1/config/apply?run_id=...`` reports ``running`` and ``successful``.
Types follow the published schema: ``port`` is a string, ``discard-to-noreply-address`` is the one
hyphenated key, ``username`` and ``user_name`` both exist (both are written).

HTTP goes through the small ``HttpTransport`` interface; the module implements it with Ansible's
``open_url``, the tests with a fake server on loopback.
"""

from __future__ import annotations

import json
import time
import typing as t
from urllib.parse import urlsplit

from ansible_collections.mailops.notify.plugins.module_utils._settings import (
    Backend,
    Desired,
    SettingsApiError,
    SettingsValidationError,
    check_text,
    is_hostname,
)

__all__ = ["APPLY_PATH", "SETTINGS_PATH", "GhesBackend", "GhesClient", "HttpResponse", "HttpTransport", "check_api_url"]

SETTINGS_PATH = "/manage/v1/config/settings"
APPLY_PATH = "/manage/v1/config/apply"

_AUTH_TO_GHES = {"none": "", "plain": "plain", "login": "login", "cram-md5": "cram_md5"}
_GHES_TO_AUTH = {"": "none", "plain": "plain", "login": "login", "cram_md5": "cram-md5", "cram-md5": "cram-md5"}
_COVERED = {
    "enabled": "enabled",
    "address": "host",
    "port": "port",
    "domain": "helo_domain",
    "authentication": "auth",
    "username": "username",
    "user_name": "username",
    "password": "password",
    "enable_starttls_auto": "security",
    "noreply_address": "from_address",
    "support_address": "support_address",
    "support_address_type": "support_address_type",
    "discard-to-noreply-address": "discard_to_noreply",
}
_TYPES = {
    "enabled": bool,
    "address": str,
    "authentication": str,
    "port": str,
    "domain": str,
    "username": str,
    "user_name": str,
    "enable_starttls_auto": bool,
    "password": str,
    "discard-to-noreply-address": bool,
    "support_address": str,
    "support_address_type": str,
    "noreply_address": str,
}


class HttpResponse(t.NamedTuple):
    status: int
    body: bytes


class HttpTransport(t.Protocol):
    def request(self, method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> HttpResponse:
        """Send one request (with the credentials the transport was built with); never raise on HTTP status."""


def check_api_url(url: t.Any) -> None:
    """The Manage API base URL: http(s), a host, no credentials (those go in api_username/api_password, which are no_log)."""
    check_text("api_url", url)
    text = str(url)
    if not text.lower().startswith(("http://", "https://")):
        raise SettingsValidationError("api_url", "must start with http:// or https://, for example https://ghe.example.com:8443")
    try:
        parts = urlsplit(text)
        port = parts.port  # ValueError on a port that is not a number from 0 to 65535
    except ValueError:
        port = 0
    if port == 0:
        raise SettingsValidationError("api_url", "is not a valid URL (check the host and the port)")
    if "@" in parts.netloc:
        raise SettingsValidationError("api_url", "must not carry credentials (user:password@); set api_username and api_password instead")
    if not parts.hostname or not is_hostname(parts.hostname):
        raise SettingsValidationError("api_url", "has no host name or IP address")


def _looks_masked(value: t.Any) -> bool:
    return isinstance(value, str) and len(value) >= 3 and set(value) <= {"*"}


class GhesBackend(Backend):
    app = "ghes"
    # The published schema has only enable_starttls_auto: no implicit TLS (SMTPS) setting.
    security_values = ("none", "starttls")
    unsupported: t.ClassVar[dict[str, str]] = {
        "from_name": "the Manage API smtp object has no display-name field (the no-reply address is from_address)",
        "reply_to": "the Manage API smtp object has no reply-to field",
        "validate_certs": "the Manage API smtp object has no certificate-verification field",
    }
    password_comparison = (
        "the Manage API returns smtp.password in the documented examples; when it does, the stored value is compared with the"
        " requested one; when it does not (absent or masked), update_password=always sends it on every run (changed) and"
        " update_password=on_create only sends it when no username is stored"
    )
    password_keys = ("password",)

    def read(self, state: dict[str, t.Any]) -> dict[str, t.Any]:
        smtp = state or {}
        out: dict[str, t.Any] = {}
        out["enabled"] = smtp.get("enabled")
        out["host"] = smtp.get("address")
        port = smtp.get("port")
        out["port"] = int(port) if isinstance(port, str) and port.isdigit() else port
        if "enable_starttls_auto" in smtp:
            out["security"] = "starttls" if smtp.get("enable_starttls_auto") else "none"
        auth = smtp.get("authentication")
        out["auth"] = _GHES_TO_AUTH.get(auth or "", auth)
        out["username"] = smtp.get("username") or smtp.get("user_name")
        password = smtp.get("password")
        out["password"] = None if password is None or _looks_masked(password) else password
        out["helo_domain"] = smtp.get("domain")
        out["from_address"] = smtp.get("noreply_address")
        out["support_address"] = smtp.get("support_address")
        out["support_address_type"] = smtp.get("support_address_type")
        out["discard_to_noreply"] = smtp.get("discard-to-noreply-address")
        return out

    def render(self, state: dict[str, t.Any], desired: Desired) -> dict[str, t.Any]:
        v = desired.values
        new = dict(state or {})
        if "enabled" in v:
            new["enabled"] = bool(v["enabled"])
        if "host" in v:
            new["address"] = v["host"]
        if "port" in v:
            new["port"] = str(v["port"])
        if "helo_domain" in v:
            new["domain"] = v["helo_domain"]
        if "security" in v:
            new["enable_starttls_auto"] = v["security"] == "starttls"
        if "auth" in v:
            new["authentication"] = _AUTH_TO_GHES[v["auth"]]
            if v["auth"] == "none":
                new["username"] = new["user_name"] = ""
                new["password"] = ""
        if "username" in v:
            new["username"] = new["user_name"] = v["username"]
        if "password" in v:
            new["password"] = v["password"]
        if "from_address" in v:
            new["noreply_address"] = v["from_address"]
        if "support_address" in v:
            new["support_address"] = v["support_address"]
            new["support_address_type"] = v.get("support_address_type") or "email"
        if "discard_to_noreply" in v:
            new["discard-to-noreply-address"] = bool(v["discard_to_noreply"])
        managed = {key for key, name in _COVERED.items() if name in v}
        for key, value in desired.extra.items():
            option = f"extra.{key}"
            if key in managed:
                raise SettingsValidationError(option, f"is already set through the option {_COVERED[key]}; do not set it in extra too")
            if key in _TYPES and not isinstance(value, _TYPES[key]):
                raise SettingsValidationError(option, f"must be a JSON {_TYPES[key].__name__} in the GHES smtp object")
            new[key] = value
        if state is not None and new == state:
            return state
        return new

    def owned(self, state: dict[str, t.Any], desired: Desired) -> dict[str, t.Any]:
        """The whole ``smtp`` object: the module owns it (its secrets are masked by the caller)."""
        return dict(state or {})

    def check(self, state: dict[str, t.Any]) -> None:
        for key, kind in _TYPES.items():
            if key in state and state[key] is not None and not isinstance(state[key], kind):
                raise SettingsValidationError(f"smtp.{key}", f"must be a JSON {kind.__name__}")

    def changes(self, before: dict[str, t.Any], after: dict[str, t.Any]) -> dict[str, t.Any]:
        """The keys to send in a partial PUT (only those that differ)."""
        return {key: value for key, value in after.items() if before.get(key, _MISSING) != value}


_MISSING = object()


class GhesClient:
    """The few Manage GHES API calls the module needs."""

    def __init__(
        self,
        transport: HttpTransport,
        base_url: str,
        *,
        sleep: t.Callable[[float], None] = time.sleep,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self.sleep = sleep
        self.clock = clock

    def _call(self, method: str, path: str, payload: t.Any = None, expect: tuple = (200,)) -> t.Any:
        body = None if payload is None else json.dumps(payload).encode("utf-8")
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        response = self.transport.request(method, self.base_url + path, body, headers)
        if response.status == 401:
            raise SettingsApiError(f"{method} {path}: 401 Unauthorized (check api_username and api_password, the root site administrator password)")
        if response.status not in expect:
            detail = response.body[:300].decode("utf-8", "replace").strip()
            raise SettingsApiError(f"{method} {path}: HTTP {response.status}" + (f": {detail}" if detail else ""))
        if not response.body:
            return None
        try:
            return json.loads(response.body)
        except ValueError:
            raise SettingsApiError(f"{method} {path}: the answer is not JSON") from None

    def get_smtp(self) -> dict[str, t.Any]:
        settings = self._call("GET", SETTINGS_PATH)
        if not isinstance(settings, dict):
            raise SettingsApiError(f"GET {SETTINGS_PATH}: the answer is not a settings object")
        smtp = settings.get("smtp") or {}
        if not isinstance(smtp, dict):
            raise SettingsApiError(f"GET {SETTINGS_PATH}: smtp is not an object")
        return smtp

    def put_smtp(self, smtp: dict[str, t.Any]) -> None:
        self._call("PUT", SETTINGS_PATH, {"smtp": smtp}, expect=(200, 204))

    def start_apply(self) -> str:
        answer = self._call("POST", APPLY_PATH, {}, expect=(200, 201, 202))
        run_id = (answer or {}).get("run_id")
        if not run_id:
            raise SettingsApiError(f"POST {APPLY_PATH}: no run_id in the answer")
        return str(run_id)

    def apply_status(self, run_id: str) -> dict[str, t.Any]:
        answer = self._call("GET", f"{APPLY_PATH}?run_id={run_id}")
        if not isinstance(answer, dict):
            raise SettingsApiError(f"GET {APPLY_PATH}: the answer is not an object")
        return answer

    def wait_for_apply(self, run_id: str, *, timeout: float, interval: float) -> dict[str, t.Any]:
        """Poll until the run stops; return {run_id, running, successful, nodes}."""
        deadline = self.clock() + timeout
        while True:
            status = self.apply_status(run_id)
            result = {
                "run_id": run_id,
                "running": bool(status.get("running")),
                "successful": bool(status.get("successful")),
                "nodes": status.get("nodes") or [],
            }
            if not result["running"]:
                return result
            if self.clock() + interval > deadline:
                raise SettingsApiError(f"configuration run {run_id} still running after {timeout} seconds")
            self.sleep(interval)
