# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""GitLab Omnibus backend: the ``gitlab_rails['smtp_*']`` and ``gitlab_rails['gitlab_email_*']`` lines of ``gitlab.rb``.

Only those lines are touched.  An active line is rewritten in place (a trailing comment is kept);
a key that has no active line is added right after its commented template line
(``# gitlab_rails['smtp_address'] = "smtp.server"``), or else after the last SMTP line, or at the
end of the file.  Values are written as Ruby literals (string, integer, true/false, nil).

Lines are split at ``\\n`` only, as Ruby reads them: a U+2028 or a form feed inside an existing string
literal stays in its line.  A key whose value continues on the next line (an open string or
bracket, a heredoc, a trailing operator or backslash) is refused rather than half replaced; where
Ruby is installed (GitLab's own ``/opt/gitlab/embedded/bin/ruby`` first), the module also runs
``ruby -c`` on the edited file before it replaces the old one.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.mailops.notify.plugins.module_utils._settings import (
    Backend,
    Desired,
    SettingsFormatError,
    SettingsValidationError,
    line_body,
    looks_secret,
    split_lines,
)

__all__ = ["GitlabBackend", "continues_on_next_line", "parse_ruby_literal", "read_keys", "ruby_literal"]

# The body of a line (split at \n only, ending removed); a \r or U+2028 inside it belongs to the value.
_LINE_RE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<comment>#[ \t]*)?gitlab_rails\[(?P<q>['\"])(?P<key>[A-Za-z0-9_]+)(?P=q)\](?P<eq>[ \t]*=[ \t]*)(?P<rhs>.*)$",
    re.DOTALL,
)
_EXTRA_KEY_RE = re.compile(r"^(smtp_|gitlab_email_)[a-z0-9_]+$")
# The gitlab_rails keys Omnibus turns into GitLab's mail settings: smtp_settings.rb.erb (authentication, user_name, password,
# address, port, domain, enable_starttls_auto, tls, ssl, openssl_verify_mode, ca_path, ca_file, open_timeout, read_timeout),
# smtp_enable and smtp_pool (the recipe and the template), and the gitlab_email_* attributes of gitlab.yml.erb.  Any other
# key is ignored by gitlab-ctl reconfigure, so it is refused in extra.
MAPPED_KEYS = frozenset(
    [f"smtp_{key}" for key in "enable address port user_name password domain authentication enable_starttls_auto tls ssl".split()]
    + [f"smtp_{key}" for key in "openssl_verify_mode ca_path ca_file open_timeout read_timeout pool".split()]
    + [f"gitlab_email_{key}" for key in "enabled from display_name reply_to subject_suffix smime_enabled smime_key_file".split()]
    + [f"gitlab_email_{key}" for key in "smime_cert_file smime_ca_certs_file".split()]
)
_VERIFY_MODES = ("none", "peer", "client_once", "fail_if_no_peer_cert")
_AUTH_TO_RB = {"plain": "plain", "login": "login", "cram-md5": "cram_md5"}
_RB_TO_AUTH = {"plain": "plain", "login": "login", "cram_md5": "cram-md5", "cram-md5": "cram-md5"}


class _Dynamic:
    """A right-hand side that is not a plain literal (ENV[...], an expression...)."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = None  # type: ignore[assignment]


_DQ_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "s": " ", "e": "\x1b", "\\": "\\", '"': '"', "'": "'", "#": "#"}


def parse_ruby_literal(rhs: str) -> tuple[t.Any, str]:
    """Parse the literal at the start of ``rhs``; return (value, rest-of-line after it, incl. spaces)."""
    text = rhs
    if text.startswith('"'):
        out, i = [], 1
        while i < len(text):
            char = text[i]
            if char == "\\" and i + 1 < len(text):
                nxt = text[i + 1]
                if nxt not in _DQ_ESCAPES:
                    return _Dynamic(rhs), ""
                out.append(_DQ_ESCAPES[nxt])
                i += 2
                continue
            if char == "#" and i + 1 < len(text) and text[i + 1] in "{$@":
                return _Dynamic(rhs), ""
            if char == '"':
                return "".join(out), _rest(rhs, text[i + 1 :])
            out.append(char)
            i += 1
        return _Dynamic(rhs), ""
    if text.startswith("'"):
        out, i = [], 1
        while i < len(text):
            char = text[i]
            if char == "\\" and i + 1 < len(text) and text[i + 1] in "\\'":
                out.append(text[i + 1])
                i += 2
                continue
            if char == "'":
                return "".join(out), _rest(rhs, text[i + 1 :])
            out.append(char)
            i += 1
        return _Dynamic(rhs), ""
    match = re.match(r"^(true|false|nil|-?\d+|:[A-Za-z_][A-Za-z0-9_]*)(?![A-Za-z0-9_.\[(])", text)
    if match:
        token = match.group(1)
        value: t.Any
        if token == "true":
            value = True
        elif token == "false":
            value = False
        elif token == "nil":
            value = None
        elif token.startswith(":"):
            value = token[1:]
        else:
            value = int(token)
        return value, _rest(rhs, text[match.end() :])
    return _Dynamic(rhs), ""


def _rest(rhs: str, rest: str) -> t.Any:
    if rest.strip() == "" or rest.lstrip().startswith("#"):
        return rest
    raise _NotLiteral()


class _NotLiteral(Exception):
    pass


def _parse_rhs(rhs: str) -> tuple[t.Any, str]:
    try:
        return parse_ruby_literal(rhs)
    except _NotLiteral:
        return _Dynamic(rhs), ""


# Characters a string literal must not carry raw: C0, DEL, C1 and the Unicode line/paragraph separators.
_UNPRINTABLE = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029"


def ruby_literal(value: t.Any) -> str:
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if not re.search(f'["\\\\#{_UNPRINTABLE}]', text):
        return f'"{text}"'
    if re.search(f"[{_UNPRINTABLE}]", text):
        out = []
        for char in text:
            if char in '"\\#':
                out.append("\\" + char)
            elif char == "\n":
                out.append("\\n")
            elif char == "\t":
                out.append("\\t")
            elif char == "\r":
                out.append("\\r")
            elif re.match(f"[{_UNPRINTABLE}]", char):
                out.append(f"\\u{ord(char):04x}")
            else:
                out.append(char)
        return '"' + "".join(out) + '"'
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _string_end(text: str, start: int) -> int:
    """Index of the quote that closes the string literal opening at ``start``, or -1 if it stays open on this line."""
    quote = text[start]
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == quote:
            return i
        if quote != "'" and char == "#" and text.startswith("#{", i):
            depth, i = 1, i + 2
            while i < len(text) and depth:
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            if depth:
                return -1
            continue
        i += 1
    return -1


_PERCENT_RE = re.compile(r"%[qQwWiIrsx]?([^\w\s])")
_HEREDOC_RE = re.compile(r"<<[~-]?(['\"`]?)[A-Za-z_]")
_PAIRS = {"(": ")", "[": "]", "{": "}", "<": ">"}
_CONTINUING_END = re.compile(r"(?:[,+\-*/|&.=(\[{<>%^~\\]|(?:^|\s)(?:and|or|not|do))$")


def continues_on_next_line(rhs: str) -> bool:
    """Whether a right-hand side goes on past its line: an open string, bracket or %-literal, a heredoc,
    or a trailing operator, comma or backslash.  A statement that does is never half replaced."""
    depth, i, last = 0, 0, ""
    while i < len(rhs):
        char = rhs[i]
        if char in "\"'`":
            end = _string_end(rhs, i)
            if end < 0:
                return True
            i, last = end + 1, char
            continue
        if char == "#":
            break
        percent = _PERCENT_RE.match(rhs, i) if char == "%" and last in ("", "=", "(", ",", "[", "{") else None
        if percent:
            close = _PAIRS.get(percent.group(1), percent.group(1))
            end = rhs.find(close, percent.end())
            if end < 0:
                return True
            i, last = end + 1, close
            continue
        if char == "<" and _HEREDOC_RE.match(rhs, i):
            return True
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if not char.isspace():
            last = char
        i += 1
    return depth > 0 or bool(_CONTINUING_END.search(rhs[:i].rstrip()))


def _lines(text: str) -> list[str]:
    return split_lines(text)


def read_keys(text: str) -> dict[str, t.Any]:
    """The effective value of every active ``gitlab_rails['...']`` literal line (last one wins)."""
    values: dict[str, t.Any] = {}
    for line in _lines(text):
        match = _LINE_RE.match(line_body(line)[0])
        if match and not match.group("comment"):
            values[match.group("key")] = _parse_rhs(match.group("rhs"))[0]
    return values


def _refuse_multiline(text: str, keys: t.Collection[str]) -> None:
    """A key about to be written whose current value goes on past its line would be half replaced: refuse it."""
    for index, line in enumerate(_lines(text)):
        match = _LINE_RE.match(line_body(line)[0])
        if not match or match.group("comment") or match.group("key") not in keys:
            continue
        if isinstance(_parse_rhs(match.group("rhs"))[0], _Dynamic) and continues_on_next_line(match.group("rhs")):
            raise SettingsFormatError(
                f"gitlab.rb line {index + 1}: gitlab_rails['{match.group('key')}'] continues on the next line, so it cannot be replaced safely;"
                " put it on one line (or remove it) and run again"
            )


def _ruby_true(value: t.Any) -> bool:
    """Ruby's truth: everything but nil and false (0 and "" too)."""
    return value is not None and value is not False


def _is_mail_key(key: str) -> bool:
    return key.startswith("smtp_") or key.startswith("gitlab_email_")


def set_key(text: str, key: str, value: t.Any) -> str:
    lines = _lines(text)
    literal = ruby_literal(value)
    found = False
    template_at = None
    last_mail_at = None
    for index, line in enumerate(lines):
        body, ending = line_body(line)
        match = _LINE_RE.match(body)
        if not match:
            continue
        if _is_mail_key(match.group("key")):
            last_mail_at = index
        if match.group("key") != key:
            continue
        if match.group("comment"):
            template_at = index
            continue
        found = True
        current, rest = _parse_rhs(match.group("rhs"))
        if not isinstance(current, _Dynamic) and type(current) is type(value) and current == value:
            continue
        prefix = body[: match.start("rhs")]
        lines[index] = prefix + literal + rest + ending
    if found:
        return "".join(lines)
    new_line = f"gitlab_rails['{key}'] = {literal}"
    anchor = template_at if template_at is not None else last_mail_at
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    if anchor is None:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += newline
        lines.append(new_line + newline)
    else:
        if not lines[anchor].endswith("\n"):
            lines[anchor] += newline
        lines.insert(anchor + 1, new_line + newline)
    return "".join(lines)


class GitlabBackend(Backend):
    app = "gitlab"
    unsupported: t.ClassVar[dict[str, str]] = {
        "support_address": "GitLab has no support-address mail setting (use the help page settings in the Admin Area)",
        "discard_to_noreply": "this is an inbound-mail setting of the MTA; the role's Postfix part discards noreply mail",
    }
    password_comparison = "gitlab.rb stores smtp_password as a Ruby string literal; the stored value is compared with the requested one"
    password_keys = ("smtp_password",)
    #: the syntax check the module runs on the edited file where the program is installed (GitLab's own Ruby first)
    syntax_check = ("ruby", ("/opt/gitlab/embedded/bin",), ("-c",))

    def read(self, state: str) -> dict[str, t.Any]:
        keys = read_keys(state)

        def get(name: str) -> t.Any:
            value = keys.get(name)
            return None if isinstance(value, _Dynamic) else value

        out: dict[str, t.Any] = {}
        enabled = get("gitlab_email_enabled")
        out["enabled"] = bool(get("smtp_enable")) and enabled is not False
        out["host"] = get("smtp_address")
        port = get("smtp_port")
        out["port"] = int(port) if isinstance(port, str) and port.isdigit() else port
        if _ruby_true(get("smtp_tls")) or _ruby_true(get("smtp_ssl")):
            out["security"] = "tls"
        elif _ruby_true(get("smtp_enable_starttls_auto")):
            out["security"] = "starttls"
        else:
            out["security"] = "none"
        auth = get("smtp_authentication")
        out["auth"] = _RB_TO_AUTH.get(str(auth), str(auth)) if auth not in (None, False, "") else "none"
        out["username"] = get("smtp_user_name")
        pw = keys.get("smtp_password")
        # absent or nil: no password stored; not a literal (ENV[...]): unknown
        out["password"] = None if isinstance(pw, _Dynamic) else (pw or "")
        out["helo_domain"] = get("smtp_domain")
        out["from_address"] = get("gitlab_email_from")
        out["from_name"] = get("gitlab_email_display_name")
        out["reply_to"] = get("gitlab_email_reply_to")
        mode = get("smtp_openssl_verify_mode")
        out["validate_certs"] = None if mode is None else mode != "none"
        return out

    def _updates(self, desired: Desired, keys: t.Mapping[str, t.Any]) -> list[tuple[str, t.Any]]:
        v = desired.values
        updates: list[tuple[str, t.Any]] = []
        if "enabled" in v:
            updates.append(("smtp_enable", bool(v["enabled"])))
            updates.append(("gitlab_email_enabled", bool(v["enabled"])))
        if "host" in v:
            updates.append(("smtp_address", v["host"]))
        if "port" in v:
            updates.append(("smtp_port", int(v["port"])))
        if "username" in v:
            updates.append(("smtp_user_name", v["username"] or None))
        if "password" in v:
            pw = v["password"]
            if pw and ("'" in pw or '"' in pw):
                raise SettingsValidationError(
                    "password", "app=gitlab: smtp_password must not contain Ruby/YAML string delimiters (' or \"), as the GitLab docs warn"
                )
            updates.append(("smtp_password", pw or None))
        if "helo_domain" in v:
            updates.append(("smtp_domain", v["helo_domain"] or None))
        if "auth" in v:
            auth = v["auth"]
            updates.append(("smtp_authentication", _AUTH_TO_RB.get(auth)))
            if auth == "none":
                updates.append(("smtp_user_name", None))
                updates.append(("smtp_password", None))
        if "security" in v:
            security = v["security"]
            updates.append(("smtp_enable_starttls_auto", security == "starttls"))
            updates.append(("smtp_tls", security == "tls"))
            # The template renders smtp_ssl as :ssl, and GitLab's Mail treats it like :tls (implicit TLS; together with
            # enable_starttls_auto its patched Mail 2.8 refuses to deliver).  A leftover one is set false like smtp_tls.
            if security != "tls" and "smtp_ssl" in keys and _ruby_true(keys["smtp_ssl"]):
                updates.append(("smtp_ssl", False))
        if "validate_certs" in v:
            updates.append(("smtp_openssl_verify_mode", "peer" if v["validate_certs"] else "none"))
        if "from_address" in v:
            updates.append(("gitlab_email_from", v["from_address"]))
        if "from_name" in v:
            updates.append(("gitlab_email_display_name", v["from_name"]))
        if "reply_to" in v:
            updates.append(("gitlab_email_reply_to", v["reply_to"]))
        managed = {key for key, _value in updates} | ({"smtp_ssl"} if "security" in v else set())
        for key, value in desired.extra.items():
            option = f"extra.{key}"
            if not _EXTRA_KEY_RE.match(key):
                raise SettingsValidationError(option, "app=gitlab extra keys are gitlab_rails smtp_* or gitlab_email_* keys only")
            if key not in MAPPED_KEYS:
                raise SettingsValidationError(
                    option,
                    f"GitLab Omnibus does not map gitlab_rails['{key}'] to any mail setting (gitlab-ctl reconfigure would ignore it);"
                    f" the keys it maps are {', '.join(sorted(MAPPED_KEYS))}",
                )
            if key in managed:
                raise SettingsValidationError(option, f"is already set through the option {_COVERED.get(key, '?')}; do not set it in extra too")
            if key == "smtp_openssl_verify_mode" and value not in _VERIFY_MODES:
                raise SettingsValidationError(option, f"must be one of {', '.join(_VERIFY_MODES)}")
            if isinstance(value, (dict, list, float)):
                raise SettingsValidationError(option, "must be a string, an integer, a boolean or null")
            updates.append((key, value))
        return updates

    def render(self, state: str, desired: Desired) -> str:
        updates = self._updates(desired, read_keys(state))
        _refuse_multiline(state, {key for key, _value in updates})
        text = state
        for key, value in updates:
            text = set_key(text, key, value)
        return text

    def owned(self, state: str, desired: Desired) -> dict[str, t.Any]:
        """Every active gitlab_rails smtp_* and gitlab_email_* key; an expression is shown as ``{"expression": source}``."""
        return {key: {"expression": value.source} if isinstance(value, _Dynamic) else value for key, value in read_keys(state).items() if _is_mail_key(key)}

    def check(self, state: str) -> None:
        if "\0" in state:
            raise SettingsFormatError("gitlab.rb contains a NUL byte")

    def syntax_error(self, rc: int, stdout: str, stderr: str) -> str | None:
        """What ``ruby -c`` found, by line number only (Ruby quotes the offending source, which may hold a secret)."""
        if rc == 0:
            return None
        lines = sorted({int(number) for number in re.findall(r":(\d+):", stderr)})
        return "syntax error" + (f" at line {', '.join(str(n) for n in lines[:5])}" if lines else f" (exit code {rc})")

    def warnings(self, state: str) -> list[str]:
        keys = read_keys(state)
        out = [
            f"gitlab.rb: gitlab_rails['{key}'] is not a literal" + ("" if looks_secret(key) else f" ({value.source!r})") + "; it was left as it is"
            for key, value in keys.items()
            if isinstance(value, _Dynamic) and _is_mail_key(key)
        ]
        literal = {key: value for key, value in keys.items() if not isinstance(value, _Dynamic)}
        implicit = [key for key in ("smtp_tls", "smtp_ssl") if _ruby_true(literal.get(key))]
        if implicit and _ruby_true(literal.get("smtp_enable_starttls_auto")):
            out.append(
                f"gitlab.rb sets {' and '.join(f'gitlab_rails[{key!r}] = true' for key in implicit)} together with"
                " gitlab_rails['smtp_enable_starttls_auto'] = true: implicit TLS and STARTTLS contradict each other"
                " (gitlab-ctl reconfigure refuses smtp_tls with it, GitLab's Mail refuses to deliver with either); set security to choose one"
            )
        return out

    def change_warnings(self, before: str, after: str, desired: Desired) -> list[str]:
        old, new = read_keys(before), read_keys(after)
        security = desired.values.get("security")
        if security and _ruby_true(old.get("smtp_ssl")) and new.get("smtp_ssl") is False:
            return [
                f"gitlab.rb: gitlab_rails['smtp_ssl'] was set to false; GitLab treats smtp_ssl like smtp_tls (implicit TLS),"
                f" so the leftover value would have overridden security={security}"
            ]
        return []


_COVERED = {
    "smtp_enable": "enabled",
    "gitlab_email_enabled": "enabled",
    "smtp_address": "host",
    "smtp_port": "port",
    "smtp_user_name": "username",
    "smtp_password": "password",
    "smtp_domain": "helo_domain",
    "smtp_authentication": "auth",
    "smtp_enable_starttls_auto": "security",
    "smtp_tls": "security",
    "smtp_ssl": "security",
    "smtp_openssl_verify_mode": "validate_certs",
    "gitlab_email_from": "from_address",
    "gitlab_email_display_name": "from_name",
    "gitlab_email_reply_to": "reply_to",
}
