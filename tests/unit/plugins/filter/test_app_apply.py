# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pathlib

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.mailops.notify.plugins.filter.app_apply import FilterModule as ApplyFilters
from ansible_collections.mailops.notify.plugins.filter.app_apply_errors import FilterModule as ErrorFilters
from ansible_collections.mailops.notify.plugins.module_utils._app_apply import APPS, METHODS, NAMES

app_apply = ApplyFilters().filters()["app_apply"]
app_apply_errors = ErrorFilters().filters()["app_apply_errors"]
ROLE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "mail_notifications"


def test_the_filter_returns_the_resolved_method():
    assert app_apply("gitlab") == {"method": "command", "service": "", "command": ["gitlab-ctl", "reconfigure"]}
    assert app_apply("alertmanager", apply="auto", service="", command=[]) == {"method": "reload", "service": "prometheus-alertmanager", "command": []}
    # the role's empty defaults ('' and []) and None mean "the application's"
    assert app_apply("mattermost", service=None, command=None) == {"method": "restart", "service": "mattermost", "command": []}


def test_a_broken_override_is_a_filter_error_that_names_the_variable():
    with pytest.raises(AnsibleFilterError, match=r"^app_apply: mail_notifications_app_service: gitlab has no default service to restart"):
        app_apply("gitlab", apply="restart")
    with pytest.raises(AnsibleFilterError, match="must be a list of arguments"):
        app_apply("gitlab", command="gitlab-ctl reconfigure; reboot")


def test_the_errors_filter_lists_the_same_refusals():
    assert app_apply_errors("gitlab") == []
    assert app_apply_errors("gitlab", apply="restart") == [
        "mail_notifications_app_service: gitlab has no default service to restart (it applies its settings with gitlab-ctl reconfigure);"
        " set mail_notifications_app_service, or use mail_notifications_app_apply=auto"
    ]
    assert app_apply_errors("gitea", service=None) == []


def test_the_role_documents_the_same_choices_and_variables():
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert specs[NAMES["apply"]]["choices"] == list(METHODS)
    assert set(specs[NAMES["app"]]["choices"]) == set(APPS) - {"ghes"}  # GHES is configured through its API, not by this role
    for key in ("apply", "service", "command"):
        assert specs[NAMES[key]]["default"] == defaults[NAMES[key]]
        assert specs[NAMES[key]]["description"]
