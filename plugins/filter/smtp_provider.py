# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: smtp_provider
short_description: The SMTP endpoint of a mail provider preset
version_added: 1.0.0
author: mailops.notify contributors (@mailops)
description:
  - Returns the server, port, connection security and authentication of a provider preset, and whether the
    provider relays only for authenticated clients.
  - These are the presets of M(mailops.notify.smtp_settings) (its O(mailops.notify.smtp_settings#module:provider)
    option), so that the role M(mailops.notify.mail_notifications) relays through exactly the same endpoints.
options:
  _input:
    description: The provider.
    type: str
    required: true
    choices: [ses, gmail, outlook, office365, local_postfix]
  region:
    description:
      - The AWS region, for V(ses) only (default V(us-east-1)).
      - Empty or null means the default.
    type: str
"""

EXAMPLES = r"""
- name: Where Amazon SES in eu-west-1 takes mail
  ansible.builtin.debug:
    msg: "{{ 'ses' | mailops.notify.smtp_provider(region='eu-west-1') }}"
  # => {"host": "email-smtp.eu-west-1.amazonaws.com", "port": 465, "security": "tls", "auth": "plain", "credentials": true}
"""

RETURN = r"""
_value:
  description: The preset.
  type: dict
  contains:
    host:
      description: The SMTP server.
      type: str
    port:
      description: The port.
      type: int
    security:
      description: V(none), V(starttls) or V(tls) (implicit TLS).
      type: str
    auth:
      description: The authentication mechanism the provider expects, or V(none).
      type: str
    credentials:
      description: Whether the provider relays only for authenticated clients.
      type: bool
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.mailops.notify.plugins.module_utils._providers import ProviderError, needs_credentials, preset


def smtp_provider(name: str, region: str | None = None) -> dict:
    try:
        result = preset(name, region or None) if name == "ses" else preset(name)
        result["credentials"] = needs_credentials(name)
    except ProviderError as exc:
        raise AnsibleFilterError(f"smtp_provider: {exc}") from exc
    return result


class FilterModule:
    def filters(self):
        return {"smtp_provider": smtp_provider}
