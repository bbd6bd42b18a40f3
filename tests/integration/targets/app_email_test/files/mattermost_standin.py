# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A stand-in for the part of Mattermost's REST API that app_email_test uses. It is for tests only, because no Mattermost
server can run here.

It follows what Mattermost's source does (server/channels/api4/system.go ``testEmail``, server/channels/app/admin.go
``TestEmail``, server/platform/shared/mail/mail.go), paraphrased:

* every call needs ``Authorization: Bearer <personal access token>``, else 401 with an AppError
  ``{"id", "message", "detailed_error", "request_id", "status_code"}``;
* ``GET /api/v4/users/me``: the token's user (``id``, ``username``, ``email``, ``locale``, ``roles``);
* ``POST /api/v4/email/test``: the body is decoded as a Config. JSON ``null``, an empty body or one that does not decode
  means the running configuration. Then, in this order: a config whose ``EmailSettings`` lacks a field answers 400
  ``api.file.test_connection_email_settings_nil.app_error``; a user without the system admin role answers 403; an empty
  ``SMTPServer`` answers 400 ``api.admin.test_email.missing_server``. The message is then sent with the **running**
  configuration (``MailServiceConfig``), whatever the body held: a real SMTP session with Python's smtplib (implicit TLS
  for ``TLS``, ``STARTTLS``, AUTH PLAIN if offered else LOGIN, which needs TLS, as Mattermost's ``authChooser`` does), EHLO
  with the host name of ``ServiceSettings.SiteURL``, From ``FeedbackName <FeedbackEmail>``, To the user's email, the subject
  ``Mattermost - Testing Email Settings`` as an RFC 2047 word, ``Auto-Submitted: auto-generated``. Success answers 200
  ``{"status": "OK"}``; any SMTP or network error answers 500 ``app.admin.test_email.failure`` with the message
  ``Connection unsuccessful: <error>``.

``leak_token`` makes 500 answers echo the caller's token in ``detailed_error`` (real Mattermost does not); the tests use
it to show that the module masks the token whatever the server answers.

Standalone, for the integration target:
``python mattermost_standin.py --port-file PATH --token TOKEN --email ADDRESS --smtp-port PORT``.
"""

from __future__ import annotations

import argparse
import copy
import email.utils
import json
import os
import secrets
import smtplib
import ssl
import threading
import time
from email.header import Header
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SUBJECT = "Mattermost - Testing Email Settings"
BODY = "It appears your Mattermost email is setup correctly!"
FAKE_SETTING = "********************"

# model.EmailSettings with Mattermost's defaults (server/public/model/config.go).
EMAIL_SETTINGS = {
    "EnableSignUpWithEmail": True,
    "EnableSignInWithEmail": True,
    "EnableSignInWithUsername": True,
    "SendEmailNotifications": True,
    "UseChannelInEmailNotifications": False,
    "RequireEmailVerification": False,
    "FeedbackName": "",
    "FeedbackEmail": "test@example.com",
    "ReplyToAddress": "test@example.com",
    "FeedbackOrganization": "",
    "EnableSMTPAuth": False,
    "SMTPUsername": "",
    "SMTPPassword": "",
    "SMTPServer": "localhost",
    "SMTPPort": "10025",
    "SMTPServerTimeout": 10,
    "ConnectionSecurity": "",
    "SendPushNotifications": True,
    "PushNotificationServer": "https://push-test.mattermost.com",
    "PushNotificationContents": "full",
    "PushNotificationBuffer": 1000,
    "EnableEmailBatching": False,
    "EmailBatchingBufferSize": 256,
    "EmailBatchingInterval": 30,
    "EnablePreviewModeBanner": True,
    "SkipServerCertificateVerification": False,
    "EmailNotificationContentsType": "full",
    "LoginButtonColor": "#0000",
    "LoginButtonBorderColor": "#2389D7",
    "LoginButtonTextColor": "#2389D7",
}


def app_error(ident: str, message: str, status: int, detail: str = "") -> dict:
    return {"id": ident, "message": message, "detailed_error": detail, "request_id": secrets.token_hex(13), "status_code": status}


class MattermostStandin:
    def __init__(self, *, token: str, email_address: str, smtp_port: int, admin: bool = True, site_url: str = "http://mm.example.test") -> None:
        self.token = token
        self.user = {
            "id": secrets.token_hex(13),
            "username": "sysadmin",
            "email": email_address,
            "locale": "en",
            "roles": "system_admin system_user" if admin else "system_user",
        }
        self.config = {
            "ServiceSettings": {"SiteURL": site_url},
            "EmailSettings": {**EMAIL_SETTINGS, "SMTPServer": "127.0.0.1", "SMTPPort": str(smtp_port), "FeedbackEmail": "mattermost@example.test"},
        }
        self.leak_token = False
        self.requests: list[tuple[str, str, bytes]] = []
        self.sent: list[dict] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> MattermostStandin:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    # -- what TestEmail does ---------------------------------------------------------------------------------------------

    def test_email(self, body: bytes) -> tuple[int, dict]:
        try:
            cfg = json.loads(body) if body.strip() else None
        except ValueError:
            cfg = None  # Mattermost logs "Error decoding the config" and tests the running configuration
        with self.lock:
            running = copy.deepcopy(self.config)
        if not isinstance(cfg, dict):
            cfg = running
        settings = cfg.get("EmailSettings") if isinstance(cfg.get("EmailSettings"), dict) else {}
        if any(settings.get(key) is None for key in EMAIL_SETTINGS):
            return 400, app_error("api.file.test_connection_email_settings_nil.app_error", "Unable to test the email settings: some settings are empty.", 400)
        if "system_admin" not in self.user["roles"].split():
            return 403, app_error("api.context.permissions.app_error", "You do not have the appropriate permissions.", 403)
        if not settings["SMTPServer"]:
            return 400, app_error("api.admin.test_email.missing_server", "SMTP Server is required", 400, "Invalid SMTPServer parameter.")
        if settings["SMTPPassword"] == FAKE_SETTING:
            stored = running["EmailSettings"]
            if any(settings[key] != stored[key] for key in ("SMTPServer", "SMTPPort", "SMTPUsername")):
                return 400, app_error(
                    "api.admin.test_email.reenter_password",
                    "The SMTP server, port, or username has changed. Please re-enter the SMTP password to test connection.",
                    400,
                )
        try:
            self._send(running)  # MailServiceConfig: the running configuration, not the body
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            detail = f"token={self.token}" if self.leak_token else ""
            return 500, app_error("app.admin.test_email.failure", f"Connection unsuccessful: {exc}", 500, detail)
        return 200, {"status": "OK"}

    def _send(self, cfg: dict) -> None:
        settings = cfg["EmailSettings"]
        host, port = settings["SMTPServer"], int(settings["SMTPPort"])
        timeout = settings["SMTPServerTimeout"] or 10
        context = ssl.create_default_context()
        if settings["SkipServerCertificateVerification"]:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        hostname = urlsplit(cfg["ServiceSettings"]["SiteURL"] or "").hostname or "localhost"
        security = settings["ConnectionSecurity"]
        if security == "TLS":
            client = smtplib.SMTP_SSL(host, port, local_hostname=hostname, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, local_hostname=hostname, timeout=timeout)
        with client:
            client.ehlo(hostname)
            if security == "STARTTLS":
                client.starttls(context=context)
                client.ehlo(hostname)
            if settings["EnableSMTPAuth"]:
                offered = (client.esmtp_features.get("auth") or "").upper().split()
                if "PLAIN" not in offered and security not in ("TLS", "STARTTLS"):
                    raise smtplib.SMTPException("authentication failed: unencrypted connection")
                client.user, client.password = settings["SMTPUsername"], settings["SMTPPassword"]
                mechanism = "PLAIN" if "PLAIN" in offered else "LOGIN"
                client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"), initial_response_ok=mechanism == "PLAIN")
            message = EmailMessage()
            message["From"] = email.utils.formataddr((settings["FeedbackName"], settings["FeedbackEmail"]))
            message["To"] = self.user["email"]
            message["Subject"] = Header(SUBJECT, "utf-8").encode()
            message["Auto-Submitted"] = "auto-generated"
            message["Precedence"] = "bulk"
            message["Message-ID"] = f"<{secrets.token_hex(8)}-{int(time.time())}@{hostname}>"
            message["Date"] = email.utils.formatdate()
            message.set_content(BODY)
            message.add_alternative(f"<p>{BODY}</p>", subtype="html")
            client.send_message(message, from_addr=settings["FeedbackEmail"], to_addrs=[self.user["email"]])
        with self.lock:
            self.sent.append({"to": self.user["email"], "subject": SUBJECT})

    # -- HTTP ------------------------------------------------------------------------------------------------------------

    def _handler(self) -> type:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _send(self, status: int, payload: object) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _read(self) -> bytes:
                length = min(int(self.headers.get("Content-Length") or 0), 1024 * 1024)
                return self.rfile.read(length) if length else b""

            def _authorized(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {standin.token}":
                    self._send(401, app_error("api.context.session_expired.app_error", "Invalid or expired session, please login again.", 401))
                    return False
                return True

            def _record(self, body: bytes = b"") -> str:
                path = urlsplit(self.path).path
                with standin.lock:
                    standin.requests.append((self.command, path, body))
                return path

            def do_GET(self) -> None:
                path = self._record()
                if not self._authorized():
                    return
                if path == "/api/v4/users/me":
                    self._send(200, dict(standin.user))
                else:
                    self._send(404, app_error("api.context.404.app_error", "Sorry, we could not find the page.", 404))

            def do_POST(self) -> None:
                body = self._read()
                path = self._record(body)
                if not self._authorized():
                    return
                if path == "/api/v4/email/test":
                    self._send(*standin.test_email(body))
                else:
                    self._send(404, app_error("api.context.404.app_error", "Sorry, we could not find the page.", 404))

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--lifetime", type=float, default=300.0, help="stop by itself after this many seconds")
    args = parser.parse_args()
    standin = MattermostStandin(token=args.token, email_address=args.email, smtp_port=args.smtp_port).start()
    with open(args.port_file + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(str(standin.server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    time.sleep(args.lifetime)
    standin.stop()


if __name__ == "__main__":
    main()
