# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The reply-by-email DNS records of the GHES guide, as pure data.

Everything here is free of I/O: the expected record set is computed from the options, actual answers
(collected by ``_dns_client``) are compared with it per record and per nameserver, and the RFC 2136
operations that would converge the primary server are planned and rendered.

Names are handled as lower-case ASCII without the trailing dot; record values use zone-file
presentation format (``10 reply.example.com.`` for MX, the unquoted text for TXT).
"""

from __future__ import annotations

import binascii
import ipaddress
import math
import typing as t
from dataclasses import dataclass, field

from ansible_collections.mailops.notify.plugins.module_utils._text import forbidden_character, shown

__all__ = [
    "LIMITS",
    "STATUSES",
    "TSIG_ALGORITHMS",
    "Answer",
    "ConflictError",
    "DnsExpectError",
    "Expected",
    "InvalidOptionError",
    "Operation",
    "all_ok",
    "build_expected",
    "check_options",
    "compare",
    "evaluate",
    "format_server",
    "is_ip",
    "is_subdomain",
    "needed_queries",
    "normalize_name",
    "parse_server",
    "plan_updates",
    "presentation",
    "render_operation",
    "render_table",
    "render_zone_snippet",
    "split_addresses",
]

STATUSES = ("ok", "missing", "wrong", "unreachable")

TSIG_ALGORITHMS = ("hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512")

# The ranges of the numeric options (inclusive); ttl up to 2^31 - 1 (RFC 2181 8).
LIMITS = {
    "port": (1, 65535),
    "ttl": (0, 2147483647),
    "mx_priority": (0, 65535),
    "timeout": (0.1, 300),
    "wait_timeout": (0, 86400),
}

# Aggregation order: the first status in this tuple found on any nameserver wins.
_WORST_FIRST = ("wrong", "missing", "unreachable", "ok")

KIND_RRSET = "rrset"  # the module owns this RRset (name + type) and replaces it as a whole
KIND_HOST = "host"  # the name must resolve to an address; created only when it has none, never removed
KIND_TXT = "txt"  # the one TXT record starting with a prefix (v=spf1, v=DMARC1) must equal the value

_ADDRESS_TYPES = ("A", "AAAA")
_TXT_CHUNK = 255


class DnsExpectError(Exception):
    """Base class of the errors of this module util."""


class InvalidOptionError(DnsExpectError):
    """An option cannot describe a valid record set."""


class ConflictError(DnsExpectError):
    """The current DNS data conflicts with the expected records in a way the module must not fix."""


@dataclass(frozen=True)
class Expected:
    """One expected record (or record set) at one name."""

    key: str
    name: str
    rtype: str
    values: tuple[str, ...]
    ttl: int
    kind: str
    purpose: str
    txt_prefix: str = ""

    def queries(self) -> list[tuple[str, str]]:
        if self.kind == KIND_HOST:
            return [(self.name, "A"), (self.name, "AAAA"), (self.name, "CNAME")]
        if self.kind == KIND_TXT:
            return [(self.name, "TXT"), (self.name, "CNAME")]
        return [(self.name, self.rtype), (self.name, "CNAME")]


@dataclass(frozen=True)
class Answer:
    """What one server answered for one (name, type): values, TTL, or an error (server unusable)."""

    values: tuple[str, ...] = ()
    ttl: t.Optional[int] = None
    error: str = ""


@dataclass(frozen=True)
class Operation:
    """One RFC 2136 update operation.

    ``action`` is ``delete_rrset`` (delete the whole RRset name+type), ``delete`` (delete one record)
    or ``add``.
    """

    action: str
    name: str
    rtype: str
    value: str = ""
    ttl: int = 0


@dataclass
class _Result:
    status: str
    actual: list[str] = field(default_factory=list)
    ttl: t.Optional[int] = None
    message: str = ""


# ---------------------------------------------------------------------------------------------
# Names, addresses and servers


def _one_line(value: t.Any, option: str) -> None:
    """Refuse line breaks of every kind (all that str.splitlines() splits on), NUL and other control characters."""
    if isinstance(value, str):
        problem = forbidden_character(value)
        if problem is not None:
            raise InvalidOptionError(f"{option} {shown(value)} contains {problem}; it must be one line")


def normalize_name(name: str, option: str = "hostname") -> str:
    """Return ``name`` as lower-case ASCII without trailing dot, or raise InvalidOptionError."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidOptionError(f"{option} must be a non-empty DNS name")
    _one_line(name, option)
    text = name.strip()
    if text.endswith(".."):
        raise InvalidOptionError(f"{option} {name!r} has an empty label or a label longer than 63 characters")
    text = text.rstrip(".")
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        raise InvalidOptionError(f"{option} must be a DNS name, not an IP address: {text!r}")
    try:
        text = text.encode("idna").decode("ascii") if not text.isascii() else text
    except UnicodeError as exc:
        raise InvalidOptionError(f"{option} {name!r} is not a valid DNS name: {exc}") from exc
    text = text.lower()
    if len(text) > 253:
        raise InvalidOptionError(f"{option} {name!r} is longer than 253 characters")
    for label in text.split("."):
        if not label or len(label) > 63:
            raise InvalidOptionError(f"{option} {name!r} has an empty label or a label longer than 63 characters")
        if not all(c.isalnum() or c in "-_" for c in label) or label.startswith("-") or label.endswith("-"):
            raise InvalidOptionError(f"{option} {name!r} is not a valid host name (label {label!r})")
    return text


def is_subdomain(name: str, zone: str) -> bool:
    """True if ``name`` is ``zone`` or below it (both normalized)."""
    return name == zone or name.endswith("." + zone)


def split_addresses(addresses: t.Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split and normalize addresses into (IPv4, IPv6); raise InvalidOptionError on anything else."""
    v4: list[str] = []
    v6: list[str] = []
    for raw in addresses:
        _one_line(str(raw), "address")
        try:
            ip = ipaddress.ip_address(str(raw).strip())
        except ValueError as exc:
            raise InvalidOptionError(f"address {raw!r} is not an IPv4 or IPv6 address") from exc
        target = v4 if ip.version == 4 else v6
        if str(ip) not in target:
            target.append(str(ip))
    if not v4 and not v6:
        raise InvalidOptionError("address must contain at least one IPv4 or IPv6 address")
    return tuple(sorted(v4, key=ipaddress.ip_address)), tuple(sorted(v6, key=ipaddress.ip_address))


def parse_server(spec: str, default_port: int, option: str = "server") -> tuple[str, int]:
    """Parse ``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address into (host, port).

    The host must be an IP address or a valid DNS name, so that nothing is looked up for a malformed one.
    """
    _one_line(str(spec), option)
    text = str(spec).strip()
    if not text:
        raise InvalidOptionError(f"{option}: a nameserver or server entry is empty")
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise InvalidOptionError(f"server {spec!r}: missing ']'")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise InvalidOptionError(f"server {spec!r}: expected ':port' after ']'")
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not host:
        raise InvalidOptionError(f"{option} {spec!r}: empty host")
    port = default_port
    if port_text:
        if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise InvalidOptionError(f"{option} {spec!r}: port must be a number between 1 and 65535")
        port = int(port_text)
    if is_ip(host):
        return host, port
    normalize_name(host, f"{option} {spec!r}: host")
    return host.rstrip("."), port


def format_server(host: str, port: int) -> str:
    """Inverse of parse_server, always with the port."""
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def is_ip(text: str) -> bool:
    """Whether ``text`` is an IPv4 or IPv6 address (not a name)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# The expected set


def _mx(priority: int, target: str) -> str:
    return f"{priority} {target}."


def _txt_spec(spec: t.Optional[t.Mapping[str, t.Any]], option: str, default_domain: str, prefix: str) -> t.Optional[tuple[str, str]]:
    if not spec:
        return None
    value = spec.get("value")
    if not isinstance(value, str) or not value.strip():
        raise InvalidOptionError(f"{option}.value must be a non-empty string")
    _one_line(value, f"{option}.value")
    value = " ".join(value.split())
    if not value.lower().startswith(prefix.lower()):
        raise InvalidOptionError(f"{option}.value must start with {prefix!r}, got {value!r}")
    if len(value.encode("utf-8")) > 4000:
        raise InvalidOptionError(f"{option}.value is too long")
    if '"' in value or "\\" in value:
        raise InvalidOptionError(f"{option}.value must not contain quotes or backslashes")
    domain = normalize_name(spec.get("domain") or default_domain, f"{option}.domain")
    return domain, value


def _check_number(params: t.Mapping[str, t.Any], option: str, *, integer: bool) -> None:
    value = params.get(option)
    if value is None:
        return
    low, high = LIMITS[option]
    wrong_type = isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int))
    if wrong_type or not math.isfinite(value) or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise InvalidOptionError(f"{option} must be {kind} from {low} to {high}, got {value!r}")


def _check_key_name(name: t.Any) -> None:
    """A TSIG key name is a domain name: labels of letters, digits, '-' and '_', 1 to 63 characters, 255 in all."""
    if not isinstance(name, str) or not name.strip(". "):
        raise InvalidOptionError("key_name must be a non-empty key name")
    _one_line(name, "key_name")
    text = name.strip()
    text = text[:-1] if text.endswith(".") else text
    if len(text) > 253:
        raise InvalidOptionError("key_name is longer than 253 characters")
    for label in text.split("."):
        if not 0 < len(label) <= 63:
            raise InvalidOptionError(f"key_name {shown(name)} has an empty label or a label longer than 63 characters")
        if not label.isascii() or not all(c.isalnum() or c in "-_" for c in label):
            raise InvalidOptionError(f"key_name {shown(name)}: a label may hold only letters, digits, '-' and '_'")


def _check_key_secret(secret: t.Any) -> None:
    """The TSIG secret must be base64 (the secret itself is never shown)."""
    if not isinstance(secret, str) or not secret:
        raise InvalidOptionError("key_secret must be the non-empty base64 secret of the TSIG key")
    if forbidden_character(secret) is not None or not secret.isascii():
        raise InvalidOptionError("key_secret is not valid base64: it contains a line break, a control character or a non-ASCII character")
    try:
        binascii.a2b_base64(secret.encode("ascii"), strict_mode=True)
    except (binascii.Error, ValueError):
        raise InvalidOptionError("key_secret is not valid base64 (letters, digits, '+' and '/', padded with '=' to a multiple of 4)") from None


def check_options(params: t.Mapping[str, t.Any]) -> None:
    """Check every option of dns_mail_records before anything is sent or looked up; raise InvalidOptionError naming it.

    The record set (hostname, address, reply_record, ttl, mx_priority, spf, dmarc) is checked by :func:`build_expected`
    as well; here come the numbers, the names of the zone and servers, and the TSIG key.
    """
    for option in ("port", "ttl", "mx_priority", "wait_timeout"):
        _check_number(params, option, integer=True)
    _check_number(params, "timeout", integer=False)
    if params.get("state", "present") not in ("present", "absent", "verify"):
        raise InvalidOptionError(f"state must be present, absent or verify, got {params.get('state')!r}")
    normalize_name(params.get("hostname"), "hostname")
    if params.get("zone") is not None:
        normalize_name(params["zone"], "zone")
    port = params.get("port") or 53
    if params.get("server") is not None:
        parse_server(params["server"], port, "server")
    for index, spec in enumerate(params.get("nameservers") or []):
        parse_server(spec, port, f"nameservers[{index}]")
    key_name, key_secret = params.get("key_name"), params.get("key_secret")
    if (key_name is None) != (key_secret is None):
        raise InvalidOptionError("key_name and key_secret must be given together")
    if key_name is not None:
        _check_key_name(key_name)
        _check_key_secret(key_secret)
    algorithm = params.get("key_algorithm") or "hmac-sha256"
    if algorithm not in TSIG_ALGORITHMS:
        raise InvalidOptionError(f"key_algorithm must be one of {', '.join(TSIG_ALGORITHMS)}, got {algorithm!r}")


def build_expected(
    hostname: str,
    addresses: t.Iterable[str],
    *,
    reply_record: str = "a",
    ttl: int = 3600,
    mx_priority: int = 10,
    spf: t.Optional[t.Mapping[str, t.Any]] = None,
    dmarc: t.Optional[t.Mapping[str, t.Any]] = None,
) -> list[Expected]:
    """Compute the expected records of the guide from the options.

    * ``reply.<hostname>`` A/AAAA (always: an MX target must own address records; with
      ``reply_record=wildcard`` a wildcard does not cover a name that owns the MX record, RFC 4592),
    * ``*.<hostname>`` A/AAAA when ``reply_record=wildcard``,
    * MX ``reply.<hostname>`` -> ``reply.<hostname>``,
    * MX ``noreply.<hostname>`` -> ``<hostname>``,
    * ``<hostname>`` resolving to an address (the target of the noreply MX),
    * optionally the SPF TXT record of ``spf.domain`` and the DMARC TXT record of ``_dmarc.<dmarc.domain>``.
    """
    host = normalize_name(hostname)
    v4, v6 = split_addresses(addresses)
    if reply_record not in ("a", "wildcard"):
        raise InvalidOptionError(f"reply_record must be 'a' or 'wildcard', got {reply_record!r}")
    _check_number({"ttl": ttl}, "ttl", integer=True)
    _check_number({"mx_priority": mx_priority}, "mx_priority", integer=True)
    reply = f"reply.{host}"
    noreply = f"noreply.{host}"
    for derived in (reply, noreply):
        normalize_name(derived)
    by_type = (("A", v4), ("AAAA", v6))
    result: list[Expected] = []
    if reply_record == "wildcard":
        wildcard = f"*.{host}"
        for rtype, values in by_type:
            if values:
                result.append(
                    Expected(
                        key=f"wildcard_{rtype.lower()}",
                        name=wildcard,
                        rtype=rtype,
                        values=values,
                        ttl=ttl,
                        kind=KIND_RRSET,
                        purpose=f"Wildcard address of every name below {host}",
                    )
                )
    for rtype, values in by_type:
        if values:
            purpose = f"Address of the reply domain {reply} (MX target)"
            if reply_record == "wildcard":
                purpose += "; explicit because the name owns an MX record, which hides the wildcard"
            result.append(Expected(key=f"reply_{rtype.lower()}", name=reply, rtype=rtype, values=values, ttl=ttl, kind=KIND_RRSET, purpose=purpose))
    result.append(
        Expected(
            key="reply_mx",
            name=reply,
            rtype="MX",
            values=(_mx(mx_priority, reply),),
            ttl=ttl,
            kind=KIND_RRSET,
            purpose=f"Mail for {reply} (reply-by-email) is delivered to the instance",
        )
    )
    result.append(
        Expected(
            key="noreply_mx",
            name=noreply,
            rtype="MX",
            values=(_mx(mx_priority, host),),
            ttl=ttl,
            kind=KIND_RRSET,
            purpose=f"Replies to the cc address at {noreply} are routed to {host}",
        )
    )
    result.append(
        Expected(
            key="host_address",
            name=host,
            rtype="A/AAAA",
            values=v4 + v6,
            ttl=ttl,
            kind=KIND_HOST,
            purpose=f"{host} resolves to an address (target of the noreply MX; must not be a CNAME)",
        )
    )
    spf_spec = _txt_spec(spf, "spf", host, "v=spf1")
    if spf_spec:
        result.append(
            Expected(
                key="spf",
                name=spf_spec[0],
                rtype="TXT",
                values=(spf_spec[1],),
                ttl=ttl,
                kind=KIND_TXT,
                purpose=f"SPF policy of the sender domain {spf_spec[0]}",
                txt_prefix="v=spf1",
            )
        )
    dmarc_spec = _txt_spec(dmarc, "dmarc", host, "v=DMARC1")
    if dmarc_spec:
        result.append(
            Expected(
                key="dmarc",
                name=f"_dmarc.{dmarc_spec[0]}",
                rtype="TXT",
                values=(dmarc_spec[1],),
                ttl=ttl,
                kind=KIND_TXT,
                purpose=f"DMARC policy of the sender domain {dmarc_spec[0]}",
                txt_prefix="v=DMARC1",
            )
        )
    return result


def needed_queries(expected: t.Iterable[Expected]) -> list[tuple[str, str]]:
    """The (name, type) pairs to ask each server, without duplicates, in a stable order."""
    seen: list[tuple[str, str]] = []
    for item in expected:
        for query in item.queries():
            if query not in seen:
                seen.append(query)
    return seen


# ---------------------------------------------------------------------------------------------
# Comparison


def _txt_matching(values: t.Iterable[str], prefix: str) -> list[str]:
    return [v for v in values if v.lower().startswith(prefix.lower())]


def _norm_values(rtype: str, values: t.Iterable[str]) -> set[str]:
    if rtype in _ADDRESS_TYPES:
        out = set()
        for v in values:
            try:
                out.add(str(ipaddress.ip_address(v)))
            except ValueError:
                out.add(v)
        return out
    if rtype == "MX":
        return {v.lower() for v in values}
    return set(values)


def compare(item: Expected, answers: t.Mapping[tuple[str, str], Answer], state: str = "present") -> _Result:
    """Compare one expected item with the answers of one server."""
    errors = [answers[q].error for q in item.queries() if q in answers and answers[q].error]
    missing_queries = [q for q in item.queries() if q not in answers]
    if errors or missing_queries:
        return _Result("unreachable", message=errors[0] if errors else "not queried")
    cname = answers[(item.name, "CNAME")]
    if item.kind == KIND_HOST:
        a, aaaa = answers[(item.name, "A")], answers[(item.name, "AAAA")]
        actual = list(a.values) + list(aaaa.values)
        ttl = a.ttl if a.values else aaaa.ttl
        if cname.values:
            return _Result(
                "wrong", [f"CNAME {v}" for v in cname.values], cname.ttl, f"{item.name} is a CNAME; an MX target must own its address records (RFC 2181 10.3)"
            )
        if not actual:
            return _Result("missing", [], None, f"{item.name} has no A or AAAA record")
        message = ""
        if not set(item.values) & _norm_values("A", actual):
            message = f"{item.name} resolves, but not to {', '.join(item.values)}"
        return _Result("ok", actual, ttl, message)
    if item.kind == KIND_TXT:
        answer = answers[(item.name, "TXT")]
        matching = _txt_matching(answer.values, item.txt_prefix)
        if state == "absent":
            present = [v for v in matching if v == item.values[0]]
            return _Result("wrong" if present else "ok", matching, answer.ttl, "still present" if present else "")
        if cname.values:
            return _Result("wrong", [f"CNAME {v}" for v in cname.values], cname.ttl, f"{item.name} is a CNAME")
        if not matching:
            return _Result("missing", [], None, f"no TXT record starting with {item.txt_prefix}")
        if matching != [item.values[0]]:
            why = f"{len(matching)} {item.txt_prefix} records (a domain must have exactly one)" if len(matching) > 1 else "different value"
            return _Result("wrong", matching, answer.ttl, why)
        return _Result("ok", matching, answer.ttl)
    answer = answers[(item.name, item.rtype)]
    actual = list(answer.values)
    if state == "absent":
        present = sorted(_norm_values(item.rtype, actual) & _norm_values(item.rtype, item.values))
        return _Result("wrong" if present else "ok", actual, answer.ttl, f"still present: {', '.join(present)}" if present else "")
    if cname.values:
        return _Result("wrong", [f"CNAME {v}" for v in cname.values], cname.ttl, f"{item.name} is a CNAME; it cannot own {item.rtype} records")
    if not actual:
        return _Result("missing", [], None, f"no {item.rtype} record")
    have, want = _norm_values(item.rtype, actual), _norm_values(item.rtype, item.values)
    if have != want:
        parts = []
        if want - have:
            parts.append(f"missing {', '.join(sorted(want - have))}")
        if have - want:
            parts.append(f"unexpected {', '.join(sorted(have - want))}")
        return _Result("wrong", actual, answer.ttl, "; ".join(parts))
    if answer.ttl is not None and answer.ttl != item.ttl:
        return _Result("wrong", actual, answer.ttl, f"TTL {answer.ttl}, expected {item.ttl}")
    return _Result("ok", actual, answer.ttl)


def _aggregate(statuses: t.Iterable[str]) -> str:
    statuses = set(statuses)
    for status in _WORST_FIRST:
        if status in statuses:
            return status
    return "ok"


def evaluate(
    expected: t.Sequence[Expected],
    snapshots: t.Mapping[str, t.Mapping[tuple[str, str], Answer]],
    state: str = "present",
) -> list[dict[str, t.Any]]:
    """Compare every expected item with every server's answers.

    ``snapshots`` maps a server label (``host:port``) to its answers. Returns one dict per record with
    the aggregated status and the per-nameserver details.
    """
    report = []
    for item in expected:
        if state == "absent" and item.kind == KIND_HOST:
            continue
        per_server = []
        for server, answers in snapshots.items():
            res = compare(item, answers, state)
            per_server.append({"nameserver": server, "status": res.status, "actual": res.actual, "ttl": res.ttl, "message": res.message})
        report.append(
            {
                "key": item.key,
                "name": item.name,
                "type": item.rtype,
                "purpose": item.purpose,
                "expected": [] if state == "absent" else list(item.values),
                "managed": list(item.values),
                "ttl": item.ttl,
                "status": _aggregate(entry["status"] for entry in per_server) if per_server else "unreachable",
                "nameservers": per_server,
            }
        )
    return report


def all_ok(report: t.Iterable[t.Mapping[str, t.Any]]) -> bool:
    return all(entry["status"] == "ok" for entry in report)


# ---------------------------------------------------------------------------------------------
# Update planning


def plan_updates(
    expected: t.Sequence[Expected],
    answers: t.Mapping[tuple[str, str], Answer],
    state: str,
) -> list[Operation]:
    """Plan the RFC 2136 operations that converge the primary whose answers are given.

    ``present``: owned RRsets that are missing or wrong are replaced; ``<hostname>`` gets the
    addresses only when it has none; the SPF/DMARC TXT record with the prefix is replaced, other TXT
    records are kept. Whenever a name is touched, all expected address records at that name are (re-)added:
    adding an existing record is a no-op, and it makes sure that an answer synthesized from a wildcard
    becomes an explicit record before the name starts to own an MX record (RFC 4592).

    ``absent``: only the exact records this module would create are deleted; ``<hostname>``'s own
    addresses are never deleted.

    Raises ConflictError when the data cannot be fixed safely (a CNAME at a name that needs other
    records) and DnsExpectError when an answer is an error.
    """
    if state not in ("present", "absent"):
        raise DnsExpectError(f"cannot plan updates for state {state!r}")
    ops_addr: list[Operation] = []
    ops_mx: list[Operation] = []
    ops_txt: list[Operation] = []
    touched: set[str] = set()
    for item in expected:
        res = compare(item, answers, state)
        if res.status == "unreachable":
            raise DnsExpectError(f"cannot read {item.name} {item.rtype} from the update server: {res.message}")
        bucket = ops_mx if item.rtype == "MX" else ops_txt if item.kind == KIND_TXT else ops_addr
        if state == "absent":
            if res.status == "ok" or item.kind == KIND_HOST:
                continue
            if item.kind == KIND_TXT:
                bucket.append(Operation("delete", item.name, "TXT", item.values[0]))
                continue
            present = _norm_values(item.rtype, answers[(item.name, item.rtype)].values)
            for value in item.values:
                if _norm_values(item.rtype, [value]) & present:
                    bucket.append(Operation("delete", item.name, item.rtype, value))
            continue
        if res.status == "ok":
            continue
        if answers[(item.name, "CNAME")].values:
            raise ConflictError(
                f"{item.name} is a CNAME to {', '.join(answers[(item.name, 'CNAME')].values)}: it cannot also own "
                f"{item.rtype} records, and an MX target must not be an alias (RFC 2181 10.3). Remove the CNAME first."
            )
        touched.add(item.name)
        if item.kind == KIND_HOST:
            v4 = tuple(v for v in item.values if ":" not in v)
            v6 = tuple(v for v in item.values if ":" in v)
            for rtype, values in (("A", v4), ("AAAA", v6)):
                for value in values:
                    bucket.append(Operation("add", item.name, rtype, value, item.ttl))
        elif item.kind == KIND_TXT:
            current = _txt_matching(answers[(item.name, "TXT")].values, item.txt_prefix)
            for value in current:
                if value != item.values[0]:
                    bucket.append(Operation("delete", item.name, "TXT", value))
            bucket.append(Operation("add", item.name, "TXT", item.values[0], item.ttl))
        else:
            if answers[(item.name, item.rtype)].values:
                bucket.append(Operation("delete_rrset", item.name, item.rtype))
            for value in item.values:
                bucket.append(Operation("add", item.name, item.rtype, value, item.ttl))
    if state == "present" and touched:
        for item in expected:
            if item.name in touched and item.kind == KIND_RRSET and item.rtype in _ADDRESS_TYPES:
                for value in item.values:
                    op = Operation("add", item.name, item.rtype, value, item.ttl)
                    if op not in ops_addr:
                        ops_addr.append(op)
    if state == "absent":
        # delete the MX records before the addresses they point to
        return ops_mx + ops_txt + ops_addr
    # addresses first: BIND refuses an MX whose in-zone target has no address record yet
    return ops_addr + ops_mx + ops_txt


# ---------------------------------------------------------------------------------------------
# Rendering


def _quote_txt(value: str) -> str:
    raw = value.encode("utf-8")
    chunks = [raw[i : i + _TXT_CHUNK] for i in range(0, len(raw), _TXT_CHUNK)] or [b""]
    return " ".join('"' + chunk.decode("utf-8", errors="replace") + '"' for chunk in chunks)


def presentation(rtype: str, value: str) -> str:
    """A record value in zone-file presentation format (TXT values are quoted and split in 255-byte strings)."""
    return _quote_txt(value) if rtype == "TXT" else value


def render_operation(op: Operation) -> str:
    """Render one operation in nsupdate(1) syntax."""
    if op.action == "delete_rrset":
        return f"update delete {op.name}. IN {op.rtype}"
    if op.action == "delete":
        return f"update delete {op.name}. IN {op.rtype} {presentation(op.rtype, op.value)}"
    if op.action == "add":
        return f"update add {op.name}. {op.ttl} IN {op.rtype} {presentation(op.rtype, op.value)}"
    raise AssertionError(f"unknown operation {op.action!r}")  # pragma: no cover


def render_zone_snippet(expected: t.Sequence[Expected], *, hostname: str = "") -> str:
    """Render the expected records in zone-file syntax, with absolute names."""
    lines: list[tuple[str, str, str, str]] = []
    for item in expected:
        if item.kind == KIND_HOST:
            for value in item.values:
                lines.append((f"{item.name}.", str(item.ttl), "AAAA" if ":" in value else "A", f"{value}  ; only if {item.name} has no address yet"))
        else:
            for value in item.values:
                lines.append((f"{item.name}.", str(item.ttl), item.rtype, presentation(item.rtype, value)))
    width_name = max((len(line[0]) for line in lines), default=0)
    width_ttl = max((len(line[1]) for line in lines), default=0)
    header = "; reply-by-email records"
    if hostname:
        header += f" for {hostname}"
    out = [header + " (mailops.notify.dns_mail_records)"]
    for name, ttl, rtype, value in lines:
        out.append(f"{name:<{width_name}} {ttl:>{width_ttl}} IN {rtype:<5} {value}".rstrip())
    return "\n".join(out) + "\n"


def render_table(report: t.Sequence[t.Mapping[str, t.Any]]) -> str:
    """A plain-text table: one row per record, one column per nameserver."""
    servers: list[str] = []
    for entry in report:
        for ns in entry["nameservers"]:
            if ns["nameserver"] not in servers:
                servers.append(ns["nameserver"])
    header = ["record", "type", *servers]
    rows = [header]
    for entry in report:
        status = {ns["nameserver"]: ns["status"] for ns in entry["nameservers"]}
        rows.append([entry["name"], entry["type"]] + [status.get(s, "-") for s in servers])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows)
