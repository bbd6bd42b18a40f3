# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Common vocabulary, validation rules and planning for application SMTP settings.

One vocabulary (``host``, ``port``, ``security``, ``auth``, ...) is mapped by one backend per
application (``_app_ghes``, ``_app_mattermost``, ``_app_gitlab``, ``_app_gitea``,
``_app_alertmanager``).  This file holds
what all backends share: the field names, the validation rules (each failure names the option and
the rule), the text rules every value obeys, secret masking and the plan (before/after/diff)
computed before anything is written.

Results never carry a whole configuration file: the diff shows only the keys the module owns
(``Backend.owned``), with every secret masked, so a database password, an encryption key or a
token elsewhere in the file never reaches a log or a registered variable.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import typing as t
import unicodedata
from dataclasses import dataclass, field

from ansible_collections.mailops.notify.plugins.module_utils._providers import (
    PROVIDERS,
    ProviderError,
    check_overrides,
    preset,
)
from ansible_collections.mailops.notify.plugins.module_utils._redact import MASK, is_secret_key
from ansible_collections.mailops.notify.plugins.module_utils._text import first_forbidden

__all__ = [
    "APPS",
    "AUTH_VALUES",
    "FIELDS",
    "MASK",
    "SECURITY_VALUES",
    "Backend",
    "Desired",
    "Plan",
    "SettingsApiError",
    "SettingsError",
    "SettingsFormatError",
    "SettingsSourceError",
    "SettingsValidationError",
    "build_desired",
    "check_text",
    "decode_config",
    "extra_secret_values",
    "is_email",
    "is_extra_secret",
    "is_hostname",
    "is_loopback",
    "line_body",
    "looks_secret",
    "mask_owned",
    "mask_secret",
    "plan",
    "render_owned",
    "split_lines",
    "validate_effective",
]

APPS = ("ghes", "mattermost", "gitlab", "gitea", "alertmanager")
SECURITY_VALUES = ("none", "starttls", "tls")
AUTH_VALUES = ("none", "plain", "login", "cram-md5")
SUPPORT_TYPES = ("email", "url")
UPDATE_PASSWORD = ("always", "on_create")

# The common vocabulary, in the order used for results and documentation.
FIELDS = (
    "enabled",
    "host",
    "port",
    "security",
    "helo_domain",
    "auth",
    "username",
    "password",
    "from_address",
    "from_name",
    "reply_to",
    "support_address",
    "support_address_type",
    "discard_to_noreply",
    "validate_certs",
)
PRESET_FIELDS = ("host", "port", "security", "auth")


class SettingsError(Exception):
    """Base class of every error raised while planning application SMTP settings."""


class SettingsValidationError(SettingsError):
    """An option (or an ``extra`` key) breaks a rule.  The message names both."""

    def __init__(self, option: str, rule: str) -> None:
        self.option = option
        self.rule = rule
        super().__init__(f"{option}: {rule}")


class SettingsFormatError(SettingsError):
    """The application's stored configuration cannot be parsed or would not parse after the edit."""


class SettingsApiError(SettingsError):
    """An application API answered with an error."""


class SettingsSourceError(SettingsError):
    """The application does not read its settings from the file being edited (or not all of them).

    ``names`` are the overrides found (environment variable or option names, never their values).
    """

    def __init__(self, message: str, names: t.Iterable[str] = ()) -> None:
        self.names = sorted(set(names))
        super().__init__(message)


def mask_secret(value: t.Any) -> t.Any:
    """Return MASK for a non-empty secret, the value itself otherwise (empty, None)."""
    if value is None or value == "":
        return value
    return MASK


# ---------------------------------------------------------------------------------------------
# Text rules shared by every backend.

# Control characters (C0, DEL, C1: NUL, \t, \n, \r, \x0b, \x0c, \x1c-\x1e, \x85, ...), the Unicode line and
# paragraph separators and lone surrogates (the rule is _text.first_forbidden).  str.splitlines() splits on several
# of them, so do some readers of these formats; none of them belongs in a one-line setting.
_CONTROL_NAMES = {
    "\0": "NUL",
    "\t": "TAB",
    "\n": "LINE FEED",
    "\x0b": "LINE TABULATION",
    "\x0c": "FORM FEED",
    "\r": "CARRIAGE RETURN",
    "\x1b": "ESCAPE",
    "\x1c": "FILE SEPARATOR",
    "\x1d": "GROUP SEPARATOR",
    "\x1e": "RECORD SEPARATOR",
    "\x7f": "DELETE",
    "\x85": "NEXT LINE",
}


def _bad_character(value: str) -> str | None:
    found = first_forbidden(value)
    return None if found is None else found[1]


def _describe(char: str) -> str:
    name = _CONTROL_NAMES.get(char) or unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def check_text(option: str, value: t.Any) -> None:
    """Refuse a string that holds a line break or a control character (the value itself is never echoed)."""
    if not isinstance(value, str):
        return
    char = _bad_character(value)
    if char is not None:
        raise SettingsValidationError(
            option,
            f"must be one line of printable text; {_describe(char)} is a line break or control character,"
            " which could add a line, a section or a statement to the configuration",
        )


def split_lines(text: str) -> list[str]:
    """Split after each \\n only, keeping the endings: the line semantics of gitlab.rb (Ruby) and app.ini (go-ini).

    Unlike str.splitlines(), U+2028, U+2029, U+0085, \\x0b, \\x0c, \\x1c-\\x1e and a lone \\r stay inside their line,
    as they do for the applications that read these files.
    """
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def line_body(line: str) -> tuple[str, str]:
    """(text, ending) of a line from split_lines; the ending is \\r\\n, \\n or empty."""
    if line.endswith("\r\n"):
        return line[:-2], "\r\n"
    if line.endswith("\n"):
        return line[:-1], "\n"
    return line, ""


def decode_config(data: bytes, path: str) -> str:
    """Decode a configuration file as strict UTF-8; refuse anything else before a byte is changed."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SettingsFormatError(
            f"{path} is not valid UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} (line {line}); refusing to edit it, nothing was changed"
        ) from None


_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# Secret words that _redact's key rule does not know: Mattermost AtRestEncryptKey, PublicLinkSalt, SqlSettings.DataSource (a DSN).
_MORE_SECRET_RE = re.compile(r"(?:^|_)(?:salt|encrypt(?:ion)?_key|data_?source|dsn)(?:$|_)", re.IGNORECASE)


def looks_secret(key: t.Any) -> bool:
    """Whether a setting name (``SMTPPassword``, ``mailer.PASSWD``, ``smtp_password``, ``AtRestEncryptKey``...) names a secret."""
    if not isinstance(key, str):
        return False
    name = key.rsplit(".", 1)[-1]
    snake = _CAMEL_RE.sub("_", name)
    return is_secret_key(name) or is_secret_key(snake) or bool(_MORE_SECRET_RE.search(snake))


def _mask_nested(value: t.Any) -> t.Any:
    if isinstance(value, dict):
        return {key: mask_secret(item) if looks_secret(key) else _mask_nested(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask_nested(item) for item in value]
    return value


_EMAIL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@(?P<domain>[A-Za-z0-9.-]+)$")
_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def is_hostname(value: str) -> bool:
    """A DNS name (labels of letters, digits and hyphens) or an IP address literal."""
    if not isinstance(value, str) or not value or len(value) > 253:
        return False
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    labels = value[:-1].split(".") if value.endswith(".") else value.split(".")
    return all(_LABEL_RE.match(label) for label in labels)


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_email(value: t.Any) -> bool:
    """A bare address ``local@domain``; the domain must be a host name with a dot, or localhost."""
    if not isinstance(value, str):
        return False
    match = _EMAIL_RE.match(value)
    if not match:
        return False
    local = value.rsplit("@", 1)[0]
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    domain = match.group("domain")
    if not is_hostname(domain):
        return False
    return "." in domain.strip(".") or domain.lower() == "localhost"


_URL_RE = re.compile(r"^https?://(?P<host>\[[0-9A-Fa-f:.]+\]|[^/:?#\s]+)(?::\d{1,5})?(?:[/?#]\S*)?$")


def _check_url(option: str, value: str) -> None:
    if not value.lower().startswith(("http://", "https://")):
        raise SettingsValidationError(option, f"a support URL must start with http:// or https:// (got {value!r})")
    match = _URL_RE.match(value)
    if not match or not is_hostname(match.group("host").strip("[]")):
        raise SettingsValidationError(option, f"{value!r} is not a valid http(s) URL")


def _check_email(option: str, value: t.Any) -> None:
    if not is_email(value):
        raise SettingsValidationError(option, f"{value!r} is not a valid email address (expected local-part@domain)")


@dataclass
class Desired:
    """What the user asked for, after merging the provider preset (explicit options win).

    ``values`` holds only managed fields (options left unset are not managed and keep their
    current value in the application).  ``explicit`` names the fields the user set themselves.
    """

    app: str
    values: dict[str, t.Any] = field(default_factory=dict)
    explicit: frozenset = frozenset()
    extra: dict[str, t.Any] = field(default_factory=dict)
    update_password: str = "always"
    allow_plaintext_auth: bool = False
    provider: str | None = None
    provider_region: str | None = None

    def managed(self) -> frozenset:
        return frozenset(self.values)


class Backend:
    """Interface of an application backend.

    ``state`` is whatever the application stores: the text of a file (Mattermost, GitLab, Gitea)
    or the ``smtp`` object of the GHES Manage API.  Every method is pure.
    """

    app = ""
    #: auth values the application can do (validation: "an auth value the chosen app cannot do").
    auth_values: tuple = AUTH_VALUES
    security_values: tuple = SECURITY_VALUES
    #: common fields the application has no setting for, with the reason shown to the user.
    unsupported: t.ClassVar[dict[str, str]] = {}
    #: how the stored password is compared (documentation and tests).
    password_comparison = ""
    #: the application's names of the SMTP password (refused in ``extra``, in any case, and always masked).
    password_keys: tuple = ()
    #: why the application can never send credentials without TLS (empty: it can, to a local server, with
    #: ``allow_plaintext_auth``).  Set, credentials with security=none are refused on every host.
    no_plaintext_auth = ""

    def read(self, state: t.Any) -> dict[str, t.Any]:  # pragma: no cover - interface
        """Common-vocabulary view of ``state``.  ``password`` is None when the app does not reveal it."""
        raise NotImplementedError

    def render(self, state: t.Any, desired: Desired) -> t.Any:  # pragma: no cover - interface
        """Return the new state; must return a state equal to ``state`` when nothing changes."""
        raise NotImplementedError

    def owned(self, state: t.Any, desired: Desired) -> dict[str, t.Any]:  # pragma: no cover - interface
        """The settings of ``state`` that the module owns, by their names in the application (unmasked).

        Only these are ever shown (in the diff, masked by ``mask_owned``); the rest of the file is not.
        """
        raise NotImplementedError

    def check(self, state: t.Any) -> None:
        """Re-validate a rendered state with the application's own rules (raise SettingsFormatError)."""

    def warnings(self, state: t.Any) -> list[str]:
        return []

    def change_warnings(self, before: t.Any, after: t.Any, desired: Desired) -> list[str]:
        """What the edit corrected beyond the requested keys (a contradicting key, an implicit value made explicit)."""
        return []


def _norm_str(value: t.Any) -> t.Any:
    return value if value is None else str(value)


def build_desired(app: str, params: t.Mapping[str, t.Any], backend: Backend | None = None) -> Desired:
    """Merge the provider preset with explicit options and run every rule that needs no current state."""
    if app not in APPS:
        raise SettingsValidationError("app", f"must be one of {', '.join(APPS)} (got {app!r})")
    explicit = {name: params.get(name) for name in FIELDS if params.get(name) is not None}
    for name, value in explicit.items():
        check_text(name, value)
    extra = params.get("extra") or {}
    if not isinstance(extra, t.Mapping):
        raise SettingsValidationError("extra", "must be a dictionary of application keys and values")
    _check_extra(extra, backend)
    update_password = params.get("update_password") or "always"
    if update_password not in UPDATE_PASSWORD:
        raise SettingsValidationError("update_password", f"must be one of {', '.join(UPDATE_PASSWORD)}")
    provider = params.get("provider")
    region = params.get("provider_region")
    values: dict[str, t.Any] = {}
    if provider is not None:
        if provider not in PROVIDERS:
            raise SettingsValidationError("provider", f"must be one of {', '.join(PROVIDERS)} (got {provider!r})")
        try:
            values.update(preset(provider, region=region))
            check_overrides(provider, explicit)
        except ProviderError as exc:
            raise SettingsValidationError(exc.option, str(exc.rule)) from None
    elif region is not None:
        raise SettingsValidationError("provider_region", "only applies together with provider=ses")
    values.update(explicit)
    for name in ("host", "helo_domain", "username", "password", "from_address", "from_name", "reply_to", "support_address"):
        if name in values:
            values[name] = _norm_str(values[name])

    desired = Desired(
        app=app,
        values=values,
        explicit=frozenset(explicit),
        extra=dict(extra),
        update_password=update_password,
        allow_plaintext_auth=bool(params.get("allow_plaintext_auth")),
        provider=provider,
        provider_region=region,
    )
    _validate_static(desired, backend)
    return desired


def is_extra_secret(key: t.Any, password_keys: t.Iterable[str] = ()) -> bool:
    """Whether an ``extra`` key names a secret: the backend's password key (last dotted part, any case) or a key that looks secret."""
    if not isinstance(key, str):
        return False
    return key.rsplit(".", 1)[-1].lower() in {name.lower() for name in password_keys} or looks_secret(key)


def extra_secret_values(extra: t.Any, password_keys: t.Iterable[str] = ()) -> set[str]:
    """The values given for secret ``extra`` keys (which are refused), for the adapter to keep out of logs and results."""
    found: set[str] = set()

    def leaves(value: t.Any) -> None:
        if isinstance(value, t.Mapping):
            for item in value.values():
                leaves(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                leaves(item)
        elif value is not None and not isinstance(value, bool) and str(value):
            found.add(str(value))

    if isinstance(extra, t.Mapping):
        for key, value in extra.items():
            if is_extra_secret(key, password_keys):
                leaves(value)
    return found


def _check_extra(extra: t.Mapping[str, t.Any], backend: Backend | None) -> None:
    """Rules on every ``extra`` key and value: no secrets (extra is not no_log), one line of printable text."""
    password_keys = backend.password_keys if backend else ()
    for key, value in extra.items():
        if not isinstance(key, str) or not key or _bad_character(key) is not None:
            raise SettingsValidationError("extra", f"key {key!r} must be a non-empty name without a line break or control character")
        option = f"extra.{key}"
        if is_extra_secret(key, password_keys):
            raise SettingsValidationError(
                option,
                "looks like a secret, and extra is not no_log (its values can show in logs and results);"
                " set the SMTP password with the option password, keep other secrets out of this module",
            )
        _check_nested_text(option, value)


def _check_nested_text(option: str, value: t.Any) -> None:
    if isinstance(value, t.Mapping):
        for key, item in value.items():
            check_text(option, str(key))
            _check_nested_text(option, item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_nested_text(option, item)
    else:
        check_text(option, value)


def _validate_static(desired: Desired, backend: Backend | None) -> None:
    v = desired.values
    if "port" in v:
        port = v["port"]
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise SettingsValidationError("port", f"{port!r} is out of range; a TCP port is an integer from 1 to 65535")
    if "security" in v and v["security"] not in SECURITY_VALUES:
        raise SettingsValidationError("security", f"must be one of {', '.join(SECURITY_VALUES)} (got {v['security']!r})")
    if "auth" in v and v["auth"] not in AUTH_VALUES:
        raise SettingsValidationError("auth", f"must be one of {', '.join(AUTH_VALUES)} (got {v['auth']!r})")
    if "host" in v:
        if "://" in v["host"] or not is_hostname(v["host"]):
            raise SettingsValidationError("host", f"{v['host']!r} must be a host name or an IP address, without scheme or port")
    if "helo_domain" in v and v["helo_domain"] != "" and not is_hostname(v["helo_domain"]):
        raise SettingsValidationError("helo_domain", f"{v['helo_domain']!r} is not a valid domain name")
    for name in ("from_address", "reply_to"):
        if name in v:
            _check_email(name, v[name])
    if "support_address_type" in v and v["support_address_type"] not in SUPPORT_TYPES:
        raise SettingsValidationError("support_address_type", f"must be one of {', '.join(SUPPORT_TYPES)}")
    if "support_address" in v:
        kind = v.get("support_address_type")
        if kind is None:
            kind = "url" if "://" in v["support_address"] else "email"
            v["support_address_type"] = kind
        if kind == "url":
            _check_url("support_address", v["support_address"])
        else:
            _check_email("support_address", v["support_address"])
    elif "support_address_type" in desired.explicit:
        raise SettingsValidationError("support_address_type", "needs support_address")
    if "auth" in v and v["auth"] == "none" and v.get("username"):
        raise SettingsValidationError("auth", "auth=none contradicts the username that is set; remove username or choose an auth mechanism")
    if desired.allow_plaintext_auth and backend is not None and backend.no_plaintext_auth:
        raise SettingsValidationError(
            "allow_plaintext_auth", f"app={desired.app} can never send credentials without TLS, not even to a local server: {backend.no_plaintext_auth}"
        )
    if desired.allow_plaintext_auth and "host" in v and not is_loopback(v["host"]):
        raise SettingsValidationError(
            "allow_plaintext_auth",
            f"the override for credentials without TLS is only allowed for a local server (localhost, 127.0.0.1, ::1), not {v['host']!r}",
        )
    _check_port_security("port", v.get("port"), v.get("security"))

    if backend is not None:
        for name in sorted(desired.explicit):
            if name in backend.unsupported:
                raise SettingsValidationError(name, f"not supported by app={desired.app}: {backend.unsupported[name]}")
        if "auth" in v and v["auth"] not in backend.auth_values:
            raise SettingsValidationError("auth", f"app={desired.app} cannot do auth={v['auth']}; it supports {', '.join(backend.auth_values)}")
        if "security" in v and v["security"] not in backend.security_values:
            raise SettingsValidationError("security", f"app={desired.app} cannot do security={v['security']}; it supports {', '.join(backend.security_values)}")


def _check_port_security(option: str, port: t.Any, security: t.Any) -> None:
    if port == 465 and security == "starttls":
        raise SettingsValidationError(
            option, "port 465 is SMTPS (implicit TLS, RFC 8314), a server there does not offer STARTTLS; use security=tls or port 587"
        )
    if port == 587 and security == "tls":
        raise SettingsValidationError(option, "port 587 is submission with STARTTLS, a server there expects plaintext first; use security=starttls or port 465")


def validate_effective(effective: t.Mapping[str, t.Any], desired: Desired, backend: Backend | None = None) -> None:
    """Rules on the combination of stored and requested values, after the edit.

    A rule is checked only when one of the fields it involves is managed by this run, so a
    pre-existing oddity in a field the user did not touch does not block the run.
    """
    managed = desired.managed()
    port, security, host = effective.get("port"), effective.get("security"), effective.get("host")
    if managed & {"port", "security"}:
        try:
            _check_port_security("port" if "port" in managed else "security", port, security)
        except SettingsValidationError as exc:
            raise SettingsValidationError(exc.option, exc.rule + " (combined with the value stored in the application)") from None
    credentials = bool(effective.get("username")) or bool(effective.get("password"))
    if credentials and security == "none" and managed & {"security", "username", "password", "auth", "host"}:
        if backend is not None and backend.no_plaintext_auth:
            raise SettingsValidationError(
                "security",
                f"credentials (username/password) are set but security is none, and app={desired.app} can never authenticate without TLS,"
                f" on any host: {backend.no_plaintext_auth}. Use security=starttls or tls, or remove the credentials (auth=none)",
            )
        if not desired.allow_plaintext_auth:
            raise SettingsValidationError(
                "security",
                "credentials (username/password) are set but security is none; credentials must only travel over TLS or STARTTLS"
                " (Mattermost: 'If you fill in SMTP Username and SMTP Password then you must set Connection Security to TLS or to STARTTLS')."
                " For a local server only, set allow_plaintext_auth=true",
            )
        if not is_loopback(host):
            raise SettingsValidationError(
                "allow_plaintext_auth", f"credentials without TLS are only allowed for a local server (localhost, 127.0.0.1, ::1), not {host!r}"
            )
    if effective.get("auth") not in (None, "none") and not effective.get("username") and managed & {"auth", "username"}:
        raise SettingsValidationError("username", f"auth={effective.get('auth')} needs a username (none is set)")
    if effective.get("password") and not effective.get("username") and "password" in managed:
        raise SettingsValidationError("password", "a password needs a username (none is set)")


@dataclass
class Plan:
    before: t.Any
    after: t.Any
    changed: bool
    settings: dict[str, t.Any]
    diff: dict[str, t.Any]
    warnings: list = field(default_factory=list)


def plan(backend: Backend, state: t.Any, desired: Desired, header: str | None = None) -> Plan:
    """Compute the new state, validate it and describe the change with every secret masked."""
    current = backend.read(state)
    desired = copy.deepcopy(desired)
    warnings: list[str] = []
    if "password" in desired.values:
        stored = current.get("password")
        if desired.update_password == "on_create":
            # Only set a password when none is stored; unknown (write-only API) counts as stored
            # when a username is stored.
            if stored or (stored is None and current.get("username")):
                del desired.values["password"]
        elif stored is None and desired.values["password"]:
            warnings.append(
                f"app={desired.app} does not reveal the stored password, so update_password=always sends it and reports a change on"
                " every run; use update_password=on_create to set it only once"
            )
    after = backend.render(state, desired)
    effective = backend.read(after)
    validate_effective(effective, desired, backend)
    backend.check(after)
    changed = after != state
    settings = {name: effective.get(name) for name in FIELDS if name in effective}
    settings["password"] = mask_secret(settings.get("password"))
    diff: dict[str, t.Any] = {
        "before": render_owned(mask_owned(backend, backend.owned(state, desired))),
        "after": render_owned(mask_owned(backend, backend.owned(after, desired))),
    }
    if header:
        diff["before_header"] = header
        diff["after_header"] = header
    warnings.extend(backend.change_warnings(state, after, desired))
    warnings.extend(backend.warnings(after))
    return Plan(before=state, after=after, changed=changed, settings=settings, diff=diff, warnings=warnings)


def mask_owned(backend: Backend, owned: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Mask the password keys of ``backend`` and every key that looks secret (also inside nested objects)."""
    password_keys = {key.lower() for key in backend.password_keys}
    out: dict[str, t.Any] = {}
    for key, value in owned.items():
        secret = key.rsplit(".", 1)[-1].lower() in password_keys or looks_secret(key)
        out[key] = mask_secret(value) if secret else _mask_nested(value)
    return out


def render_owned(owned: t.Mapping[str, t.Any]) -> str:
    """The diff text of the owned settings: sorted JSON, non-ASCII escaped (no raw line separator reaches a terminal)."""
    return json.dumps(owned, indent=2, sort_keys=True, ensure_ascii=True, default=str) + "\n"
