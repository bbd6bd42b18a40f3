# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: app_apply
short_description: How an application takes up changed SMTP settings
version_added: 1.0.0
author: mailops.notify contributors (@mailops)
description:
  - Returns the method, the service and the command that make an application read settings that
    M(mailops.notify.smtp_settings) changed, from the application's defaults and the caller's overrides.
  - "The defaults: V(mattermost) restarts the service C(mattermost); V(gitlab) runs C(gitlab-ctl reconfigure);
    V(gitea) restarts the service C(gitea); V(alertmanager) reloads the service C(prometheus-alertmanager)
    (C(systemctl reload), which sends SIGHUP); V(ghes) and V(none) need nothing (M(mailops.notify.smtp_settings)
    runs the GHES configuration itself)."
  - Overrides that cannot work are refused with a message that names the role variable of
    P(mailops.notify.mail_notifications#role) and the rule; see P(mailops.notify.app_apply_errors#filter) for the same check
    as a list of messages.
options:
  _input:
    description: The application.
    type: str
    required: true
    choices: [mattermost, gitlab, gitea, alertmanager, ghes, none]
  apply:
    description:
      - V(auto) is the application's default; V(restart) and V(reload) act on a service; V(command) runs a command;
        V(none) applies nothing.
    type: str
    default: auto
    choices: [auto, restart, reload, command, none]
  service:
    description:
      - The service to restart or reload (a systemd unit or service name); empty means the application's.
      - Only with V(restart) or V(reload) (or V(auto) where the application's default is one of them).
    type: str
    default: ''
  command:
    description:
      - The command for V(command), as a list of arguments run without a shell; empty means the application's.
      - For example V([mmctl, --local, config, reload]) for Mattermost in local mode.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: How GitLab applies gitlab.rb
  ansible.builtin.debug:
    msg: "{{ 'gitlab' | mailops.notify.app_apply }}"
  # => {"method": "command", "service": "", "command": ["gitlab-ctl", "reconfigure"]}

- name: Alertmanager installed from the upstream tarball, with its own unit name
  ansible.builtin.debug:
    msg: "{{ 'alertmanager' | mailops.notify.app_apply(service='alertmanager') }}"
  # => {"method": "reload", "service": "alertmanager", "command": []}
"""

RETURN = r"""
_value:
  description: How the application applies changed settings.
  type: dict
  contains:
    method:
      description: V(restart) or V(reload) (the service), V(command) (the command) or V(none).
      type: str
    service:
      description: The service to restart or reload; empty for the other methods.
      type: str
    command:
      description: The command to run (argv); empty for the other methods.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.mailops.notify.plugins.module_utils._app_apply import AppApplyError, resolve


def app_apply(app: str, apply: str = "auto", service: str = "", command: list | None = None) -> dict:
    try:
        return resolve(app, apply, service or "", command or None)
    except AppApplyError as exc:
        raise AnsibleFilterError(f"app_apply: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"app_apply": app_apply}
