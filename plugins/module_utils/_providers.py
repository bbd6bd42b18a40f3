# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""SMTP provider presets (the Mattermost guide's "Sample SMTP Settings").

``preset(name, region=None)`` is a pure function returning ``host``, ``port``, ``security`` and
``auth``.  The application backends and the role's Postfix relay settings use the same presets.
"""

from __future__ import annotations

import re
import typing as t

__all__ = [
    "PROVIDERS",
    "ProviderError",
    "check_overrides",
    "endpoints",
    "needs_credentials",
    "preset",
]

PROVIDERS = ("ses", "gmail", "outlook", "office365", "local_postfix")
SES_DEFAULT_REGION = "us-east-1"
_REGION_RE = re.compile(r"^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-[0-9]$")


class ProviderError(Exception):
    """A preset was asked for wrongly, or explicit options contradict it in a way that cannot work."""

    def __init__(self, option: str, rule: str) -> None:
        self.option = option
        self.rule = rule
        super().__init__(f"{option}: {rule}")


# name -> (host template, default port, default security, default auth, credentials needed,
#          every (port, security) pair the provider's endpoint accepts)
_PRESETS: dict[str, tuple] = {
    # Mattermost guide: email-smtp.us-east-1.amazonaws.com, 465, TLS.  SES also offers STARTTLS on
    # 25, 587 and 2587 and implicit TLS on 465 and 2465; AUTH PLAIN and LOGIN.
    "ses": (
        "email-smtp.{region}.amazonaws.com",
        465,
        "tls",
        "plain",
        True,
        ((465, "tls"), (2465, "tls"), (587, "starttls"), (25, "starttls"), (2587, "starttls")),
    ),
    # Mattermost guide: smtp.gmail.com, 587, STARTTLS.  465 with implicit TLS also works.
    "gmail": ("smtp.gmail.com", 587, "starttls", "plain", True, ((587, "starttls"), (465, "tls"), (25, "starttls"))),
    # Mattermost guide "Hotmail": smtp-mail.outlook.com, 587, STARTTLS (AUTH LOGIN).
    "outlook": ("smtp-mail.outlook.com", 587, "starttls", "login", True, ((587, "starttls"), (25, "starttls"))),
    # Mattermost guide "Office365/Outlook": smtp.office365.com, 587, STARTTLS (AUTH LOGIN).
    "office365": ("smtp.office365.com", 587, "starttls", "login", True, ((587, "starttls"), (25, "starttls"))),
    # Mattermost guide "Postfix": localhost, 25, no security, empty username and password.
    "local_postfix": ("localhost", 25, "none", "none", False, ((25, "none"), (587, "none"), (587, "starttls"))),
}


def _entry(name: str) -> tuple:
    try:
        return _PRESETS[name]
    except KeyError:
        raise ProviderError("provider", f"unknown provider {name!r}; known: {', '.join(PROVIDERS)}") from None


def preset(name: str, region: str | None = None) -> dict[str, t.Any]:
    """Return ``{"host", "port", "security", "auth"}`` for a provider (SES takes a region)."""
    host, port, security, auth, _creds, _pairs = _entry(name)
    if name == "ses":
        region = SES_DEFAULT_REGION if region is None else region
        if not _REGION_RE.match(region):
            raise ProviderError("provider_region", f"{region!r} is not an AWS region name such as us-east-1 or eu-west-1")
        host = host.format(region=region)
    elif region is not None:
        raise ProviderError("provider_region", f"only applies to provider=ses, not provider={name}")
    return {"host": host, "port": port, "security": security, "auth": auth}


def needs_credentials(name: str) -> bool:
    """Whether the provider only relays for authenticated clients."""
    return bool(_entry(name)[4])


def endpoints(name: str) -> tuple:
    """Every (port, security) pair the provider's server accepts."""
    return _entry(name)[5]


def check_overrides(name: str, explicit: t.Mapping[str, t.Any]) -> None:
    """Reject explicit options that contradict the preset in a way that cannot work.

    Overriding a value with another value the provider supports is fine (for example Gmail on
    465 with implicit TLS); overriding it with one the provider refuses is not.
    """
    base = preset(name) if name != "ses" else preset(name, SES_DEFAULT_REGION)
    port = explicit.get("port", base["port"])
    security = explicit.get("security", base["security"])
    pairs = endpoints(name)
    if ("port" in explicit or "security" in explicit) and (port, security) not in pairs:
        offered = ", ".join(f"{p}/{s}" for p, s in pairs)
        option = "security" if "security" in explicit else "port"
        raise ProviderError(option, f"provider={name} does not accept port {port} with security={security}; it offers {offered}")
    creds = bool(explicit.get("username")) or bool(explicit.get("password"))
    if needs_credentials(name):
        if explicit.get("auth") == "none":
            raise ProviderError("auth", f"provider={name} only relays for authenticated clients; auth=none cannot work")
    elif creds or explicit.get("auth") not in (None, "none"):
        raise ProviderError(
            "username" if creds else "auth",
            f"provider={name} is a local server that takes mail without authentication (username and password empty);"
            " remove the credentials or do not use the preset",
        )
