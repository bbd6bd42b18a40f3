# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Prometheus Alertmanager backend: the SMTP keys of the ``global:`` block of ``alertmanager.yml``.

The file is edited line by line without a YAML library (managed hosts may not have PyYAML): only
the lines of the keys in ``OWNED`` are rewritten or added, strings are written as YAML
double-quoted (JSON-escaped) scalars, and every other byte stays.  What cannot be edited safely is
refused with the file, the line and the reason: flow-style ``global: {...}``, anchors, aliases,
tags or multi-line values on our keys, tabs in the indentation, duplicate keys, merge keys, and
YAML line breaks other than ``\\n`` (U+0085, U+2028, U+2029, a lone CR) or control characters
anywhere in the file.

What Alertmanager 0.25 (Debian 12) does, from ``notify/email/email.go`` and ``config/config.go``:

* Port 465 is always implicit TLS (``tls.Dial``); every other port starts in plaintext.  Then
  ``smtp_require_tls`` (default true) demands STARTTLS, on 465 too, where a server does not offer
  it: security=tls is port 465 with ``smtp_require_tls: false`` (alertmanager issues 980, 4507).
* AUTH runs when ``smtp_auth_username`` is set and the server offers AUTH: the first mechanism in
  the server's list with a credential wins, CRAM-MD5 (``smtp_auth_secret``), PLAIN or LOGIN
  (``smtp_auth_password``).  Go's ``PlainAuth`` refuses an unencrypted connection unless the host
  is exactly ``localhost``, ``127.0.0.1`` or ``::1``; Alertmanager's LOGIN does not check.
* ``smtp_from`` must parse as exactly one address (a display name is allowed; it is written as an
  RFC 2047 word when not ASCII) and is executed as a Go template.
* Applying: ``systemctl reload prometheus-alertmanager`` (the unit sends SIGHUP) or
  ``POST /-/reload`` on port 9093, which answers 500 and keeps the old configuration when the new
  one does not load.  Check the candidate first with :func:`validate_command`.
"""

from __future__ import annotations

import json
import re
import typing as t
from email.header import decode_header, make_header
from email.utils import formataddr, parseaddr

from ansible_collections.mailops.notify.plugins.module_utils._settings import (
    Backend,
    Desired,
    SettingsFormatError,
    SettingsValidationError,
    is_loopback,
    line_body,
    split_lines,
)

__all__ = ["DEFAULT_PATH", "OWNED", "RELOAD", "SERVICE", "AlertmanagerBackend", "parse_global", "validate_command"]

DEFAULT_PATH = "/etc/prometheus/alertmanager.yml"
SERVICE = "prometheus-alertmanager"
RELOAD = {"systemd": f"systemctl reload {SERVICE}", "signal": "SIGHUP", "http": "POST http://127.0.0.1:9093/-/reload"}
# The keys this backend owns, in the order new ones are added to global.
OWNED = tuple("smtp_smarthost smtp_require_tls smtp_hello smtp_from smtp_auth_username smtp_auth_password smtp_auth_secret".split())
OWNED += ("smtp_auth_identity", "smtp_auth_password_file")
EXTRA_KEYS = ("smtp_auth_identity", "smtp_auth_password_file")
EXACT_LOCAL = ("localhost", "127.0.0.1", "::1")  # Go net/smtp isLocalhost
_YAML_BOOL = {word: True for word in "y Y yes Yes YES on On ON true True TRUE".split()}
_YAML_BOOL.update({word: False for word in "n N no No NO off Off OFF false False FALSE".split()})
_KEY = r"(?P<key>[A-Za-z_<][A-Za-z0-9_.<-]*|\"[^\"\\]*\"|'[^']*')[ ]*:(?=[ ]|$)"
_TOP_RE = re.compile(r"^" + _KEY + r"(?P<rest>.*)$")
_CHILD_RE = re.compile(r"^(?P<indent>[ ]+)" + _KEY + r"(?P<rest>.*)$")
_RECEIVER_RE = re.compile(r"^[ ]+(?:-[ ]+)?(?P<key>smarthost|require_tls|hello|auth_username|auth_password|auth_secret|auth_password_file|tls_config)[ ]*:")
_FILE_BAD_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]")
_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r", "e": "\x1b", " ": " ",
            '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029"}  # fmt: skip
_DOUBLE_RE = re.compile(r'"((?:[^"\\]|\\(?:x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|[0abtnvfre "/\\N_LP\t]))*)"')
_ESCAPE_RE = re.compile(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)")
_INDICATORS = {"&": "an anchor", "*": "an alias", "!": "a tag", "|": "a multi-line block scalar", ">": "a multi-line block scalar",
               "[": "a flow sequence", "{": "a flow mapping", "@": "a reserved indicator", "`": "a reserved indicator"}  # fmt: skip


def validate_command(candidate: str, amtool: str = "amtool") -> list[str]:
    """The command that checks a candidate file (exit status 0: Alertmanager would load it).

    Alertmanager resolves relative template globs against the file's directory; amtool skips
    templates it does not find, so a candidate elsewhere only checks fewer templates.
    """
    return [amtool, *AlertmanagerBackend.syntax_check[2], candidate]


def encode(value: t.Any) -> str:
    """A YAML scalar: plain true/false for booleans, a double-quoted JSON string otherwise, on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return re.sub(r"[\x7f-\x9f\u2028\u2029\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False))


def _unescape(match: re.Match) -> str:
    code = match.group(1)
    return chr(int(code[1:], 16)) if len(code) > 1 else _ESCAPES[code]


class _Global:
    """Where the global block is and what our keys hold."""

    def __init__(self) -> None:
        self.header: int | None = None  # index of the "global:" line
        self.insert_at = 0  # where a missing global block goes: after a leading comment block and "---"
        self.last = -1  # index of the last content line of the block
        self.indent = "  "
        self.current = ""  # the key the next deeper lines belong to
        self.keys: dict[str, tuple[int, t.Any, int, int]] = {}  # key -> (line index, value, value start, value end)


def parse_global(text: str, path: str = DEFAULT_PATH) -> tuple[list[str], _Global]:
    """Split ``text`` into lines (at \\n only) and locate the global block; refuse what is not safe to edit."""
    lines, block, seen_content, top = split_lines(text), _Global(), False, ""

    def refuse(index: int, reason: str) -> t.NoReturn:
        raise SettingsFormatError(f"{path}: line {index + 1}: {reason}; refusing to edit the file, nothing was changed")

    for index, line in enumerate(lines):
        body = line_body(line)[0].lstrip("\ufeff") if index == 0 else line_body(line)[0]
        bad = _FILE_BAD_RE.search(body)
        if bad:
            refuse(index, f"U+{ord(bad.group()):04X} is a YAML line break or a control character that Alertmanager's YAML parser refuses")
        if not body.strip() or body.lstrip(" \t").startswith("#"):
            continue
        if body in ("---", "...") or body.startswith(("%", "--- ")):
            if seen_content:
                refuse(index, "a second YAML document is not supported (Alertmanager reads only the first)")
            block.insert_at = index + 1
            continue
        if body[0] in " \t-":
            if top == "global":
                _child(index, body, block, refuse)
            continue
        match = _TOP_RE.match(body)
        if not match:
            refuse(index, "this top-level line is not a 'key: value' line")
        seen_content, top = True, match.group("key").strip("'\"")
        if top == "global":
            if block.header is not None:
                refuse(index, f"duplicate key 'global' (first on line {block.header + 1})")
            rest = match.group("rest").strip()
            if rest and not rest.startswith("#"):
                what = {"{": "flow-style global: {...}"}.get(rest[0]) or _INDICATORS.get(rest[0], "a value on its own line")
                refuse(index, f"global has {what}; only a block mapping can be edited line by line")
            block.header = block.last = index
    if block.header is None:
        while block.insert_at < len(lines) and lines[block.insert_at].lstrip("\ufeff").startswith("#"):
            block.insert_at += 1
    return lines, block


def _child(index: int, body: str, block: _Global, refuse: t.Callable) -> None:
    indent = body[: len(body) - len(body.lstrip(" \t"))]
    if "\t" in indent:
        refuse(index, "a tab in the indentation of the global block (YAML forbids tabs there)")
    if block.last == block.header:
        block.indent = indent
    block.last = index
    if len(indent) > len(block.indent):
        if block.current in OWNED:
            refuse(index, f"{block.current} continues on this line (a nested or multi-line value); write it on one line")
        return
    match = _CHILD_RE.match(body)
    if len(indent) < len(block.indent) or not match:
        refuse(index, "this line of the global block is not a 'key: value' line at the block's indentation")
    key = block.current = match.group("key").strip("'\"")
    if key == "<<":
        refuse(index, "a merge key (<<) in global")
    if key in block.keys:
        refuse(index, f"duplicate key {key!r} in global (first on line {block.keys[key][0] + 1})")
    rest = match.group("rest")
    start = match.start("rest") + len(rest) - len(rest.lstrip(" "))
    value, end = None, start
    if key in OWNED and body[start:] and not body[start:].startswith("#"):
        value, size = _scalar(body[start:], key, index, refuse)
        end = start + size
    block.keys[key] = (index, value, start, end)


def _scalar(rest: str, key: str, index: int, refuse: t.Callable) -> tuple[t.Any, int]:
    first = rest[0]
    if first in _INDICATORS or (first in "-?:,%" and rest[1:2] in ("", " ")):
        refuse(index, f"{key} has {_INDICATORS.get(first, 'an indicator')}, not a one-line scalar")
    if first in "\"'":
        match = _DOUBLE_RE.match(rest) if first == '"' else re.match(r"'((?:[^']|'')*)'", rest)
        found = None
        if match:
            found = (_ESCAPE_RE.sub(_unescape, match.group(1)) if first == '"' else match.group(1).replace("''", "'"), match.end())
        if found is None:
            refuse(index, f"{key} has a quoted value that does not end on this line or has an unknown escape")
        if not re.match(r"^[ \t]*(#.*)?$", rest[found[1] :]):
            refuse(index, f"{key} has text after its quoted value")
        return found
    plain = re.split(r"[ \t]#", rest, maxsplit=1)[0].rstrip(" \t")
    if ": " in plain or plain.endswith(":"):
        refuse(index, f"{key} has ': ' in a plain value")
    if plain in ("~", "null", "Null", "NULL"):
        return None, len(plain)
    return (_YAML_BOOL.get(plain, plain) if key == "smtp_require_tls" else plain), len(plain)


def set_key(text: str, key: str, value: t.Any, path: str = DEFAULT_PATH) -> str:
    """Set one key of the global block; an equal value (or "" for an absent key) leaves the text as it is."""
    lines, block = parse_global(text, path)
    if key in block.keys:
        index, current, start, end = block.keys[key]
        if current == value or (current is None and value == ""):
            return text
        body, ending = line_body(lines[index])
        tail = body[end:] if not body[end:] or body[end:][0] in " \t" else " " + body[end:]
        lines[index] = body[:start].rstrip(" ") + " " + encode(value) + tail + ending
        return "".join(lines)
    if value == "":
        return text
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    bom = "\ufeff" if text.startswith("\ufeff") and block.header is None and block.insert_at == 0 else ""
    lines = split_lines(text[len(bom) :])
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += newline
    if block.header is None:
        follow = newline if block.insert_at < len(lines) and lines[block.insert_at].strip() else ""
        lines.insert(block.insert_at, f"{bom}global:{newline}{block.indent}{key}: {encode(value)}{newline}{follow}")
    else:
        lines.insert(block.last + 1, f"{block.indent}{key}: {encode(value)}{newline}")
    return "".join(lines)


def split_hostport(value: str) -> tuple[str | None, int | None]:
    """Like Go's net.SplitHostPort (brackets around an IPv6 address); the port is None unless numeric."""
    match = re.match(r"^(?:\[(?P<v6>[^\]]*)\]|(?P<host>[^:\[\]]*)):(?P<port>[^:\[\]]*)$", value or "")
    if not match:
        return None, None
    host = match.group("v6") if match.group("v6") is not None else match.group("host")
    return host, int(match.group("port")) if match.group("port").isdigit() else None


class AlertmanagerBackend(Backend):
    app = "alertmanager"
    # Alertmanager takes the first mechanism the server offers that it has a credential for.
    auth_values = ("none", "plain", "login", "cram-md5")
    unsupported: t.ClassVar[dict[str, str]] = {
        "enabled": "Alertmanager has no switch for email; receivers with email_configs send it (routes and receivers are not managed)",
        "reply_to": "Alertmanager has no global Reply-To; set headers in a receiver's email_configs",
        "support_address": "Alertmanager has no support-address setting",
        "support_address_type": "Alertmanager has no support-address setting",
        "discard_to_noreply": "this is an inbound-mail setting of the MTA; the role's Postfix part discards noreply mail",
        "validate_certs": "Alertmanager 0.25 has no global TLS setting; it verifies certificates unless a receiver's tls_config says otherwise",
    }
    password_comparison = "alertmanager.yml stores smtp_auth_password (smtp_auth_secret for auth=cram-md5) in clear text; the stored value is compared"
    password_keys = ("smtp_auth_password", "smtp_auth_secret")
    #: the check the module runs on the candidate where amtool is installed (Debian: prometheus-alertmanager)
    syntax_check = ("amtool", (), ("check-config",))

    def __init__(self, path: str = DEFAULT_PATH) -> None:
        self.path = path

    def values(self, state: str) -> dict[str, t.Any]:
        """The stored values of the keys in OWNED (None for an empty or null value)."""
        return {key: entry[1] for key, entry in parse_global(state, self.path)[1].keys.items() if key in OWNED}

    def read(self, state: str) -> dict[str, t.Any]:
        g = self.values(state)
        host, port = split_hostport(g.get("smtp_smarthost") or "")
        require_tls = g.get("smtp_require_tls", True)
        security = "tls" if port == 465 else {True: "starttls", False: "none"}.get(require_tls) if isinstance(require_tls, bool) else None
        user, secret, password = g.get("smtp_auth_username") or "", g.get("smtp_auth_secret") or "", g.get("smtp_auth_password") or ""
        auth = "none" if not user else "cram-md5" if secret and not password else "plain"
        out = {"host": host, "port": port, "security": security, "auth": auth, "username": g.get("smtp_auth_username"), "helo_domain": g.get("smtp_hello")}
        out["password"] = secret if auth == "cram-md5" else None if g.get("smtp_auth_password_file") else password
        if g.get("smtp_from"):
            name, address = parseaddr(g["smtp_from"])
            out["from_address"] = address or g["smtp_from"]
            out["from_name"] = str(make_header(decode_header(name))) if name else None
        return out

    def render(self, state: str, desired: Desired) -> str:
        v, cur = desired.values, self.read(state)
        updates: list[tuple[str, t.Any]] = []
        if "host" in v or "port" in v:
            host, port = v.get("host", cur["host"]), v.get("port", cur["port"])
            if not host or not port:
                missing = "port" if "host" in v else "host"
                raise SettingsValidationError(missing, f"smtp_smarthost is host:port and the file has no {missing}; set {missing} too")
            updates.append(("smtp_smarthost", f"[{host}]:{port}" if ":" in host else f"{host}:{port}"))
        port = v.get("port", cur["port"])
        security = v["security"] if "security" in v else "tls" if port == 465 else None if cur["security"] == "tls" else cur["security"]
        if "security" in v or "port" in v:
            option = "security" if "security" in v else "port"
            if "security" not in v and security != cur["security"]:
                raise SettingsValidationError(
                    "security", f"port {port} changes how Alertmanager protects the connection (465 is implicit TLS); set security too"
                )
            if security == "tls" and port != 465:
                raise SettingsValidationError(option, f"Alertmanager 0.25 does implicit TLS only on port 465, not {port}; use port 465 or security=starttls")
            if security != "tls" and port == 465:
                raise SettingsValidationError(option, "Alertmanager 0.25 always does implicit TLS on port 465; use security=tls or another port")
            if "security" in v:
                updates.append(("smtp_require_tls", security == "starttls"))
        if "helo_domain" in v:
            updates.append(("smtp_hello", v["helo_domain"]))
        auth = v.get("auth") or ("plain" if cur["auth"] == "none" else cur["auth"])
        if auth == "none":
            updates += [(key, "") for key in ("smtp_auth_username", "smtp_auth_password", "smtp_auth_secret", "smtp_auth_password_file")]
        if "username" in v:
            updates.append(("smtp_auth_username", v["username"]))
        password = v.get("password", cur["password"] if "auth" in v else None)
        if password is not None and auth != "none":
            keys = ("smtp_auth_secret", "smtp_auth_password") if auth == "cram-md5" else ("smtp_auth_password", "smtp_auth_secret")
            updates += [(keys[0], password), (keys[1], "")]
        if "from_address" in v or "from_name" in v:
            address, name = v.get("from_address", cur.get("from_address")), v.get("from_name", cur.get("from_name")) or None
            if not address:
                raise SettingsValidationError("from_name", "app=alertmanager stores the sender name inside smtp_from; set from_address too")
            for option, text in (("from_address", address), ("from_name", name or "")):
                if "{{" in text:
                    raise SettingsValidationError(option, "must not contain '{{': Alertmanager executes smtp_from as a Go template")
            if (address, name) != (cur.get("from_address"), cur.get("from_name")):
                updates.append(("smtp_from", formataddr((name, address)) if name else address))
        for key, value in desired.extra.items():
            if key not in EXTRA_KEYS:
                raise SettingsValidationError(
                    f"extra.{key}", f"app=alertmanager extra keys are {', '.join(EXTRA_KEYS)}; the other global SMTP keys have options"
                )
            if not isinstance(value, str):
                raise SettingsValidationError(f"extra.{key}", "must be a string")
            updates.append((key, value))
        text = state
        for key, value in updates:
            text = set_key(text, key, value, self.path)
        after, eff = self.values(text), self.read(text)
        if after.get("smtp_auth_password") and after.get("smtp_auth_password_file"):
            raise SettingsValidationError(
                "password" if "password" in v else "extra.smtp_auth_password_file",
                "Alertmanager allows only one of smtp_auth_password and smtp_auth_password_file; set extra.smtp_auth_password_file to '' to switch",
            )
        plaintext = desired.allow_plaintext_auth and eff["username"] and eff["security"] == "none" and is_loopback(eff["host"])
        if plaintext and desired.managed() & {"host", "port", "security", "username", "password", "auth"} and eff["host"] not in EXACT_LOCAL:
            raise SettingsValidationError(
                "host", f"Go's net/smtp sends PLAIN credentials without TLS only to exactly localhost, 127.0.0.1 or ::1, not {eff['host']!r}"
            )
        return text

    def owned(self, state: str, desired: Desired) -> dict[str, t.Any]:
        return {f"global.{key}": value for key, value in self.values(state).items()}

    def check(self, state: str) -> None:
        g = self.values(state)
        if g.get("smtp_smarthost") and split_hostport(g["smtp_smarthost"])[1] is None:
            raise SettingsFormatError(f"{self.path}: smtp_smarthost {g['smtp_smarthost']!r} is not host:port (Alertmanager refuses to load it)")
        if g.get("smtp_auth_password") and g.get("smtp_auth_password_file"):
            raise SettingsFormatError(f"{self.path}: only one of smtp_auth_password and smtp_auth_password_file may be set (Alertmanager refuses to load it)")

    def syntax_error(self, rc: int, stdout: str, stderr: str) -> str | None:
        """What amtool check-config found; values it quotes in backticks (yaml.v2 type errors) are masked."""
        if rc == 0:
            return None
        found = " ".join(" ".join(part.split()) for part in re.findall(r"FAILED: (.*(?:\n[ \t]+\S.*)*)", stdout))
        return re.sub(r"`[^`\n]*`", "`***`", found) or f"exit code {rc}"

    def warnings(self, state: str) -> list[str]:
        g, cur, out = self.values(state), self.read(state), []
        if cur["port"] == 465 and g.get("smtp_require_tls", True) is not False:
            out.append(f"{self.path}: port 465 with smtp_require_tls not false: Alertmanager 0.25 then asks for STARTTLS inside TLS and every mail fails")
        if cur["username"] and not (g.get("smtp_auth_password") or g.get("smtp_auth_secret") or g.get("smtp_auth_password_file")):
            out.append(f"{self.path}: smtp_auth_username without a password: Alertmanager fails ('missing password') when the server offers AUTH")
        lines, block = parse_global(state, self.path)
        found = {
            m.group("key")
            for i, line in enumerate(lines)
            if block.header is None or not block.header <= i <= block.last
            for m in [_RECEIVER_RE.match(line)]
            if m
        }
        if found:
            out.append(f"{self.path}: email_configs of some receivers set {', '.join(sorted(found))} themselves; they override global and are not managed")
        return out
