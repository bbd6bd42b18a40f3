# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Alertmanager configuration of the app_email_test tests (this target's runme.sh and the unit tests).

Usage: alertmanager_config.py SMTP_PORT BROKEN_PORT (prints the file)."""

from __future__ import annotations

import sys


def alertmanager_config(smtp_port: int, broken_port: int) -> str:
    """Routes: severity=critical goes to a working email receiver, team=broken to one whose smarthost refuses, the rest
    to a receiver without any integration. group_wait 0s, grouped by alertname."""
    return f"""global:
  smtp_smarthost: 127.0.0.1:{smtp_port}
  smtp_from: alertmanager@example.test
  smtp_require_tls: false
route:
  receiver: silent
  group_wait: 0s
  group_interval: 1s
  group_by: [alertname]
  routes:
    - matchers: ['severity="critical"']
      receiver: ops-email
    - matchers: ['team="broken"']
      receiver: broken-email
receivers:
  - name: silent
  - name: ops-email
    email_configs:
      - to: ops@example.test
  - name: broken-email
    email_configs:
      - to: ops@example.test
        smarthost: 127.0.0.1:{broken_port}
"""


if __name__ == "__main__":
    sys.stdout.write(alertmanager_config(int(sys.argv[1]), int(sys.argv[2])))
