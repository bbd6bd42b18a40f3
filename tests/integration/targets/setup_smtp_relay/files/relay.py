# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A relay on 127.0.0.1 that offers STARTTLS (certificate from a trustme CA) and AUTH PLAIN/LOGIN.

Usage: relay.py PORT CA_FILE PIDFILE [USERNAME PASSWORD]. With a user name and password it accepts exactly those
credentials; without, it answers 535 to every AUTH. Runs until killed (or 300 seconds at most)."""

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
        return "250 2.0.0 Ok: queued as 4FQ2Z1XK9C"


def authenticator(username: str | None, password: str | None):
    def check(server, session, envelope, mechanism, auth_data):
        ok = username is not None and isinstance(auth_data, LoginPassword) and auth_data.login == username.encode() and auth_data.password == password.encode()
        if ok:
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False, message="535 5.7.8 Error: authentication failed: authentication failure")

    return check


def main() -> None:
    port, ca_file, pidfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    username, password = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else (None, None)
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
        authenticator=authenticator(username, password),
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
