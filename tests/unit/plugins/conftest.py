# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.mailops.notify.tests.unit.plugins.smtp_servers import Certs, make_certs


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> Certs:
    """trustme certificates: a lab CA (its PEM in certs.ca_file) and good, expired, wrong-name and foreign-CA leaves."""
    return make_certs(str(tmp_path_factory.mktemp("certs")))
