# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Mattermost backend: ``EmailSettings`` in ``config.json``.

The file is edited in place: only the text of the values that change is replaced, so every other
byte (indentation style, key order, escaping of untouched values) stays as it was.  Values keep
the JSON types of Mattermost's ``model.EmailSettings`` struct (``SMTPPort`` is a string).

A file with a key twice in one object is refused: Go's encoding/json would use the last one, and
which of two ``SMTPPassword`` members is the live one must not be left to a guess.  The module
owns ``EmailSettings``, ``SupportSettings.SupportEmail`` and the keys named in ``extra``; outside
``EmailSettings`` only boolean and number keys can be set (string keys there hold the database
DSN, encryption keys and salts).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import typing as t
from dataclasses import dataclass, field
from json.decoder import scanstring

from ansible_collections.mailops.notify.plugins.module_utils._settings import (
    Backend,
    Desired,
    SettingsFormatError,
    SettingsSourceError,
    SettingsValidationError,
    check_text,
    looks_secret,
)

__all__ = [
    "EMAIL_SETTINGS_TYPES",
    "ConfigSource",
    "MattermostBackend",
    "check_config_sources",
    "check_service_name",
    "config_flag",
    "get_path",
    "is_database_dsn",
    "is_json_type",
    "override_name",
    "parse_env_file",
    "parse_systemctl_show",
    "service_sources",
    "set_path",
    "verify_config_source",
]

# model.EmailSettings (server/public/model/config.go): JSON key -> Python type of the JSON value.
EMAIL_SETTINGS_TYPES: dict[str, type] = {
    "EnableSignUpWithEmail": bool,
    "EnableSignInWithEmail": bool,
    "EnableSignInWithUsername": bool,
    "SendEmailNotifications": bool,
    "UseChannelInEmailNotifications": bool,
    "RequireEmailVerification": bool,
    "FeedbackName": str,
    "FeedbackEmail": str,
    "ReplyToAddress": str,
    "FeedbackOrganization": str,
    "EnableSMTPAuth": bool,
    "SMTPUsername": str,
    "SMTPPassword": str,
    "SMTPServer": str,
    "SMTPPort": str,
    "SMTPServerTimeout": int,
    "ConnectionSecurity": str,
    "SendPushNotifications": bool,
    "PushNotificationServer": str,
    "PushNotificationContents": str,
    "PushNotificationBuffer": int,
    "EnableEmailBatching": bool,
    "EmailBatchingBufferSize": int,
    "EmailBatchingInterval": int,
    "EnablePreviewModeBanner": bool,
    "SkipServerCertificateVerification": bool,
    "EmailNotificationContentsType": str,
    "LoginButtonColor": str,
    "LoginButtonBorderColor": str,
    "LoginButtonTextColor": str,
}


def is_json_type(value: t.Any, kind: type) -> bool:
    """Whether a decoded JSON value has the JSON type that ``kind`` stands for (a bool is not an int here)."""
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


_SECURITY_TO_MM = {"none": "", "starttls": "STARTTLS", "tls": "TLS"}
_MM_TO_SECURITY = {"": "none", "PLAIN": "none", "STARTTLS": "starttls", "TLS": "tls"}

# common field -> EmailSettings key (extra keys for these are refused: use the option)
_FIELD_KEYS = {
    "enabled": "EmailSettings.SendEmailNotifications",
    "host": "EmailSettings.SMTPServer",
    "port": "EmailSettings.SMTPPort",
    "security": "EmailSettings.ConnectionSecurity",
    "auth": "EmailSettings.EnableSMTPAuth",
    "username": "EmailSettings.SMTPUsername",
    "password": "EmailSettings.SMTPPassword",
    "from_address": "EmailSettings.FeedbackEmail",
    "from_name": "EmailSettings.FeedbackName",
    "reply_to": "EmailSettings.ReplyToAddress",
    "validate_certs": "EmailSettings.SkipServerCertificateVerification",
    "support_address": "SupportSettings.SupportEmail",
}
_KEY_TO_FIELD = {key: name for name, key in _FIELD_KEYS.items()}
_EXTRA_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*$")

_ENUMS = {
    "EmailSettings.PushNotificationContents": ("generic_no_channel", "generic", "full", "id_loaded"),
    "EmailSettings.EmailNotificationContentsType": ("full", "generic"),
}


# ---------------------------------------------------------------------------------------------
# A JSON reader that records where each object member's value is in the text.


class _Obj:
    __slots__ = ("end", "members", "start")

    def __init__(self, start: int) -> None:
        self.start = start  # index of "{"
        self.end = start  # index after "}"
        self.members: list[tuple[str, int, int, int, t.Any]] = []  # key, key_start, value_start, value_end, child _Obj

    def get(self, key: str) -> tuple | None:
        found = None
        for member in self.members:
            if member[0] == key:
                found = member  # last one wins, as in Go's encoding/json
        return found


_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class _DuplicateKey(Exception):
    def __init__(self, name: str, line: int | None = None) -> None:
        super().__init__(name)
        self.name = name
        self.line = line

    def message(self) -> str:
        where = f" (the second at line {self.line})" if self.line else ""
        return f"config.json has the key {self.name!r} twice{where}; Mattermost would silently use the last one. Remove the duplicate, nothing was changed"


def _skip(text: str, idx: int) -> int:
    return _WS.match(text, idx).end()


def _parse_obj(text: str, idx: int, prefix: str = "") -> _Obj:
    obj = _Obj(idx)
    idx = _skip(text, idx + 1)
    if text[idx] == "}":
        obj.end = idx + 1
        return obj
    seen: set[str] = set()
    while True:
        if text[idx] != '"':
            raise ValueError(f"expected a key at offset {idx}")
        key_start = idx
        key, idx = scanstring(text, idx + 1)
        if key in seen:
            raise _DuplicateKey(prefix + key, text.count("\n", 0, key_start) + 1)
        seen.add(key)
        idx = _skip(text, idx)
        if text[idx] != ":":
            raise ValueError(f"expected ':' at offset {idx}")
        idx = _skip(text, idx + 1)
        child = None
        if text[idx] == "{":
            child = _parse_obj(text, idx, f"{prefix}{key}.")
            value_end = child.end
        else:
            _value, value_end = _DECODER.raw_decode(text, idx)
        obj.members.append((key, key_start, idx, value_end, child))
        idx = _skip(text, value_end)
        if text[idx] == ",":
            idx = _skip(text, idx + 1)
            continue
        if text[idx] == "}":
            obj.end = idx + 1
            return obj
        raise ValueError(f"expected ',' or '}}' at offset {idx}")


def _pairs(pairs: list[tuple[str, t.Any]]) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)  # inside an array: no dotted path to name
        out[key] = value
    return out


def _parse(text: str) -> tuple[dict, _Obj]:
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("the top level is not an object")
        root = _parse_obj(text, _skip(text, 0))
        json.loads(text, object_pairs_hook=_pairs)  # duplicates inside arrays, which _parse_obj does not walk into
    except _DuplicateKey as exc:
        raise SettingsFormatError(exc.message()) from None
    except (ValueError, IndexError) as exc:
        raise SettingsFormatError(f"config.json is not valid JSON: {exc}") from None
    return data, root


def _lookup(data: dict, path: str) -> tuple[bool, t.Any]:
    node: t.Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def get_path(data: dict, path: str) -> t.Any:
    return _lookup(data, path)[1]


def _go_dumps(value: t.Any, unit: str = "    ", level: int = 0) -> str:
    """Serialise like Go's json.MarshalIndent (HTML characters escaped)."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        pad = unit * (level + 1)
        items = [f"{pad}{_go_dumps(str(k))}: {_go_dumps(v, unit, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + unit * level + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        pad = unit * (level + 1)
        return "[\n" + ",\n".join(pad + _go_dumps(v, unit, level + 1) for v in value) + "\n" + unit * level + "]"
    text = json.dumps(value, ensure_ascii=False)
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def _line_indent(text: str, idx: int) -> str:
    line_start = text.rfind("\n", 0, idx) + 1
    prefix = text[line_start:idx]
    return prefix if prefix.strip() == "" else ""


def _indent_unit(text: str, root: _Obj) -> str:
    if root.members:
        unit = _line_indent(text, root.members[0][1])
        if unit:
            return unit
    return "    "


def set_path(text: str, path: str, value: t.Any) -> str:
    """Set ``Section.Key`` (or a deeper dotted path) to ``value``, touching only that value's text.

    A value that is already equal (same JSON type and value) is left byte-identical.  A missing
    key is added after the last member of its object, with the indentation of its siblings.
    """
    data, root = _parse(text)
    parts = path.split(".")
    obj = root
    for depth, part in enumerate(parts):
        member = obj.get(part)
        last = depth == len(parts) - 1
        if member is None:
            rest = parts[depth + 1 :]
            new_value: t.Any = value
            for name in reversed(rest):
                new_value = {name: new_value}
            return _insert(text, root, obj, part, new_value, depth=depth)
        if last:
            current = get_path(data, path)
            if type(current) is type(value) and current == value:
                return text
            _key, _ks, vstart, vend, _child = member
            unit = _indent_unit(text, root)
            return text[:vstart] + _go_dumps(value, unit, depth + 1) + text[vend:]
        if member[4] is None:
            raise SettingsFormatError(f"config.json: {'.'.join(parts[: depth + 1])} is not an object")
        obj = member[4]
    raise AssertionError("Internal error")  # pragma: no cover


def _insert(text: str, root: _Obj, obj: _Obj, key: str, value: t.Any, *, depth: int) -> str:
    unit = _indent_unit(text, root)
    if obj.members:
        last = obj.members[-1]
        indent = _line_indent(text, last[1])
        # reuse the separator between the last key and its value (normally '": ')
        key_text_end = scanstring(text, last[1] + 1)[1]
        sep = text[key_text_end : last[2]]
        member = f"{_go_dumps(key)}{sep}{_go_dumps(value, unit, depth + 1)}"
        newline = "\n" if indent or "\n" in text[last[3] : obj.end] else " "
        return text[: last[3]] + "," + newline + indent + member + text[last[3] :]
    indent = unit * (depth + 1)
    closing = unit * depth
    member = f"{_go_dumps(key)}: {_go_dumps(value, unit, depth + 1)}"
    return text[: obj.start + 1] + "\n" + indent + member + "\n" + closing + text[obj.end - 1 :]


# ---------------------------------------------------------------------------------------------


def _coerce(option: str, value: t.Any, kind: type) -> t.Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
            return value.lower() in ("true", "yes")
        raise SettingsValidationError(option, f"must be a boolean (JSON true/false), got {value!r}")
    if kind is int:
        if isinstance(value, bool):
            raise SettingsValidationError(option, f"must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.match(r"^-?\d+$", value.strip()):
            return int(value)
        raise SettingsValidationError(option, f"must be an integer, got {value!r}")
    if kind is str:
        if isinstance(value, (dict, list)):
            raise SettingsValidationError(option, f"must be a string, got {value!r}")
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    if isinstance(value, kind):
        return value
    raise SettingsValidationError(option, f"must be a JSON {kind.__name__}, got {value!r}")


class MattermostBackend(Backend):
    app = "mattermost"
    # Mattermost negotiates the mechanism itself (PLAIN if offered, else LOGIN); it has no CRAM-MD5.
    auth_values = ("none", "plain", "login")
    unsupported: t.ClassVar[dict[str, str]] = {
        "helo_domain": "Mattermost has no HELO setting (it sends the host name of ServiceSettings.SiteURL)",
        "discard_to_noreply": "this is an inbound-mail setting of the MTA; the role's Postfix part discards noreply mail",
    }
    password_comparison = "config.json stores SMTPPassword in clear text; the stored value is compared with the requested one"
    password_keys = ("SMTPPassword",)
    no_plaintext_auth = (
        "Mattermost opens its SMTP session under the name SMTPServer:SMTPPort, so Go's net/smtp PlainAuth sees 'localhost:25',"
        " which is not exactly localhost, 127.0.0.1 or ::1, and refuses the unencrypted connection; Mattermost's LOGIN refuses"
        " every connection without TLS (server/platform/shared/mail/mail.go)"
    )

    def read(self, state: str) -> dict[str, t.Any]:
        data, _root = _parse(state)
        es = data.get("EmailSettings") or {}
        out: dict[str, t.Any] = {}
        out["enabled"] = es.get("SendEmailNotifications")
        out["host"] = es.get("SMTPServer")
        port = es.get("SMTPPort")
        out["port"] = int(port) if isinstance(port, str) and port.isdigit() else port
        out["security"] = _MM_TO_SECURITY.get(es.get("ConnectionSecurity") or "", es.get("ConnectionSecurity"))
        out["auth"] = ("plain" if es.get("EnableSMTPAuth") else "none") if "EnableSMTPAuth" in es else None
        out["username"] = es.get("SMTPUsername")
        out["password"] = es.get("SMTPPassword") or ""
        out["from_address"] = es.get("FeedbackEmail")
        out["from_name"] = es.get("FeedbackName")
        out["reply_to"] = es.get("ReplyToAddress")
        skip = es.get("SkipServerCertificateVerification")
        out["validate_certs"] = None if skip is None else not skip
        support = get_path(data, "SupportSettings.SupportEmail")
        if support is not None:
            out["support_address"] = support
            out["support_address_type"] = "email"
        return out

    def _updates(self, data: dict, desired: Desired) -> list[tuple[str, t.Any]]:
        v = desired.values
        updates: list[tuple[str, t.Any]] = []
        if "enabled" in v:
            updates.append(("EmailSettings.SendEmailNotifications", bool(v["enabled"])))
        if "host" in v:
            updates.append(("EmailSettings.SMTPServer", v["host"]))
        if "port" in v:
            updates.append(("EmailSettings.SMTPPort", str(v["port"])))
        if "security" in v:
            updates.append(("EmailSettings.ConnectionSecurity", _SECURITY_TO_MM[v["security"]]))
        if "auth" in v:
            updates.append(("EmailSettings.EnableSMTPAuth", v["auth"] != "none"))
            if v["auth"] == "none":
                updates.append(("EmailSettings.SMTPUsername", ""))
                updates.append(("EmailSettings.SMTPPassword", ""))
        elif v.get("username"):
            updates.append(("EmailSettings.EnableSMTPAuth", True))
        if "username" in v:
            updates.append(("EmailSettings.SMTPUsername", v["username"]))
        if "password" in v:
            updates.append(("EmailSettings.SMTPPassword", v["password"]))
        if "from_address" in v:
            updates.append(("EmailSettings.FeedbackEmail", v["from_address"]))
        if "from_name" in v:
            updates.append(("EmailSettings.FeedbackName", v["from_name"]))
        if "reply_to" in v:
            updates.append(("EmailSettings.ReplyToAddress", v["reply_to"]))
        if "validate_certs" in v:
            updates.append(("EmailSettings.SkipServerCertificateVerification", not v["validate_certs"]))
        if "support_address" in v:
            if v.get("support_address_type") == "url":
                raise SettingsValidationError("support_address_type", "app=mattermost only stores a support email (SupportSettings.SupportEmail), not a URL")
            updates.append(("SupportSettings.SupportEmail", v["support_address"]))
        for key, value in desired.extra.items():
            updates.append(self._extra(data, key, value))
        return updates

    def _extra(self, data: dict, key: str, value: t.Any) -> tuple[str, t.Any]:
        option = f"extra.{key}"
        if not _EXTRA_KEY_RE.match(key):
            raise SettingsValidationError(option, "app=mattermost extra keys are EmailSettings key names or Section.Key paths (letters and digits)")
        path = self._extra_path(key)
        if path in _KEY_TO_FIELD:
            raise SettingsValidationError(option, f"is set through the option {_KEY_TO_FIELD[path]}, not through extra")
        if path.startswith("EmailSettings.") and path.count(".") == 1:
            name = path.split(".", 1)[1]
            if name not in EMAIL_SETTINGS_TYPES:
                raise SettingsValidationError(option, f"EmailSettings has no key {name!r}; known keys: {', '.join(EMAIL_SETTINGS_TYPES)}")
            kind = EMAIL_SETTINGS_TYPES[name]
        else:
            current = get_path(data, path)
            if current is None and path != "ServiceSettings.EnableEmailInvitations":
                raise SettingsValidationError(option, f"{path} is not in this config.json; only existing keys can be set outside EmailSettings")
            if isinstance(current, (str, dict, list)):
                raise SettingsValidationError(
                    option,
                    "only boolean and number keys can be set outside EmailSettings"
                    f" ({path} holds a {type(current).__name__}; string keys there hold the database DSN, keys and salts)",
                )
            kind = bool if current is None else type(current)
        value = _coerce(option, value, kind)
        if path == "EmailSettings.EmailBatchingInterval" and value < 30:
            raise SettingsValidationError(option, f"must be at least 30 seconds (Mattermost EmailSettings.isValid), got {value}")
        if path == "EmailSettings.EmailBatchingBufferSize" and value <= 0:
            raise SettingsValidationError(option, f"must be greater than 0 (Mattermost EmailSettings.isValid), got {value}")
        if path == "EmailSettings.SMTPServerTimeout" and value < 0:
            raise SettingsValidationError(option, f"must not be negative, got {value}")
        if path in _ENUMS and value not in _ENUMS[path]:
            raise SettingsValidationError(option, f"must be one of {', '.join(_ENUMS[path])}, got {value!r}")
        return path, value

    def written_paths(self, state: str, desired: Desired) -> list[str]:
        """The config.json paths (``Section.Key``) this run writes, whether or not their value changes."""
        data, _root = _parse(state)
        return sorted({path for path, _value in self._updates(data, desired)})

    def render(self, state: str, desired: Desired) -> str:
        data, _root = _parse(state)
        text = state
        for path, value in self._updates(data, desired):
            text = set_path(text, path, value)
        new, _root = _parse(text)
        if get_path(new, "EmailSettings.EnableEmailBatching") is True and (
            "EnableEmailBatching" in desired.extra or "EmailSettings.EnableEmailBatching" in desired.extra
        ):
            if not get_path(new, "ServiceSettings.SiteURL"):
                raise SettingsValidationError("extra.EnableEmailBatching", "needs ServiceSettings.SiteURL to be set (Mattermost Config.IsValid)")
            if get_path(new, "ClusterSettings.Enable") is True:
                raise SettingsValidationError("extra.EnableEmailBatching", "cannot be used with ClusterSettings.Enable (Mattermost Config.IsValid)")
        return text

    @staticmethod
    def _extra_path(key: str) -> str:
        return key if "." in key else f"EmailSettings.{key}"

    def owned(self, state: str, desired: Desired) -> dict[str, t.Any]:
        data, _root = _parse(state)
        out: dict[str, t.Any] = {}
        es = data.get("EmailSettings")
        if isinstance(es, dict):
            out.update({f"EmailSettings.{key}": value for key, value in es.items()})
        for path in ("SupportSettings.SupportEmail", *(self._extra_path(key) for key in desired.extra)):
            found, value = _lookup(data, path)
            if found:
                out[path] = value
        return out

    def check(self, state: str) -> None:
        data, _root = _parse(state)
        es = data.get("EmailSettings")
        if not isinstance(es, dict):
            raise SettingsFormatError("config.json has no EmailSettings object")
        for key, kind in EMAIL_SETTINGS_TYPES.items():
            if key in es and es[key] is not None and not is_json_type(es[key], kind):
                found = f"a JSON {type(es[key]).__name__}" if looks_secret(key) else repr(es[key])
                raise SettingsFormatError(f"config.json EmailSettings.{key} must be a JSON {kind.__name__}, found {found}")
        if es.get("ConnectionSecurity", "") not in ("", "TLS", "STARTTLS", "PLAIN"):
            raise SettingsFormatError(f"config.json EmailSettings.ConnectionSecurity {es['ConnectionSecurity']!r} is not valid")


# ---------------------------------------------------------------------------------------------
# Does Mattermost read this file?  Where the running server takes its configuration from (server/cmd/mattermost/
# commands/utils.go getConfigDSN: the --config flag, else MM_CONFIG, else config.json; server/config/store.go: a
# mysql:// or postgres:// DSN is a database store) and which settings the environment overrides (server/config/
# environment.go: every variable whose upper-cased name is MM_<SECTION>_<KEY> replaces that setting).  The checks
# are pure functions of an environment and a command line; service_sources() does the reading.

DATABASE_DSN_PREFIXES = ("mysql://", "postgres://", "postgresql://")  # config.IsDatabaseDSN
PROCESS_NAME = "mattermost"
SHOW_PROPERTIES = ("LoadState", "MainPID", "Environment", "EnvironmentFiles", "ExecStart")
_UNIT_RE = re.compile(r"^[A-Za-z0-9:_.\\@-]{1,255}$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_FILES_RE = re.compile(r"^(?P<path>.+) \(ignore_errors=(?:yes|no)\)$")
_ARGV_RE = re.compile(r"argv\[\]=(?P<argv>.*?) ; ")
_EXPAND_RE = re.compile(r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|\$(?P<plain>[A-Za-z_][A-Za-z0-9_]*)")


def check_service_name(value: str) -> None:
    """Refuse a ``service`` that is not a systemd unit name (it becomes an argument of systemctl)."""
    check_text("service", value)
    if value.startswith("-") or not _UNIT_RE.match(value):
        raise SettingsValidationError(
            "service", f"{value!r} is not a systemd unit name (letters, digits and : _ . \\ @ -, not starting with -, at most 255 characters)"
        )


def override_name(path: str) -> str:
    """The environment variable that overrides a config.json setting: EmailSettings.SMTPServer -> MM_EMAILSETTINGS_SMTPSERVER."""
    return "MM_" + path.replace(".", "_").upper()


def is_database_dsn(value: str) -> bool:
    return value.startswith(DATABASE_DSN_PREFIXES)


def config_flag(argv: t.Sequence[str]) -> str | None:
    """The value of the last --config / -c flag of a Mattermost command line (pflag syntax), or None."""
    found = None
    args = list(argv[1:])
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            break
        if arg in ("--config", "-c"):
            found = args[index + 1] if index + 1 < len(args) else None
            index += 2
            continue
        if arg.startswith("--config="):
            found = arg[len("--config=") :]
        elif arg.startswith("-c") and not arg.startswith("--"):
            found = arg[3:] if arg.startswith("-c=") else arg[2:]
        index += 1
    return found or None


@dataclass(frozen=True)
class ConfigSource:
    """The environment and command line one Mattermost server would start with.

    ``origins`` names where each variable (upper-cased) is set, for the messages; ``same_root`` is False for a process
    in another mount namespace (a container), where a file path means something else.
    """

    label: str
    environ: t.Mapping[str, str]
    argv: tuple = ()
    argv_origin: str = ""
    same_root: bool = True
    origins: t.Mapping[str, str] = field(default_factory=dict)

    def where(self, name: str) -> str:
        origin = self.argv_origin if name == "--config" else self.origins.get(name.upper(), "")
        return f"{self.label} ({origin})" if origin else self.label


def _mm_environ(environ: t.Mapping[str, str]) -> dict[str, str]:
    """What config.GetEnvironment keeps: the variables whose upper-cased name starts with MM, by that name."""
    return {key.upper(): value for key, value in environ.items() if key.upper().startswith("MM")}


def check_config_sources(
    sources: t.Iterable[ConfigSource],
    config_path: str,
    written: t.Iterable[str],
    aliases: t.Iterable[str] = (),
    realpath: t.Callable[[str], str] = os.path.realpath,
) -> tuple[list[str], list[str], list[str]]:
    """(errors, warnings, names) of what makes ``config_path`` not (or not wholly) what Mattermost reads.

    ``config_path`` is the real path of the edited file, ``aliases`` other paths of it (the symbolic link given).
    An error: the configuration is in a database (a DSN in --config or MM_CONFIG), or in another file, or an environment
    variable overrides a setting this run writes (``written``).  A warning: a variable overrides an EmailSettings or
    SupportSettings.SupportEmail key this run does not write.  Messages name variables, never their values.
    """
    written = set(written)
    overrides = {override_name(path): path for path in written}
    basenames = {os.path.basename(path) for path in (config_path, *aliases)}
    errors: list[str] = []
    warnings: list[str] = []
    names: list[str] = []
    for source in sources:
        env = _mm_environ(source.environ)
        flag = config_flag(source.argv)
        if flag:
            name, dsn, where = "--config", flag, f"--config in {source.where('--config')}"
        elif env.get("MM_CONFIG"):
            name, dsn, where = "MM_CONFIG", env["MM_CONFIG"], f"MM_CONFIG in {source.where('MM_CONFIG')}"
        else:
            name, dsn, where = "", "config.json", f"{source.label} (no --config, no MM_CONFIG: Mattermost reads config.json)"
        problem = ""
        if is_database_dsn(dsn):
            problem = (
                f"{where} is a database DSN (mysql:// or postgres://), so Mattermost keeps its configuration in the database"
                " (change it with mmctl config set or the System Console)"
            )
        elif os.path.isabs(dsn):
            if source.same_root and realpath(dsn) != config_path:
                problem = f"{where} names another configuration file"
        elif os.path.basename(dsn) not in basenames:
            problem = f"{where} names a configuration file with another name"
        if problem:
            names.append(name or "config.json")
            errors.append(problem)
        hit = sorted(key for key in env if key in overrides)
        if hit:
            names.extend(hit)
            located = "; ".join(f"{key} in {source.where(key)}" for key in hit)
            settings = ", ".join(overrides[key] for key in hit)
            errors.append(f"{located} override{'s' if len(hit) == 1 else ''} {settings}, which this task writes (the environment wins over the file)")
        other = sorted(key for key in env if key not in overrides and key.startswith(("MM_EMAILSETTINGS_", "MM_SUPPORTSETTINGS_SUPPORTEMAIL")))
        if other:
            warnings.append(
                f"{source.label} sets {', '.join(other)}: Mattermost uses those values, not the ones in {config_path} (this task does not write them)"
            )
    return errors, warnings, sorted(set(names))


def parse_systemctl_show(text: str) -> dict[str, list[str]]:
    """``systemctl show`` output: property name -> its values (EnvironmentFiles and ExecStart can repeat)."""
    props: dict[str, list[str]] = {}
    for line in text.split("\n"):
        key, sep, value = line.partition("=")
        if sep and key:
            props.setdefault(key, []).append(value)
    return props


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text, posix=True)
    except ValueError:  # an unbalanced quote: plain words are enough to find names
        return text.split()


def _assignments(words: t.Iterable[str]) -> list[tuple[str, str]]:
    out = []
    for word in words:
        key, sep, value = word.partition("=")
        if sep and _ENV_NAME_RE.match(key):
            out.append((key, value))
    return out


def parse_env_file(text: str) -> list[tuple[str, str]]:
    """The assignments of a systemd EnvironmentFile: KEY=VALUE lines, # and ; comments, quotes, a trailing backslash continues."""
    out = []
    pending = ""
    for raw in text.split("\n"):
        line = pending + raw.rstrip("\r")
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending = line[:-1]
            continue
        pending = ""
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        key, sep, value = stripped.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _ENV_NAME_RE.match(key):
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            quote, value = value[0], value[1:-1]
            if quote == '"':
                value = re.sub(r"\\(.)", r"\1", value)
        out.append((key, value))
    return out


def _expand(word: str, env: t.Mapping[str, str]) -> str:
    """systemd's $VAR / ${VAR} in ExecStart (an unset variable expands to nothing)."""
    return _EXPAND_RE.sub(lambda match: env.get(match.group("braced") or match.group("plain"), ""), word)


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(1 << 20)


def _proc_sources(proc: str, main_pid: int) -> tuple[list[ConfigSource], list[str]]:
    pids = {main_pid} if main_pid > 0 else set()
    try:
        entries = os.listdir(proc)
    except OSError:
        entries = []
    for entry in entries:
        if entry.isdigit():
            try:
                if _read(f"{proc}/{entry}/comm").strip() == PROCESS_NAME.encode():
                    pids.add(int(entry))
            except OSError:
                continue
    try:
        own_ns = os.readlink(f"{proc}/self/ns/mnt")
    except OSError:
        own_ns = None
    sources, warnings = [], []
    for pid in sorted(pids):
        try:
            environ_data = _read(f"{proc}/{pid}/environ")
            cmdline = _read(f"{proc}/{pid}/cmdline")
        except FileNotFoundError:
            continue  # it has exited
        except OSError as exc:
            warnings.append(
                f"cannot read {proc}/{pid}/environ of the running Mattermost process ({os.strerror(exc.errno or 0)}); its environment was not checked"
            )
            continue
        environ = dict(_assignments(item.decode("utf-8", "surrogateescape") for item in environ_data.split(b"\0") if item))
        argv = tuple(item.decode("utf-8", "surrogateescape") for item in cmdline.split(b"\0") if item)
        try:
            same_root = own_ns is None or os.readlink(f"{proc}/{pid}/ns/mnt") == own_ns
        except OSError:
            same_root = True
        origins = {key.upper(): f"{proc}/{pid}/environ" for key in environ}
        sources.append(ConfigSource(f"the running Mattermost process {pid}", environ, argv, f"{proc}/{pid}/cmdline", same_root, origins))
    return sources, warnings


def service_sources(service: str, systemctl: t.Callable[[list], tuple[int, str, str]] | None, proc: str = "/proc") -> tuple[list[ConfigSource], list[str]]:
    """The environment and command line of ``service`` (``systemctl show`` and the EnvironmentFiles it names) and of every
    running process called mattermost (its /proc environ and cmdline).  No systemd, or no such unit: only the processes."""
    sources: list[ConfigSource] = []
    warnings: list[str] = []
    main_pid = 0
    if systemctl is not None:
        rc, out, _err = systemctl(["show", *(f"--property={name}" for name in SHOW_PROPERTIES), "--", service])
        props = parse_systemctl_show(out) if rc == 0 else {}
        if props.get("LoadState", [""])[0] not in ("", "not-found"):
            env: dict[str, str] = {}
            origins: dict[str, str] = {}
            for value in props.get("Environment", []):
                for key, item in _assignments(_words(value)):
                    env[key], origins[key.upper()] = item, "Environment="
            for value in props.get("EnvironmentFiles", []):
                match = _ENV_FILES_RE.match(value)
                path = match.group("path") if match else value
                try:
                    text = _read(path).decode("utf-8", "surrogateescape")
                except FileNotFoundError:
                    continue  # systemd skips a missing "-" file; a missing required one stops the service anyway
                except OSError as exc:
                    warnings.append(f"cannot read {path}, an EnvironmentFile of {service} ({os.strerror(exc.errno or 0)}); its variables were not checked")
                    continue
                for key, item in parse_env_file(text):
                    env[key], origins[key.upper()] = item, f"EnvironmentFile={path}"
            argv: tuple = ()
            for value in props.get("ExecStart", []):
                match = _ARGV_RE.search(value)
                if match:
                    argv = tuple(_expand(word, env) for word in _words(match.group("argv")))
                    break
            sources.append(ConfigSource(f"the systemd service {service}", env, argv, "ExecStart=", True, origins))
            pid = props.get("MainPID", ["0"])[0]
            main_pid = int(pid) if pid.isdigit() else 0
    found, more = _proc_sources(proc, main_pid)
    return sources + found, warnings + more


def verify_config_source(
    service: str,
    config_path: str,
    written: t.Iterable[str],
    systemctl: t.Callable[[list], tuple[int, str, str]] | None,
    *,
    aliases: t.Iterable[str] = (),
    proc: str = "/proc",
) -> list[str]:
    """Raise SettingsSourceError when ``config_path`` is not what Mattermost reads; return the warnings."""
    check_service_name(service)
    sources, warnings = service_sources(service, systemctl, proc)
    errors, more, names = check_config_sources(sources, config_path, written, aliases)
    if errors:
        raise SettingsSourceError(f"{config_path} is not what Mattermost reads: " + "; ".join(errors) + ". Nothing was changed", names)
    return warnings + more
