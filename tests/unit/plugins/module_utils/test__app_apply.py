# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._app_alertmanager import SERVICE
from ansible_collections.mailops.notify.plugins.module_utils._app_apply import APPS, DEFAULTS, AppApplyError, errors, resolve
from ansible_collections.mailops.notify.plugins.module_utils._settings import APPS as SETTINGS_APPS


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        ("mattermost", {"method": "restart", "service": "mattermost", "command": []}),
        ("gitlab", {"method": "command", "service": "", "command": ["gitlab-ctl", "reconfigure"]}),
        ("gitea", {"method": "restart", "service": "gitea", "command": []}),
        ("alertmanager", {"method": "reload", "service": "prometheus-alertmanager", "command": []}),
        ("ghes", {"method": "none", "service": "", "command": []}),
        ("none", {"method": "none", "service": "", "command": []}),
    ],
)
def test_each_application_has_its_default(app, expected):
    assert resolve(app) == expected
    assert resolve(app, "auto", "", []) == expected
    assert errors(app) == []


def test_every_application_of_smtp_settings_is_in_the_table():
    assert set(SETTINGS_APPS) | {"none"} == set(APPS)
    assert DEFAULTS["alertmanager"]["service"] == SERVICE  # one name for the Debian unit


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("mattermost", "auto", "mattermost-team"), {"method": "restart", "service": "mattermost-team", "command": []}),
        (("mattermost", "command", "", ["mmctl", "--local", "config", "reload"]),
         {"method": "command", "service": "", "command": ["mmctl", "--local", "config", "reload"]}),
        (("mattermost", "reload"), {"method": "reload", "service": "mattermost", "command": []}),
        (("gitlab", "auto", "", ["/opt/gitlab/bin/gitlab-ctl", "reconfigure"]),
         {"method": "command", "service": "", "command": ["/opt/gitlab/bin/gitlab-ctl", "reconfigure"]}),
        (("gitlab", "restart", "gitlab-runsvdir.service"), {"method": "restart", "service": "gitlab-runsvdir.service", "command": []}),
        (("gitea", "restart", "gitea@main"), {"method": "restart", "service": "gitea@main", "command": []}),
        (("alertmanager", "auto", "alertmanager"), {"method": "reload", "service": "alertmanager", "command": []}),
        (("alertmanager", "restart"), {"method": "restart", "service": "prometheus-alertmanager", "command": []}),
        (("alertmanager", "command", "", ["curl", "-fsS", "-X", "POST", "http://127.0.0.1:9093/-/reload"]),
         {"method": "command", "service": "", "command": ["curl", "-fsS", "-X", "POST", "http://127.0.0.1:9093/-/reload"]}),
        (("gitea", "none"), {"method": "none", "service": "", "command": []}),
        (("none", "none"), {"method": "none", "service": "", "command": []}),
    ],
)  # fmt: skip
def test_overrides(args, expected):
    assert resolve(*args) == expected


@pytest.mark.parametrize(
    ("args", "option", "message"),
    [
        (("wordpress",), "app", "mail_notifications_app: unknown application 'wordpress'"),
        (("gitea", "kill"), "apply", "mail_notifications_app_apply: 'kill' is not one of auto, restart, reload, command, none"),
        (("gitlab", "restart"), "service",
         "mail_notifications_app_service: gitlab has no default service to restart (it applies its settings with gitlab-ctl reconfigure)"),
        (("gitlab", "auto", "gitlab-runsvdir"), "service",
         "mail_notifications_app_service: only used with mail_notifications_app_apply=restart or reload;"
         " mail_notifications_app_apply=auto (the default of gitlab: command) runs a command"),
        (("mattermost", "command"), "command", "mail_notifications_app_apply_command: mattermost has no default command"),
        (("mattermost", "auto", "", ["mmctl", "config", "reload"]), "command",
         "mail_notifications_app_apply_command: only used with mail_notifications_app_apply=command"),
        (("gitea", "none", "gitea"), "service", "mail_notifications_app_service: set, but nothing is applied"),
        (("gitea", "none", "", ["true"]), "command", "mail_notifications_app_apply_command: set, but nothing is applied"),
        (("none", "auto", "mattermost"), "service", "mail_notifications_app_service: set, but mail_notifications_app is none"),
        (("none", "restart"), "apply", "mail_notifications_app_apply: set, but mail_notifications_app is none"),
        (("gitlab", "auto", "", "gitlab-ctl reconfigure"), "command", "must be a list of arguments (argv, run without a shell)"),
        (("gitlab", "auto", "", ["gitlab-ctl", ""]), "command", "mail_notifications_app_apply_command: argument 2 must be a non-empty string"),
        (("gitlab", "auto", "", ["gitlab-ctl", 5]), "command", "argument 2 must be a non-empty string"),
        (("gitlab", "auto", "", ["--help"]), "command", "the first argument is the program to run; '--help' looks like an option"),
        # a string that the role's argument spec turned into a list of one element
        (("gitlab", "auto", "", ["gitlab-ctl reconfigure"]), "command", "'gitlab-ctl reconfigure' is a whole command line, not a program"),
        (("gitlab", "auto", "", ["/opt/gitlab/bin/gitlab-ctl reconfigure"]), "command", "is a whole command line, not a program"),
        (("gitea", "restart", "-H evil"), "service", "is not a service name"),
        (("gitea", "restart", "gitea web"), "service", "is not a service name"),
        (("gitea", "restart", "gitea;reboot"), "service", "is not a service name"),
        (("gitea", "restart", "x" * 256), "service", "is not a service name"),
        (("gitea", "restart", 5), "service", "must be a string (a service name), not int"),
    ],
)  # fmt: skip
def test_overrides_that_cannot_work_are_refused_naming_the_variable(args, option, message):
    with pytest.raises(AppApplyError) as caught:
        resolve(*args)
    assert caught.value.option == option
    assert message in str(caught.value)
    assert errors(*args) == [str(caught.value)]


LINE_BREAKS_AND_CONTROLS = ["\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x00", "\x1b", "\t", "\x7f"]


@pytest.mark.parametrize("char", LINE_BREAKS_AND_CONTROLS)
def test_line_breaks_and_control_characters_are_refused_in_every_value(char):
    with pytest.raises(AppApplyError) as caught:
        resolve("gitea", "restart", f"gitea{char}x")
    assert caught.value.option == "service"
    assert str(caught.value).startswith("mail_notifications_app_service: must be one line of printable text")
    with pytest.raises(AppApplyError) as caught:
        resolve("gitlab", "command", "", ["gitlab-ctl", f"reconfigure{char}"])
    assert caught.value.option == "command"
    assert str(caught.value).startswith("mail_notifications_app_apply_command[1]: must be one line of printable text")


def test_another_caller_names_its_own_options():
    names = {"service": "service", "apply": "apply"}
    with pytest.raises(AppApplyError, match=r"^service: gitlab has no default service to reload .* or use apply=auto$"):
        resolve("gitlab", "reload", names=names)
