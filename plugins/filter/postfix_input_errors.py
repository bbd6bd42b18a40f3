# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: postfix_input_errors
short_description: Check values bound for Postfix's files against Postfix's grammar
version_added: 1.0.0
author: mailops.notify contributors (@mailops)
description:
  - Returns one message per broken rule, each naming the variable and the rule; an empty list when every value
    is fine. A secret's value never appears in a message.
  - A value may not contain a line break of any kind (every character that Python's C(str.splitlines) splits on,
    U+2028 and U+0085 included) or any other control character, since it would add a line, a parameter or a
    map entry to C(main.cf) or a lookup table.
  - Paths must be absolute, without V(..), white space or characters that C(main.cf) reads as syntax.
  - SASL user names may not contain V(:) (the map value is read as C(user:password), split at the first colon),
    and passwords may not begin or end with white space (postmap trims it).
  - Extra C(main.cf) parameters must have Postfix names, must not be parameters the role sets itself, and
    parameters with a fixed set of values must have one of them.
  - The role C(mailops.notify.mail_notifications) runs this check before it changes anything.
options:
  _input:
    description:
      - The values, grouped by where they go.
      - C(lines) maps variable names to one-line values; C(paths) maps variable names to paths; C(relay) maps a
        variable prefix to one relay (C(host), C(username), C(password)); C(relay_lists) maps variable names to
        lists of relays (C(host), C(port), C(username), C(password), C(sender)); C(extra) maps a variable name
        to a dict of C(main.cf) parameters.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Refuse a CA file path with a line break in it
  ansible.builtin.assert:
    that: __errors | length == 0
    fail_msg: "{{ __errors | join('\n') }}"
  vars:
    __errors: "{{ {'paths': {'my_ca_file': my_ca_file}} | mailops.notify.postfix_input_errors }}"
"""

RETURN = r"""
_value:
  description: One message per broken rule, each beginning with the variable's name.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.mailops.notify.plugins.module_utils._postfix_input import check_inputs

_GROUPS = ("lines", "paths", "relay", "relay_lists", "extra")


def postfix_input_errors(inputs: dict) -> list:
    if not isinstance(inputs, dict):
        raise AnsibleFilterError("postfix_input_errors: expected a dict of value groups")
    unknown = sorted(set(inputs) - set(_GROUPS))
    if unknown:
        raise AnsibleFilterError(f"postfix_input_errors: unknown groups {unknown}; use {', '.join(_GROUPS)}")
    return check_inputs(**inputs)


class FilterModule:
    def filters(self):
        return {"postfix_input_errors": postfix_input_errors}
