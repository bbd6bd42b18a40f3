# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The applications app_email_test asks, on loopback, for the tests of _app_test and app_email_test.

* a real Prometheus Alertmanager (Debian's prometheus-alertmanager) with its own storage and a config whose email
  receivers send to a test SMTP server;
* the Mattermost stand-in, the gitlab-rails stand-in and the Alertmanager configuration of the integration target
  (tests/integration/targets/app_email_test/files/), loaded from there so that one copy serves both kinds of test;
* a plain urllib transport for the library functions (the module uses Ansible's open_url).

Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import datetime
import email
import email.policy
import importlib.util
import json
import pathlib
import shutil
import subprocess
import time
import typing as t
import urllib.error
import urllib.request

from ansible_collections.mailops.notify.plugins.module_utils._app_ghes import HttpResponse
from ansible_collections.mailops.notify.tests.unit.plugins.smtp_servers import free_port

STANDINS = pathlib.Path(__file__).resolve().parents[2] / "integration" / "targets" / "app_email_test" / "files"
ALERTMANAGER = shutil.which("prometheus-alertmanager")
RUBY = shutil.which("ruby")


def _load(name: str) -> t.Any:
    spec = importlib.util.spec_from_file_location(name, STANDINS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_mattermost_standin() -> t.Any:
    return _load("mattermost_standin")


# The Alertmanager configuration, from the same file as the integration target's.
alertmanager_config = _load("alertmanager_config").alertmanager_config


def gitlab_rails_wrapper(directory: pathlib.Path) -> str:
    """An executable gitlab-rails in ``directory`` that runs the Ruby stand-in (needs ruby and ruby-mail)."""
    assert RUBY, "ruby is missing: install the Debian packages ruby and ruby-mail (tests/run.sh APT_PACKAGES)"
    check = subprocess.run([RUBY, "-e", 'require "mail"'], capture_output=True, text=True, check=False)
    assert check.returncode == 0, "the Mail gem is missing: install the Debian package ruby-mail (tests/run.sh APT_PACKAGES)"
    wrapper = directory / "gitlab-rails"
    wrapper.write_text(f'#!/bin/sh\nexec {RUBY} {STANDINS / "gitlab_rails_standin.rb"} "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    return str(wrapper)


def subject_of(content: str) -> str:
    """The decoded Subject of a received message."""
    message = email.message_from_string(content, policy=email.policy.default)
    return str(message["Subject"])


def header_of(content: str, name: str) -> str | None:
    message = email.message_from_string(content, policy=email.policy.default)
    value = message[name]
    return None if value is None else str(value)


class UrllibTransport:
    """HttpTransport for the library tests: no redirects followed, every status returned."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self.calls: list[tuple[str, str]] = []

    def request(self, method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> HttpResponse:
        self.calls.append((method, url))
        request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return HttpResponse(response.status, response.read())
        except urllib.error.HTTPError as exc:
            return HttpResponse(exc.code, exc.read())


class Alertmanager:
    """The real Alertmanager on 127.0.0.1 with a config file, its own storage and no cluster; stopped on exit."""

    def __init__(self, directory: pathlib.Path, config: str) -> None:
        assert ALERTMANAGER, "prometheus-alertmanager is missing: install the Debian package prometheus-alertmanager"
        self.directory = directory
        self.config = config
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return (self.directory / "alertmanager.log").read_text(encoding="utf-8", errors="replace")

    def __enter__(self) -> Alertmanager:
        (self.directory / "alertmanager.yml").write_text(self.config, encoding="utf-8")
        command = [
            str(ALERTMANAGER),
            f"--config.file={self.directory / 'alertmanager.yml'}",
            f"--storage.path={self.directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
        ]
        with open(self.directory / "alertmanager.log", "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={"PATH": "/usr/bin:/bin"})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.__exit__()
        raise AssertionError(f"Alertmanager did not become ready:\n{self.log}")

    def __exit__(self, *exc_info: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def silence(self, label: str, value: str) -> None:
        """Silence alerts whose ``label`` equals ``value`` for ten minutes."""
        now = datetime.datetime.now(datetime.timezone.utc)
        body = {
            "matchers": [{"name": label, "value": value, "isRegex": False, "isEqual": True}],
            "startsAt": now.isoformat(),
            "endsAt": (now + datetime.timedelta(minutes=10)).isoformat(),
            "createdBy": "tests",
            "comment": "app_email_test: a silenced test alert",
        }
        request = urllib.request.Request(
            f"{self.url}/api/v2/silences", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 200


def wait_for(condition: t.Callable[[], object], timeout: float = 20.0) -> object:
    """Poll ``condition`` until it is truthy or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    value = condition()
    while not value and time.monotonic() < deadline:
        time.sleep(0.1)
        value = condition()
    return value
