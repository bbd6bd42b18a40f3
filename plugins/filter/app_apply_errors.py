# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: app_apply_errors
short_description: Check how an application is asked to take up changed SMTP settings
version_added: 1.0.0
author: mailops.notify contributors (@mailops)
description:
  - The check of P(mailops.notify.app_apply#filter) as a list of messages, each naming the role variable of
    P(mailops.notify.mail_notifications#role) and the rule; an empty list when the overrides work.
  - The role runs it with its other checks, before it changes anything on the host.
options:
  _input:
    description: The application.
    type: str
    required: true
  apply:
    description: As in P(mailops.notify.app_apply#filter).
    type: str
    default: auto
  service:
    description: As in P(mailops.notify.app_apply#filter).
    type: str
    default: ''
  command:
    description: As in P(mailops.notify.app_apply#filter).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Refuse a service for GitLab, which applies its settings with gitlab-ctl reconfigure
  ansible.builtin.assert:
    that: __errors | length == 0
    fail_msg: "{{ __errors | join('\n') }}"
  vars:
    __errors: "{{ 'gitlab' | mailops.notify.app_apply_errors(service='gitlab-runsvdir') }}"
"""

RETURN = r"""
_value:
  description: One message per broken rule (at most one), each beginning with the variable's name.
  type: list
  elements: str
"""

from ansible_collections.mailops.notify.plugins.module_utils._app_apply import errors


def app_apply_errors(app, apply="auto", service="", command=None) -> list:
    return errors(app, apply, "" if service is None else service, command or None)


class FilterModule:
    def filters(self):
        return {"app_apply_errors": app_apply_errors}
