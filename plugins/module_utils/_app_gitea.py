# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Gitea / Forgejo backend: the ``[mailer]`` section of ``app.ini`` and ``[service] ENABLE_NOTIFY_MAIL``.

The file is edited line by line: a key line is rewritten only when its value changes, a missing
key is added after the last key of its section, a missing section is appended.  Keys of the same
name in other sections (``[database] HOST``, ``USER``, ``PASSWD``) are never touched.
Values that go-ini would cut at ``#`` or ``;``, trim, unquote or (where continuation lines are on,
go-ini's default) join with the next line at a trailing backslash are written in backticks, as
Gitea's documentation recommends for ``PASSWD``.

Lines are split at ``\\n`` only, as go-ini reads them: a U+2028, U+0085 or form feed inside an
existing value stays in its line, so text like ``[security]`` after one of them is never taken for
a section header.  The module owns ``[mailer]`` and ``[service] ENABLE_NOTIFY_MAIL``.
"""

from __future__ import annotations

import re
import typing as t
from email.utils import formataddr, parseaddr

from ansible_collections.mailops.notify.plugins.module_utils._settings import (
    Backend,
    Desired,
    SettingsFormatError,
    SettingsValidationError,
    line_body,
    split_lines,
)

__all__ = ["GiteaBackend", "effective_mailer", "get_value", "read_ini", "set_value"]

# White space as Go's unicode.IsSpace: go-ini trims lines and values with it.
_GO_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
# Matched against the body of a line (split at \n only, ending removed).
_KEY_RE = re.compile(
    rf"^(?P<indent>[{re.escape(_GO_SPACE)}]*)(?P<key>[^\s=#;\[][^=\n]*?)(?P<sep>[ \t]*=[ \t]*)(?P<value>.*)$",
    re.DOTALL,
)

_SECURITY_TO_PROTOCOL = {"none": "smtp", "starttls": "smtp+starttls", "tls": "smtps"}
_PROTOCOL_TO_SECURITY = {"smtp": "none", "smtp+starttls": "starttls", "smtp+startls": "starttls", "smtps": "tls"}
_PORT_TO_PROTOCOL = {"25": "smtp", "465": "smtps", "587": "smtp+starttls"}
_PROTOCOL_TO_PORT = {"smtp": "25", "smtps": "465", "smtp+starttls": "587"}
_GO_TRUE = ("1", "t", "true", "y", "yes", "on")  # go-ini's MustBool
_DEPRECATED = {
    "MAILER_TYPE": "PROTOCOL",
    "HOST": "SMTP_ADDR and SMTP_PORT",
    "IS_TLS_ENABLED": "PROTOCOL",
    "DISABLE_HELO": "ENABLE_HELO",
    "SKIP_VERIFY": "FORCE_TRUST_SERVER_CERT",
    "USE_CERTIFICATE": "USE_CLIENT_CERT",
    "CERT_FILE": "CLIENT_CERT_FILE",
    "KEY_FILE": "CLIENT_KEY_FILE",
    "ENABLE_HTML_ALTERNATIVE": "SEND_AS_PLAIN_TEXT",
}
_COVERED = {
    "ENABLED": "enabled",
    "SMTP_ADDR": "host",
    "SMTP_PORT": "port",
    "PROTOCOL": "security",
    "HELO_HOSTNAME": "helo_domain",
    "USER": "username",
    "PASSWD": "password",
    "FROM": "from_address",
    "FORCE_TRUST_SERVER_CERT": "validate_certs",
}
_EXTRA_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def decode_value(raw: str) -> str:
    """Decode a value the way go-ini (Gitea's loader) does."""
    raw = raw.strip(_GO_SPACE)
    if raw.startswith('"""'):
        return raw[3:-3] if raw.endswith('"""') and len(raw) >= 6 else raw[3:]
    if raw[:1] == "`":
        end = raw.rfind("`")  # go-ini: the last backtick closes the value
        if end > 0:
            return raw[1:end]
    if raw[:1] == '"':
        end = raw.find('"', 1)
        if end > 0:
            return raw[1:end]
    cut = min([i for i in (raw.find("#"), raw.find(";")) if i >= 0], default=-1)
    if cut >= 0:
        raw = raw[:cut]
    return raw.strip(_GO_SPACE)


def encode_value(option: str, value: str) -> str:
    if value == value.strip(_GO_SPACE) and not re.search(r"[#;\"'`\\\n\r]", value):
        return value
    if "`" in value or "\n" in value or "\r" in value:
        raise SettingsValidationError(option, "app.ini cannot store this value: it needs quoting but contains a backtick or a line break")
    return f"`{value}`"


def _lines(text: str) -> list[str]:
    return split_lines(text)


def _classify(body: str) -> tuple[str, t.Any]:
    """What go-ini makes of a line: ("section", name), ("key", match), or ("skip", None) for blank, comment and other lines.

    As in go-ini, the line is trimmed of Unicode white space first, a section header starts with "[" and its name
    ends at the last "]" on the line (the name is not trimmed).
    """
    stripped = body.lstrip(_GO_SPACE)
    if not stripped or stripped[0] in "#;":
        return "skip", None
    if stripped[0] == "[":
        end = stripped.rfind("]")
        return ("section", stripped[1:end]) if end > 0 else ("skip", None)
    match = _KEY_RE.match(body)
    return ("key", match) if match else ("skip", None)


def _key_name(match: re.Match) -> str:
    return match.group("key").strip(_GO_SPACE)


def read_ini(text: str) -> dict[str, dict[str, str]]:
    """Sections -> keys -> decoded values ('' is the section before the first header)."""
    data: dict[str, dict[str, str]] = {"": {}}
    section = ""
    for line in _lines(text):
        kind, found = _classify(line_body(line)[0])
        if kind == "section":
            section = found
            data.setdefault(section, {})
        elif kind == "key":
            data[section][_key_name(found)] = decode_value(found.group("value"))
    return data


def get_value(text: str, section: str, key: str) -> str | None:
    return read_ini(text).get(section, {}).get(key)


def set_value(text: str, section: str, key: str, value: str, option: str) -> str:
    encoded = encode_value(option, value)
    lines = _lines(text)
    current = ""
    section_found = False
    last_key_at = None
    header_at = None
    changed_any = False
    present = False
    for index, line in enumerate(lines):
        body, ending = line_body(line)
        kind, match = _classify(body)
        if kind == "section":
            current = match
            if current == section:
                section_found = True
                header_at = index
            continue
        if current != section or kind != "key":
            continue
        last_key_at = index
        if _key_name(match) != key:
            continue
        present = True
        if decode_value(match.group("value")) == value:
            continue
        sep = match.group("sep")
        if not encoded:
            sep = sep.rstrip()
        elif not sep.endswith((" ", "\t")) and sep.startswith((" ", "\t")):
            sep = sep + " "
        lines[index] = match.group("indent") + match.group("key") + sep + encoded + ending
        changed_any = True
    if present:
        return "".join(lines) if changed_any else text
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    new_line = f"{key} = {encoded}" if encoded else f"{key} ="
    if section_found:
        anchor = last_key_at if last_key_at is not None else header_at
        if not lines[anchor].endswith("\n"):
            lines[anchor] += newline
        lines.insert(anchor + 1, new_line + newline)
        return "".join(lines)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += newline
    if lines and lines[-1].strip():
        lines.append(newline)
    lines.append(f"[{section}]" + newline)
    lines.append(new_line + newline)
    return "".join(lines)


def _split_host_port(value: str) -> tuple[str, str]:
    """Go's net.SplitHostPort, as Gitea uses it on the deprecated HOST ("missing port" keeps the whole value as the address)."""
    if value.startswith("["):
        end = value.find("]")
        if end > 0 and value[end + 1 : end + 2] == ":":
            return value[1:end], value[end + 2 :]
        return value, ""
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, port
    return value, ""


def effective_mailer(mailer: t.Mapping[str, str]) -> dict[str, t.Any]:
    """PROTOCOL, SMTP_ADDR and SMTP_PORT as Gitea settles them at startup (modules/setting/mailer.go loadMailerFrom).

    Deprecated keys are migrated when the new one is absent (MAILER_TYPE=sendmail, HOST, IS_TLS_ENABLED), smtp+startls
    becomes smtp+starttls, an empty port follows the protocol, and an empty protocol follows the address (a path is
    smtp+unix) or the port: 25 smtp, 465 smtps, 587 smtp+starttls, anything else (also no port) smtps, on 465 when no
    port is set.  ``ASSUMED`` is True for that last rule (Gitea logs "unable to infer ... assume using smtps").
    """
    m = dict(mailer)
    if "PROTOCOL" not in m and m.get("MAILER_TYPE") == "sendmail":
        m["PROTOCOL"] = "sendmail"
    if "HOST" in m and "SMTP_ADDR" not in m:
        addr, port = _split_host_port(m["HOST"])
        m["SMTP_ADDR"] = addr or "127.0.0.1"
        if not m.get("SMTP_PORT"):
            m["SMTP_PORT"] = port
    if "IS_TLS_ENABLED" in m and "PROTOCOL" not in m:
        m["PROTOCOL"] = "smtps" if m["IS_TLS_ENABLED"].lower() in _GO_TRUE else "smtp+starttls"
    protocol = m.get("PROTOCOL", "")
    if protocol == "smtp+startls":
        protocol = "smtp+starttls"
    port = m.get("SMTP_PORT", "") or _PROTOCOL_TO_PORT.get(protocol, "")
    addr = m.get("SMTP_ADDR", "")
    assumed = False
    if not protocol:
        if "/" in addr or "\\" in addr:
            protocol = "smtp+unix"
        elif port in _PORT_TO_PROTOCOL:
            protocol = _PORT_TO_PROTOCOL[port]
        else:
            protocol, assumed = "smtps", True
            port = port or "465"
    return {"PROTOCOL": protocol, "SMTP_ADDR": addr, "SMTP_PORT": port, "ASSUMED": assumed}


def _bool(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.lower() in ("true", "1", "yes", "on")


class GiteaBackend(Backend):
    app = "gitea"
    # Gitea negotiates the mechanism with the server (CRAM-MD5, PLAIN or LOGIN, whichever is offered).
    auth_values = ("none", "plain", "login", "cram-md5")
    unsupported: t.ClassVar[dict[str, str]] = {
        "reply_to": "Gitea has no Reply-To setting for notification mail",
        "support_address": "Gitea has no support-address mail setting",
        "discard_to_noreply": "this is an inbound-mail setting of the MTA; the role's Postfix part discards noreply mail",
    }
    password_comparison = "app.ini stores [mailer] PASSWD in clear text; the stored (unquoted) value is compared with the requested one"
    password_keys = ("PASSWD",)

    def read(self, state: str) -> dict[str, t.Any]:
        data = read_ini(state)
        mailer = data.get("mailer", {})
        service = data.get("service", {})
        out: dict[str, t.Any] = {}
        enabled = _bool(mailer.get("ENABLED"))
        notify = _bool(service.get("ENABLE_NOTIFY_MAIL"))
        out["enabled"] = bool(enabled) and bool(notify)
        # what Gitea will use: deprecated keys migrated, port and protocol inferred as it infers them
        effective = effective_mailer(mailer)
        out["host"] = effective["SMTP_ADDR"] or None
        port = effective["SMTP_PORT"]
        out["port"] = int(port) if port.isdigit() else None
        out["security"] = _PROTOCOL_TO_SECURITY.get(effective["PROTOCOL"])
        out["username"] = mailer.get("USER")
        out["password"] = mailer.get("PASSWD", "")
        out["auth"] = "plain" if mailer.get("USER") else "none"
        out["helo_domain"] = mailer.get("HELO_HOSTNAME")
        if "FROM" in mailer:
            name, address = parseaddr(mailer["FROM"])
            out["from_address"] = address or mailer["FROM"]
            out["from_name"] = name or None
        trust = _bool(mailer.get("FORCE_TRUST_SERVER_CERT"))
        out["validate_certs"] = None if trust is None else not trust
        return out

    def render(self, state: str, desired: Desired) -> str:
        v = desired.values
        updates: list[tuple[str, str, str, str]] = []

        def put(key: str, value: t.Any, option: str, section: str = "mailer") -> None:
            if isinstance(value, bool):
                value = "true" if value else "false"
            updates.append((section, key, "" if value is None else str(value), option))

        if "enabled" in v:
            put("ENABLED", bool(v["enabled"]), "enabled")
            put("ENABLE_NOTIFY_MAIL", bool(v["enabled"]), "enabled", "service")
        mailer = read_ini(state).get("mailer", {})
        if "security" in v:
            put("PROTOCOL", _SECURITY_TO_PROTOCOL[v["security"]], "security")
        elif ("host" in v or "port" in v) and not mailer.get("PROTOCOL") and "PROTOCOL" not in desired.extra:
            # Write the protocol Gitea would infer from the new address and port, so the file says what Gitea does.
            overlay = {**mailer, **({"SMTP_ADDR": v["host"]} if "host" in v else {}), **({"SMTP_PORT": str(v["port"])} if "port" in v else {})}
            put("PROTOCOL", effective_mailer(overlay)["PROTOCOL"], "security")
        if "host" in v:
            put("SMTP_ADDR", v["host"], "host")
        if "port" in v:
            put("SMTP_PORT", v["port"], "port")
        if "helo_domain" in v:
            put("HELO_HOSTNAME", v["helo_domain"], "helo_domain")
        if "auth" in v and v["auth"] == "none":
            put("USER", "", "auth")
            put("PASSWD", "", "auth")
        if "username" in v:
            put("USER", v["username"], "username")
        if "password" in v:
            put("PASSWD", v["password"], "password")
        if "from_address" in v or "from_name" in v:
            current = self.read(state)
            address = v.get("from_address", current.get("from_address"))
            name = v.get("from_name", current.get("from_name"))
            if not address:
                raise SettingsValidationError("from_name", "app=gitea stores the sender name inside FROM; set from_address too")
            if name and "`" in name:
                raise SettingsValidationError("from_name", "app=gitea cannot store a backtick in the sender name (FROM is quoted with backticks)")
            put("FROM", formataddr((name, address)) if name else address, "from_address")
        if "validate_certs" in v:
            put("FORCE_TRUST_SERVER_CERT", not v["validate_certs"], "validate_certs")
        managed = {key for _section, key, _value, _option in updates}
        for key, value in desired.extra.items():
            option = f"extra.{key}"
            if not _EXTRA_KEY_RE.match(key):
                raise SettingsValidationError(option, "app=gitea extra keys are upper-case [mailer] keys such as SUBJECT_PREFIX")
            if key in _DEPRECATED:
                raise SettingsValidationError(option, f"is deprecated since Gitea 1.18; use {_DEPRECATED[key]}")
            if key in managed:
                raise SettingsValidationError(option, f"is already set through the option {_COVERED.get(key, '?')}; do not set it in extra too")
            if isinstance(value, (dict, list)):
                raise SettingsValidationError(option, "must be a scalar")
            put(key, value, option)
        text = state
        for section, key, value, option in updates:
            text = set_value(text, section, key, value, option)
        return text

    def owned(self, state: str, desired: Desired) -> dict[str, t.Any]:
        data = read_ini(state)
        out = {f"mailer.{key}": value for key, value in data.get("mailer", {}).items()}
        if "ENABLE_NOTIFY_MAIL" in data.get("service", {}):
            out["service.ENABLE_NOTIFY_MAIL"] = data["service"]["ENABLE_NOTIFY_MAIL"]
        return out

    def check(self, state: str) -> None:
        mailer = read_ini(state).get("mailer", {})
        sender = mailer.get("FROM")
        if sender and "@" not in parseaddr(sender)[1]:
            raise SettingsFormatError(f"app.ini [mailer] FROM {sender!r} is not an RFC 5322 address (Gitea refuses to start)")
        protocol = mailer.get("PROTOCOL")
        if protocol and protocol not in ("smtp", "smtps", "smtp+starttls", "smtp+startls", "smtp+unix", "sendmail", "dummy"):
            raise SettingsFormatError(f"app.ini [mailer] PROTOCOL {protocol!r} is not one Gitea knows")

    def warnings(self, state: str) -> list[str]:
        mailer = read_ini(state).get("mailer", {})
        effective = effective_mailer(mailer)
        out = [f"app.ini [mailer] still has the deprecated key {key}; Gitea 1.18+ uses {new} instead" for key, new in _DEPRECATED.items() if key in mailer]
        if effective["ASSUMED"]:
            out.append(
                f"app.ini [mailer] has no PROTOCOL and SMTP_PORT {mailer.get('SMTP_PORT', '')!r} is none of 25, 465 and 587, so Gitea assumes smtps"
                f" (implicit TLS) on port {effective['SMTP_PORT']}; set security to make the protocol explicit"
            )
        if effective["PROTOCOL"] == "smtp" and effective["SMTP_ADDR"] and not _is_local(effective["SMTP_ADDR"]):
            out.append("app.ini [mailer] PROTOCOL=smtp sends in plaintext to a remote server (Gitea logs a warning for this too)")
        return out

    def change_warnings(self, before: str, after: str, desired: Desired) -> list[str]:
        old, new = read_ini(before).get("mailer", {}), read_ini(after).get("mailer", {})
        if old.get("PROTOCOL") or not new.get("PROTOCOL") or "security" in desired.values or "PROTOCOL" in desired.extra:
            return []
        inferred = effective_mailer({key: value for key, value in new.items() if key != "PROTOCOL"})
        why = f"SMTP_PORT {new.get('SMTP_PORT', '')!r} is none of 25, 465 and 587, so Gitea assumes smtps" if inferred["ASSUMED"] else "as Gitea infers it"
        return [f"app.ini [mailer] had no PROTOCOL; PROTOCOL = {new['PROTOCOL']} was written ({why}); set security to choose the protocol"]


def _is_local(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1")
