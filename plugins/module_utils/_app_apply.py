# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module util is PRIVATE to the collection. It can have breaking changes at any time.

"""How each application takes up changed SMTP settings: the one table of defaults, and the user's overrides.

An edited settings file does nothing until the application reads it again:

* Mattermost reads ``config.json`` at start (``mmctl config reload`` also works where mmctl is set up, for example
  ``mmctl --local config reload`` with local mode enabled): restart its service, ``mattermost``.
* GitLab Omnibus renders ``gitlab.rb`` into the Rails configuration only in ``gitlab-ctl reconfigure`` (which also
  restarts what needs it): run that command.  Restarting ``gitlab-runsvdir`` would not apply the file.
* Gitea reads ``app.ini`` at start: restart its service, ``gitea``.
* Alertmanager reads ``alertmanager.yml`` again on SIGHUP (``systemctl reload prometheus-alertmanager`` on Debian):
  reload its service.
* GitHub Enterprise Server applies settings in a configuration run that ``smtp_settings`` (``apply=true``) starts
  and waits for: nothing is left to do here.

``resolve`` returns the method (``restart``, ``reload``, ``command`` or ``none``), the service and the command for an
application and the user's overrides, and refuses overrides that cannot work; ``errors`` returns those refusals as
messages.  Messages name the role's variables (``NAMES``); a caller with other names passes its own.
"""

from __future__ import annotations

import re
import typing as t
from collections.abc import Mapping, Sequence

from ansible_collections.mailops.notify.plugins.module_utils._app_alertmanager import SERVICE as ALERTMANAGER_SERVICE
from ansible_collections.mailops.notify.plugins.module_utils._settings import SettingsValidationError, check_text

__all__ = ["APPS", "DEFAULTS", "METHODS", "NAMES", "AppApplyError", "errors", "resolve"]

#: What the user may ask for; ``auto`` is the application's default.
METHODS = ("auto", "restart", "reload", "command", "none")

#: The application's default way to apply changed settings.  The only place these defaults are written.
DEFAULTS: dict[str, dict[str, t.Any]] = {
    "mattermost": {"method": "restart", "service": "mattermost", "command": ()},
    "gitlab": {"method": "command", "service": "", "command": ("gitlab-ctl", "reconfigure")},
    "gitea": {"method": "restart", "service": "gitea", "command": ()},
    "alertmanager": {"method": "reload", "service": ALERTMANAGER_SERVICE, "command": ()},
    "ghes": {"method": "none", "service": "", "command": ()},  # smtp_settings apply=true runs the configuration
    "none": {"method": "none", "service": "", "command": ()},
}
APPS = tuple(DEFAULTS)

#: The role's variable names, used in the messages.
NAMES = {
    "app": "mail_notifications_app",
    "apply": "mail_notifications_app_apply",
    "service": "mail_notifications_app_service",
    "command": "mail_notifications_app_apply_command",
}

# systemd unit names (and SysV service names): letters, digits and ":-_.\@", at most 255 characters, optionally with
# a .service suffix.  A leading "-" would be read as an option by systemctl or service.
_SERVICE_RE = re.compile(r"^(?!-)[A-Za-z0-9:_.\\@-]{1,255}$")


class AppApplyError(ValueError):
    """An override that cannot work; ``option`` is the key in ``NAMES``."""

    def __init__(self, option: str, message: str) -> None:
        self.option = option
        super().__init__(message)


def _one_line(option: str, name: str, value: str) -> None:
    try:
        check_text(name, value)
    except SettingsValidationError as exc:
        raise AppApplyError(option, f"{name}: {exc.rule}") from None


def _check_service(names: Mapping[str, str], service: t.Any) -> str:
    name = names["service"]
    if not isinstance(service, str):
        raise AppApplyError("service", f"{name}: must be a string (a service name), not {type(service).__name__}")
    _one_line("service", name, service)
    if service and not _SERVICE_RE.match(service):
        raise AppApplyError(
            "service",
            f"{name}: {service!r} is not a service name (letters, digits and : _ . \\ @ -, not starting with -, at most 255 characters)",
        )
    return service


def _check_command(names: Mapping[str, str], command: t.Any) -> tuple[str, ...]:
    name = names["command"]
    if command is None:
        return ()
    if isinstance(command, (str, bytes)) or not isinstance(command, Sequence):
        raise AppApplyError("command", f"{name}: must be a list of arguments (argv, run without a shell), for example [gitlab-ctl, reconfigure], not a string")
    for index, arg in enumerate(command):
        if not isinstance(arg, str) or not arg:
            raise AppApplyError("command", f"{name}: argument {index + 1} must be a non-empty string")
        _one_line("command", f"{name}[{index}]", arg)
    if command and command[0].startswith("-"):
        raise AppApplyError("command", f"{name}: the first argument is the program to run; {command[0]!r} looks like an option")
    if command and " " in command[0]:
        raise AppApplyError(
            "command",
            f"{name}: the first argument is the program to run; {command[0]!r} is a whole command line, not a program:"
            " give one list item per argument, for example [gitlab-ctl, reconfigure]",
        )
    return tuple(command)


def resolve(app: str, apply: str = "auto", service: str = "", command: Sequence[str] | None = None, names: Mapping[str, str] | None = None) -> dict:
    """The way ``app`` applies changed settings: ``{"method", "service", "command"}``.

    ``apply`` is one of ``METHODS``; ``service`` empty and ``command`` empty mean the application's default.
    Raises AppApplyError when the overrides cannot work (unknown method, a service with nothing to restart or reload,
    a command for another method, a restart or reload with no service, a command method with no command).
    """
    names = {**NAMES, **(names or {})}
    if not isinstance(app, str) or app not in DEFAULTS:
        raise AppApplyError("app", f"{names['app']}: unknown application {app!r}; use one of {', '.join(APPS)}")
    if not isinstance(apply, str) or apply not in METHODS:
        raise AppApplyError("apply", f"{names['apply']}: {apply!r} is not one of {', '.join(METHODS)}")
    service = _check_service(names, service)
    command = _check_command(names, command)
    default = DEFAULTS[app]
    method = default["method"] if apply == "auto" else apply
    how = f"{names['apply']}={apply}" + (f" (the default of {app}: {method})" if apply == "auto" else "")
    if app == "none":
        for key, value in (("service", service), ("command", command), ("apply", apply if apply not in ("auto", "none") else "")):
            if value:
                raise AppApplyError(key, f"{names[key]}: set, but {names['app']} is none (no application to apply settings to)")
    if method in ("restart", "reload"):
        if command:
            raise AppApplyError("command", f"{names['command']}: only used with {names['apply']}=command; {how} {method}s a service")
        service = service or default["service"]
        if not service:
            raise AppApplyError(
                "service",
                f"{names['service']}: {app} has no default service to {method} (it applies its settings with"
                f" {' '.join(default['command']) or 'nothing'}); set {names['service']}, or use {names['apply']}=auto",
            )
        return {"method": method, "service": service, "command": []}
    if method == "command":
        if service:
            raise AppApplyError("service", f"{names['service']}: only used with {names['apply']}=restart or reload; {how} runs a command")
        command = command or default["command"]
        if not command:
            raise AppApplyError("command", f"{names['command']}: {app} has no default command; set it (an argv list) with {names['apply']}=command")
        return {"method": "command", "service": "", "command": list(command)}
    # none
    if service or command:
        key = "service" if service else "command"
        raise AppApplyError(key, f"{names[key]}: set, but nothing is applied ({how} none)")
    return {"method": "none", "service": "", "command": []}


def errors(app: t.Any, apply: t.Any = "auto", service: t.Any = "", command: t.Any = None, names: Mapping[str, str] | None = None) -> list[str]:
    """The refusal of ``resolve`` as a list of one message, or an empty list."""
    try:
        resolve(app, apply, service, command, names)
    except AppApplyError as exc:
        return [str(exc)]
    return []
