# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A relay on 127.0.0.1 with STARTTLS (trustme CA) that accepts AUTH PLAIN/LOGIN for one user and password.

Usage: relay_auth.py PORT CA_FILE PIDFILE USERNAME PASSWORD. Runs until killed (or 300 seconds at most)."""

from __future__ import annotations

import os
import ssl
import sys
import time

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: queued as 4FQ2Z1XK9D"


def main() -> None:
    port, ca_file, pidfile, username, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]

    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == username.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok)

    ca = trustme.CA()
    ca.cert_pem.write_to_path(ca_file)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        server_hostname="relay.example.test",
        ready_timeout=5.0,
        tls_context=context,
        authenticator=check,
        auth_require_tls=True,
    )
    controller.start()
    with open(pidfile, "w", encoding="ascii") as handle:
        handle.write(str(os.getpid()))
    try:
        time.sleep(300)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
