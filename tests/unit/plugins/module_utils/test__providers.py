# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._providers import (
    PROVIDERS,
    ProviderError,
    check_overrides,
    endpoints,
    needs_credentials,
    preset,
)

# The Mattermost guide's "Sample SMTP Settings", verbatim: server, port, connection security.
GUIDE_SAMPLES = [
    ("ses", "email-smtp.us-east-1.amazonaws.com", 465, "tls", True),
    ("local_postfix", "localhost", 25, "none", False),
    ("gmail", "smtp.gmail.com", 587, "starttls", True),
    ("outlook", "smtp-mail.outlook.com", 587, "starttls", True),
    ("office365", "smtp.office365.com", 587, "starttls", True),
]


@pytest.mark.parametrize("name, host, port, security, creds", GUIDE_SAMPLES)
def test_guide_samples(name: str, host: str, port: int, security: str, creds: bool) -> None:
    got = preset(name)
    assert set(got) == {"host", "port", "security", "auth"}
    assert (got["host"], got["port"], got["security"]) == (host, port, security)
    assert needs_credentials(name) is creds
    assert (got["auth"] == "none") is (not creds)
    assert (port, security) in endpoints(name)


def test_every_provider_has_a_guide_sample() -> None:
    assert sorted(PROVIDERS) == sorted(sample[0] for sample in GUIDE_SAMPLES)


@pytest.mark.parametrize(
    "region, host",
    [
        (None, "email-smtp.us-east-1.amazonaws.com"),
        ("eu-west-1", "email-smtp.eu-west-1.amazonaws.com"),
        ("us-gov-west-1", "email-smtp.us-gov-west-1.amazonaws.com"),
    ],
)
def test_ses_region(region: str | None, host: str) -> None:
    assert preset("ses", region=region)["host"] == host


@pytest.mark.parametrize(
    "name, region, option, fragment",
    [
        ("ses", "Europe", "provider_region", "not an AWS region"),
        ("ses", "eu-west-1.evil.example", "provider_region", "not an AWS region"),
        ("gmail", "eu-west-1", "provider_region", "only applies to provider=ses"),
        ("mailgun", None, "provider", "unknown provider"),
    ],
)
def test_preset_errors(name: str, region: str | None, option: str, fragment: str) -> None:
    with pytest.raises(ProviderError) as exc:
        preset(name, region=region)
    assert exc.value.option == option
    assert fragment in str(exc.value)


@pytest.mark.parametrize(
    "name, explicit",
    [
        ("gmail", {"port": 465, "security": "tls"}),
        ("ses", {"port": 587, "security": "starttls", "username": "AKIA", "password": "x"}),
        ("ses", {"port": 2587, "security": "starttls"}),
        ("office365", {"port": 25}),
        ("local_postfix", {"host": "127.0.0.1"}),
        ("outlook", {"auth": "plain", "username": "me@hotmail.com"}),
    ],
)
def test_overrides_that_work(name: str, explicit: dict) -> None:
    check_overrides(name, explicit)


@pytest.mark.parametrize(
    "name, explicit, option, fragment",
    [
        ("gmail", {"security": "none"}, "security", "does not accept port 587 with security=none"),
        ("office365", {"port": 465}, "port", "does not accept port 465 with security=starttls"),
        ("ses", {"port": 587}, "port", "does not accept port 587 with security=tls"),
        ("ses", {"auth": "none"}, "auth", "only relays for authenticated clients"),
        ("local_postfix", {"username": "u", "password": "p"}, "username", "without authentication"),
        ("local_postfix", {"auth": "plain"}, "auth", "without authentication"),
        ("local_postfix", {"security": "tls"}, "security", "does not accept port 25 with security=tls"),
    ],
)
def test_overrides_that_cannot_work(name: str, explicit: dict, option: str, fragment: str) -> None:
    with pytest.raises(ProviderError) as exc:
        check_overrides(name, explicit)
    assert exc.value.option == option
    assert fragment in str(exc.value)
