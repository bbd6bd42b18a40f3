# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mailops.notify.plugins.filter.smtp_provider import FilterModule

smtp_provider = FilterModule().filters()["smtp_provider"]


@pytest.mark.parametrize(
    ("name", "region", "expected"),
    [
        ("ses", None, {"host": "email-smtp.us-east-1.amazonaws.com", "port": 465, "security": "tls", "auth": "plain", "credentials": True}),
        ("ses", "", {"host": "email-smtp.us-east-1.amazonaws.com", "port": 465, "security": "tls", "auth": "plain", "credentials": True}),
        ("ses", "eu-west-1", {"host": "email-smtp.eu-west-1.amazonaws.com", "port": 465, "security": "tls", "auth": "plain", "credentials": True}),
        ("gmail", "", {"host": "smtp.gmail.com", "port": 587, "security": "starttls", "auth": "plain", "credentials": True}),
        ("office365", None, {"host": "smtp.office365.com", "port": 587, "security": "starttls", "auth": "login", "credentials": True}),
        ("local_postfix", None, {"host": "localhost", "port": 25, "security": "none", "auth": "none", "credentials": False}),
    ],
)
def test_the_role_gets_the_presets_of_smtp_settings(name, region, expected):
    assert smtp_provider(name, region) == expected


@pytest.mark.parametrize(
    ("name", "region", "message"),
    [
        ("sendgrid", None, "provider: unknown provider 'sendgrid'"),
        ("ses", "moon-1", "provider_region: 'moon-1' is not an AWS region name"),
    ],
)
def test_a_wrong_preset_is_a_filter_error_that_names_the_rule(name, region, message):
    with pytest.raises(AnsibleFilterError, match=message):
        smtp_provider(name, region)
