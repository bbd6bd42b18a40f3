# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module util is PRIVATE to the collection. It can have breaking changes at any time.

"""The grammar of values that the role writes into Postfix's files.

``main.cf`` takes one ``name = value`` per line (a line that starts with white space continues the one before);
a lookup table takes one ``key value`` per line, with white space around the value trimmed by postmap; the SASL
password map reads its value as ``user:password`` split at the first colon. Any value that breaks these rules
adds a line, a parameter or a map entry the operator never asked for (``always_bcc = spy@...``), or is read
differently from what was meant. Every check here is a full match: ``$`` before a trailing newline is not the
end of a value.

``check_inputs`` takes the values grouped by where they go and returns one message per broken rule, each naming
the variable and the rule, never a secret's value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ansible_collections.mailops.notify.plugins.module_utils._text import forbidden_character, shown

__all__ = [
    "ENUMERATED_PARAMETERS",
    "OWNED_PARAMETERS",
    "check_inputs",
]


# Parameters the role sets itself: mail_notifications_postfix_extra must not override them
# (it would undo the relay restrictions, the credential map or the TLS level the role validated).
OWNED_PARAMETERS = frozenset(
    {
        "relayhost",
        "mynetworks",
        "mydestination",
        "inet_interfaces",
        "smtpd_relay_restrictions",
        "smtpd_recipient_restrictions",
        "smtp_sasl_password_maps",
        "smtp_tls_security_level",
        "smtp_tls_wrappermode",
        "smtp_sasl_auth_enable",
        "virtual_mailbox_domains",
        "relay_domains",
        "transport_maps",
        "parent_domain_matches_subdomains",
        "virtual_alias_maps",
        "virtual_alias_domains",
    }
)

# Values `postfix check` accepts but Postfix cannot use.
_YES_NO = ("yes", "no")
_TLS_LEVELS = ("none", "may", "encrypt", "dane", "dane-only", "fingerprint", "verify", "secure")
_LOG_LEVELS = ("0", "1", "2", "3", "4")
ENUMERATED_PARAMETERS: Mapping[str, tuple[str, ...]] = {
    "smtp_tls_security_level": _TLS_LEVELS,
    "smtpd_tls_security_level": ("none", "may", "encrypt"),
    "lmtp_tls_security_level": _TLS_LEVELS,
    "smtp_tls_wrappermode": _YES_NO,
    "smtpd_tls_wrappermode": _YES_NO,
    "smtp_sasl_auth_enable": _YES_NO,
    "smtpd_sasl_auth_enable": _YES_NO,
    "smtpd_tls_auth_only": _YES_NO,
    "smtp_tls_note_starttls_offer": _YES_NO,
    "smtpd_helo_required": _YES_NO,
    "disable_vrfy_command": _YES_NO,
    "allow_percent_hack": _YES_NO,
    "swap_bangpath": _YES_NO,
    "smtp_sender_dependent_authentication": _YES_NO,
    "inet_protocols": ("all", "ipv4", "ipv6", "ipv4, ipv6", "ipv6, ipv4"),
    "smtp_tls_loglevel": _LOG_LEVELS,
    "smtpd_tls_loglevel": _LOG_LEVELS,
    "compatibility_level": ("0", "1", "2", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "level"),
}

_PARAMETER_NAME = re.compile(r"[a-z][a-z0-9_]*")
# A path that main.cf reads as one path: absolute, and none of the characters that Postfix reads as a list
# separator, a parameter expansion or a grouping.
_PATH_FORBIDDEN = re.compile(r"[\s,${}=#]")


def _line_errors(variable: str, value: object, secret: bool = False) -> list[str]:
    if value is None:
        return []
    text = value if isinstance(value, str) else str(value)
    problem = forbidden_character(text)
    if problem is None:
        return []
    quoted = "" if secret else f" {shown(text)}"
    return [f"{variable}:{quoted} contains {problem}; Postfix files take one line per value, so it would add a line"]


def _path_errors(variable: str, value: object) -> list[str]:
    if value in (None, ""):
        return []
    text = str(value)
    errors = _line_errors(variable, text)
    if errors:
        return errors
    if not text.startswith("/") or ".." in text.split("/"):
        errors.append(f"{variable}: {shown(text)} must be an absolute path without '..'")
    if _PATH_FORBIDDEN.search(text):
        errors.append(f"{variable}: {shown(text)} must not contain white space or any of , $ {{ }} = # (Postfix reads them as syntax)")
    return errors


def _relay_errors(variable: str, relay: Mapping[str, object], index: int | None) -> list[str]:
    """Checks of one relay's credentials and sender key (the SASL password map and the sender relay map)."""
    where = variable if index is None else f"{variable}[{index}]"
    errors: list[str] = []
    username = relay.get("username") or ""
    password = relay.get("password") or ""
    sender = relay.get("sender") or ""
    user_var = f"{where}_username" if index is None else f"{where}.username"
    password_var = f"{where}_password" if index is None else f"{where}.password"
    host_var = f"{where}_host" if index is None else f"{where}.host"
    for name, value in ((host_var, relay.get("host")), (f"{where}.sender", sender)):
        errors += _line_errors(name, value)
    if sender and re.search(r"\s", str(sender)):
        errors.append(f"{where}.sender: {shown(str(sender))} must not contain white space (it is the key of a lookup table)")
    if username:
        user_errors = _line_errors(user_var, username)
        errors += user_errors
        if not user_errors and ":" in str(username):
            errors.append(f"{user_var}: must not contain ':' (Postfix reads the SASL map value as user:password, split at the first colon)")
    if password:
        password_errors = _line_errors(password_var, password, secret=True)
        errors += password_errors
        text = str(password)
        if not password_errors and text != text.strip():
            errors.append(f"{password_var}: must not begin or end with white space (postmap trims it, so the relay would get another password)")
    return errors


def _extra_errors(variable: str, extra: Mapping[str, object]) -> list[str]:
    errors: list[str] = []
    bad_names = [name for name in extra if not (isinstance(name, str) and _PARAMETER_NAME.fullmatch(name))]
    if bad_names:
        names = ", ".join(shown(str(name)) for name in bad_names)
        errors.append(f"{variable}: parameter names must be Postfix names (lower case, digits, _): {names}")
    owned = sorted(name for name in extra if name in OWNED_PARAMETERS)
    if owned:
        errors.append(f"{variable}: {owned} are set by the role from validated variables; use those variables instead")
    invalid = []
    for name, value in extra.items():
        if name in bad_names:
            continue
        rendered = ("yes" if value else "no") if isinstance(value, bool) else str(value)
        problem = forbidden_character(rendered)
        if problem is not None:
            errors.append(f"{variable}: the value of {name} contains {problem}; values must be one line")
            continue
        if rendered != rendered.strip():
            errors.append(f"{variable}: the value of {name} must not begin or end with white space")
            continue
        choices = ENUMERATED_PARAMETERS.get(name)
        if choices is not None and rendered.lower() not in choices:
            invalid.append(f"{name} = {rendered} is not one of {', '.join(choices)}")
    if invalid:
        errors.append(f"{variable}: {'; '.join(invalid)} (postfix check accepts these, Postfix would not work)")
    return errors


def _as_list(value: object) -> list[Mapping[str, object]] | None:
    """The relays of a list variable, or None when it is not a list of dicts."""
    if value in (None, ""):
        return []
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes, Mapping)):
        return None
    items = list(value)
    return items if all(isinstance(item, Mapping) for item in items) else None


def check_inputs(
    *,
    lines: Mapping[str, object] | None = None,
    paths: Mapping[str, object] | None = None,
    relay: Mapping[str, object] | None = None,
    relay_lists: Mapping[str, object] | None = None,
    extra: Mapping[str, Mapping[str, object]] | None = None,
) -> list[str]:
    """Every broken grammar rule of the values bound for Postfix's files, one message each.

    lines: variable -> one-line value (main.cf values, map keys, master.cf arguments);
    paths: variable -> file or directory path written into main.cf;
    relay: the primary relay as {prefix: {host, username, password}} (messages name <prefix>_username ...);
    relay_lists: variable -> list of relays ({host, port, username, password, sender}), named <variable>[i].field;
    extra: variable -> dict of extra main.cf parameters.
    """
    errors: list[str] = []
    for variable, value in (lines or {}).items():
        errors += _line_errors(variable, value)
    for variable, value in (paths or {}).items():
        errors += _path_errors(variable, value)
    for prefix, value in (relay or {}).items():
        if isinstance(value, Mapping):
            errors += _relay_errors(prefix, value, None)
        else:
            errors.append(f"{prefix}: must be a relay (host, username, password)")
    for variable, value in (relay_lists or {}).items():
        items = _as_list(value)
        if items is None:
            errors.append(f"{variable}: must be a list of relays (dicts)")
            continue
        for index, item in enumerate(items):
            errors += _relay_errors(variable, item, index)
    for variable, value in (extra or {}).items():
        if isinstance(value, Mapping):
            errors += _extra_errors(variable, value)
        else:
            errors.append(f"{variable}: must be a dict of Postfix parameters")
    return errors
