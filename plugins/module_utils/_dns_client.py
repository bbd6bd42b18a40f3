# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""dnspython adapter for dns_mail_records: direct queries to one nameserver, zone and NS discovery,
RFC 2136 updates signed with TSIG.

The import of dnspython is guarded: check ``HAS_DNSPYTHON`` (and report ``DNSPYTHON_IMPORT_ERROR``)
before creating a ``DnsClient``.
"""

from __future__ import annotations

import binascii
import socket
import time
import traceback
import typing as t
from dataclasses import dataclass

from ansible_collections.mailops.notify.plugins.module_utils._dns_expect import (
    TSIG_ALGORITHMS,
    Answer,
    DnsExpectError,
    InvalidOptionError,
    Operation,
    all_ok,
    build_expected,
    check_options,
    evaluate,
    format_server,
    is_ip,
    is_subdomain,
    needed_queries,
    normalize_name,
    parse_server,
    plan_updates,
    presentation,
    render_operation,
    render_table,
    render_zone_snippet,
)

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.resolver
    import dns.tsig
    import dns.tsigkeyring
    import dns.update
    import dns.version
except ImportError:
    HAS_DNSPYTHON = False
    DNSPYTHON_IMPORT_ERROR: t.Optional[str] = traceback.format_exc()
else:
    HAS_DNSPYTHON = True
    DNSPYTHON_IMPORT_ERROR = None

__all__ = [
    "DNSPYTHON_IMPORT_ERROR",
    "DNSPYTHON_REQUIREMENT",
    "HAS_DNSPYTHON",
    "TSIG_ALGORITHMS",
    "DnsClient",
    "DnsClientError",
    "DnsUpdateError",
    "Nameserver",
    "RecordsFailure",
    "TsigError",
    "run",
]

DNSPYTHON_REQUIREMENT = "dnspython >= 2.0.0"

_RCODE_HINTS = {
    "REFUSED": (
        "the server refused the update: the key is not allowed to update this zone (allow-update / update-policy), "
        "or the update failed a server check (BIND refuses an MX record whose in-zone target has no address record); "
        "see the server log"
    ),
    "NOTAUTH": "the server is not authoritative for the zone, or it did not accept the TSIG key",
    "NOTZONE": "a name in the update is outside the zone",
    "SERVFAIL": "the server failed to apply the update",
}


class DnsClientError(DnsExpectError):
    """A DNS operation failed."""


class DnsUpdateError(DnsClientError):
    """The RFC 2136 update was not applied."""


class TsigError(DnsUpdateError):
    """The server rejected the TSIG key or signature; nothing was changed."""


@dataclass(frozen=True)
class Nameserver:
    """A server to ask: ``name`` is what the user or the NS record said, ``address`` is an IP address."""

    name: str
    address: str
    port: int

    @property
    def label(self) -> str:
        if self.name == self.address:
            return format_server(self.address, self.port)
        return f"{self.name} ({format_server(self.address, self.port)})"


def _abs(name: str) -> dns.name.Name:
    return dns.name.from_text(name.rstrip(".") + ".")


class DnsClient:
    """Queries and updates through dnspython. ``timeout`` is per query, in seconds."""

    def __init__(self, timeout: float = 5.0) -> None:
        if not HAS_DNSPYTHON:
            raise DnsClientError(f"{DNSPYTHON_REQUIREMENT} is required")  # pragma: no cover
        self.timeout = timeout

    # -- queries ---------------------------------------------------------------------------------

    def _raw_query(self, server: Nameserver, name: str, rtype: str) -> dns.message.Message:
        query = dns.message.make_query(_abs(name), rtype)
        response = dns.query.udp(query, server.address, port=server.port, timeout=self.timeout)
        if response.flags & dns.flags.TC:
            response = dns.query.tcp(query, server.address, port=server.port, timeout=self.timeout)
        return response

    def query(self, server: Nameserver, name: str, rtype: str) -> Answer:
        """Ask ``server`` directly for (name, rtype). Errors are returned in the Answer, never raised."""
        try:
            response = self._raw_query(server, name, rtype)
        except dns.exception.Timeout:
            return Answer(error=f"no answer from {server.label} within {self.timeout:g}s")
        except (OSError, dns.exception.DNSException) as exc:
            return Answer(error=f"{server.label}: {exc}")
        rcode = response.rcode()
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return Answer(error=f"{server.label} answered {dns.rcode.to_text(rcode)} for {name} {rtype}")
        qname = _abs(name)
        rdtype = dns.rdatatype.from_text(rtype)
        for rrset in response.answer:
            if rrset.name == qname and rrset.rdtype == rdtype:
                return Answer(values=tuple(sorted(self._value(rtype, rd) for rd in rrset)), ttl=rrset.ttl)
        return Answer()

    @staticmethod
    def _value(rtype: str, rdata: t.Any) -> str:
        if rtype == "TXT":
            return b"".join(rdata.strings).decode("utf-8", errors="replace")
        if rtype == "MX":
            return f"{rdata.preference} {rdata.exchange.to_text().lower()}"
        if rtype == "CNAME":
            return rdata.target.to_text().lower()
        return rdata.to_text()

    def snapshot(self, server: Nameserver, queries: t.Iterable[tuple[str, str]]) -> dict[tuple[str, str], Answer]:
        """Ask ``server`` every query. After a network error, the remaining queries get the same error."""
        result: dict[tuple[str, str], Answer] = {}
        down = ""
        for name, rtype in queries:
            if down:
                result[(name, rtype)] = Answer(error=down)
                continue
            answer = self.query(server, name, rtype)
            if answer.error and " answered " not in answer.error:
                down = answer.error
            result[(name, rtype)] = answer
        return result

    # -- discovery -------------------------------------------------------------------------------

    def _system_resolver(self) -> dns.resolver.Resolver:
        resolver = dns.resolver.Resolver()
        resolver.lifetime = self.timeout
        return resolver

    def resolve_address(self, host: str, port: int, via: t.Optional[Nameserver] = None) -> Nameserver:
        """Turn a host name into a Nameserver (first IPv4 address, else the first IPv6 address)."""
        if is_ip(host):
            return Nameserver(host, host, port)
        if via is not None:
            for rtype in ("A", "AAAA"):
                answer = self.query(via, host, rtype)
                if answer.values:
                    return Nameserver(host.rstrip(".").lower(), answer.values[0], port)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except (OSError, UnicodeError) as exc:
            raise DnsClientError(f"cannot resolve the address of {host}: {exc}") from exc
        addresses = [info[4][0] for info in infos]
        v4 = [a for a in addresses if ":" not in a]
        return Nameserver(host.rstrip(".").lower(), (v4 or addresses)[0], port)

    def _records(self, name: str, rtype: str, via: t.Optional[Nameserver]) -> tuple[str, list[t.Any]]:
        """Return (owner, rdatas) of (name, rtype) through ``via`` or the system resolver."""
        if via is None:
            try:
                answer = self._system_resolver().resolve(_abs(name), rtype)
            except dns.exception.DNSException as exc:
                raise DnsClientError(f"cannot resolve {name} {rtype}: {exc}") from exc
            return name, list(answer)
        try:
            response = self._raw_query(via, name, rtype)
        except (OSError, dns.exception.DNSException) as exc:
            raise DnsClientError(f"cannot ask {via.label} for {name} {rtype}: {exc or 'timeout'}") from exc
        if response.rcode() != dns.rcode.NOERROR:
            raise DnsClientError(f"{via.label} answered {dns.rcode.to_text(response.rcode())} for {name} {rtype}")
        rdtype = dns.rdatatype.from_text(rtype)
        for rrset in response.answer:
            if rrset.rdtype == rdtype and rrset.name == _abs(name):
                return name, list(rrset)
        raise DnsClientError(f"{via.label} has no {rtype} record for {name}")

    def find_zone(self, name: str, via: t.Optional[Nameserver] = None) -> str:
        """The zone that contains ``name``, from the SOA record (through ``via`` or the system resolver)."""
        if via is None:
            try:
                zone = dns.resolver.zone_for_name(_abs(name), resolver=self._system_resolver())
            except dns.exception.DNSException as exc:
                raise DnsClientError(f"cannot find the zone of {name} from its SOA record: {exc}; set zone") from exc
            return zone.to_text().rstrip(".").lower()
        candidate = _abs(name)
        while True:
            try:
                response = self._raw_query(via, candidate.to_text(), "SOA")
            except (OSError, dns.exception.DNSException) as exc:
                raise DnsClientError(f"cannot find the zone of {name}: {via.label}: {exc or 'timeout'}") from exc
            if response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                for rrset in list(response.answer) + list(response.authority):
                    if rrset.rdtype == dns.rdatatype.SOA:
                        return rrset.name.to_text().rstrip(".").lower()
            if candidate == dns.name.root:
                raise DnsClientError(f"{via.label} is not authoritative for any zone containing {name}; set zone")
            candidate = candidate.parent()

    def authoritative_nameservers(self, zone: str, port: int, via: t.Optional[Nameserver] = None) -> list[Nameserver]:
        """The zone's NS records, each resolved to one address."""
        _owner, records = self._records(zone, "NS", via)
        names = sorted({rd.target.to_text().rstrip(".").lower() for rd in records})
        if not names:
            raise DnsClientError(f"the zone {zone} has no NS records")  # pragma: no cover
        return [self.resolve_address(ns, port, via) for ns in names]

    def primary_server(self, zone: str, port: int, via: t.Optional[Nameserver] = None) -> Nameserver:
        """The primary server of the zone, from the MNAME field of its SOA record."""
        _owner, records = self._records(zone, "SOA", via)
        return self.resolve_address(records[0].mname.to_text().rstrip("."), port, via)

    # -- updates ---------------------------------------------------------------------------------

    def send_update(
        self,
        zone: str,
        operations: t.Sequence[Operation],
        server: Nameserver,
        *,
        key_name: t.Optional[str] = None,
        key_secret: t.Optional[str] = None,
        key_algorithm: str = "hmac-sha256",
    ) -> str:
        """Send one RFC 2136 update message with all operations (atomic on the server). Returns the rcode."""
        kwargs: dict[str, t.Any] = {}
        if key_name:
            if key_algorithm not in TSIG_ALGORITHMS:
                raise DnsUpdateError(f"unsupported key_algorithm {key_algorithm!r}")
            try:
                keyring = dns.tsigkeyring.from_text({key_name: (key_algorithm, key_secret or "")})
            except (binascii.Error, ValueError, dns.exception.DNSException) as exc:
                raise TsigError(f"key_secret of TSIG key {key_name!r} is not valid base64 ({type(exc).__name__})") from None
            kwargs = {"keyring": keyring, "keyname": dns.name.from_text(key_name)}
        message = dns.update.UpdateMessage(_abs(zone), **kwargs)
        for op in operations:
            name = _abs(op.name)
            if op.action == "delete_rrset":
                message.delete(name, op.rtype)
                continue
            rdata = dns.rdata.from_text(dns.rdataclass.IN, op.rtype, presentation(op.rtype, op.value))
            if op.action == "delete":
                message.delete(name, rdata)
            elif op.action == "add":
                message.add(name, op.ttl, rdata)
            else:
                raise AssertionError(f"unknown operation {op.action!r}")  # pragma: no cover
        try:
            response = dns.query.tcp(message, server.address, port=server.port, timeout=self.timeout)
        except dns.tsig.PeerBadKey:
            raise TsigError(f"{server.label} does not know the TSIG key {key_name!r} (BADKEY); nothing was changed") from None
        except dns.tsig.PeerBadSignature:
            raise TsigError(
                f"{server.label} rejected the signature made with TSIG key {key_name!r} (BADSIG): "
                f"wrong key_secret or key_algorithm ({key_algorithm}); nothing was changed"
            ) from None
        except dns.tsig.PeerBadTime:
            raise TsigError(f"{server.label} rejected the TSIG time (BADTIME): check the clocks; nothing was changed") from None
        except dns.tsig.PeerError as exc:
            raise TsigError(f"{server.label} rejected the TSIG key {key_name!r}: {exc}; nothing was changed") from None
        except dns.exception.Timeout:
            raise DnsUpdateError(f"no answer from the update server {server.label} within {self.timeout:g}s") from None
        except (OSError, dns.exception.DNSException) as exc:
            raise DnsUpdateError(f"cannot send the update to {server.label}: {exc}") from None
        rcode = dns.rcode.to_text(response.rcode())
        if rcode != "NOERROR":
            hint = _RCODE_HINTS.get(rcode, "the update was not applied")
            raise DnsUpdateError(f"{server.label} answered {rcode} to the update of zone {zone}: {hint}")
        return rcode


# ---------------------------------------------------------------------------------------------
# The whole run of dns_mail_records, on top of a DnsClient (or anything with the same methods)


class RecordsFailure(DnsClientError):
    """The run finished with a result that is a failure (mismatch in verify, wait timed out)."""

    def __init__(self, msg: str, result: dict[str, t.Any]) -> None:
        super().__init__(msg)
        self.result = result


def _server_from_spec(client: t.Any, spec: str, port: int, via: t.Optional[Nameserver] = None, option: str = "server") -> Nameserver:
    host, real_port = parse_server(spec, port, option)
    return client.resolve_address(host, real_port, via)


def run(
    client: t.Any,
    params: t.Mapping[str, t.Any],
    *,
    check_mode: bool = False,
    sleep: t.Callable[[float], None] = time.sleep,
    monotonic: t.Callable[[], float] = time.monotonic,
) -> dict[str, t.Any]:
    """Compute, compare, update and wait. Returns the module result; raises DnsExpectError subclasses.

    RecordsFailure carries a full result for failures that still have a report (mismatch, timeout).
    Every option is checked first (:func:`check_options`): a bad one fails before any query or lookup.
    """
    check_options(params)
    state = params["state"]
    expected = build_expected(
        params["hostname"],
        params["address"],
        reply_record=params["reply_record"],
        ttl=params["ttl"],
        mx_priority=params["mx_priority"],
        spf=params.get("spf"),
        dmarc=params.get("dmarc"),
    )
    hostname = normalize_name(params["hostname"])
    port = params["port"]
    server = _server_from_spec(client, params["server"], port) if params.get("server") else None
    nameserver_specs = params.get("nameservers") or []
    via = server
    if via is None and nameserver_specs:
        via = _server_from_spec(client, nameserver_specs[0], port, option="nameservers[0]")
    zone = normalize_name(params["zone"], "zone") if params.get("zone") else client.find_zone(hostname, via)
    outside = [item.name for item in expected if not is_subdomain(item.name, zone)]
    if outside:
        raise InvalidOptionError(f"{', '.join(outside)} is outside the zone {zone}; manage it with a separate task for its own zone")
    if nameserver_specs:
        nameservers = [_server_from_spec(client, spec, port, via, f"nameservers[{index}]") for index, spec in enumerate(nameserver_specs)]
    else:
        nameservers = client.authoritative_nameservers(zone, port, via)
    queries = needed_queries(expected)
    result: dict[str, t.Any] = {
        "changed": False,
        "state": state,
        "zone": zone,
        "server": None,
        "nameservers": [ns.label for ns in nameservers],
        "updates": [],
        "zone_snippet": render_zone_snippet(expected, hostname=hostname),
    }
    notes: list[str] = []
    if state in ("present", "absent"):
        if server is None:
            server = client.primary_server(zone, port, via)
        result["server"] = server.label
        operations = plan_updates(expected, client.snapshot(server, queries), state)
        result["updates"] = [render_operation(op) for op in operations]
        result["changed"] = bool(operations)
        if operations and not check_mode:
            client.send_update(
                zone,
                operations,
                server,
                key_name=params.get("key_name"),
                key_secret=params.get("key_secret"),
                key_algorithm=params.get("key_algorithm") or "hmac-sha256",
            )
            left = plan_updates(expected, client.snapshot(server, queries), state)
            if left:
                raise DnsUpdateError(f"{server.label} accepted the update but still differs; it would need: " + "; ".join(render_operation(op) for op in left))
    report_state = "absent" if state == "absent" else "present"
    report = evaluate(expected, {ns.label: client.snapshot(ns, queries) for ns in nameservers}, report_state)
    waited = False
    if params.get("wait") and not all_ok(report):
        if check_mode and result["changed"]:
            notes.append("check mode: not waiting, the update was not sent")
        else:
            waited = True
            deadline = monotonic() + params["wait_timeout"]
            while not all_ok(report) and monotonic() < deadline:
                sleep(max(0.0, min(1.0, deadline - monotonic())))
                report = evaluate(expected, {ns.label: client.snapshot(ns, queries) for ns in nameservers}, report_state)
    result["records"] = report
    ok = all_ok(report)
    bad = [entry for entry in report if entry["status"] != "ok"]
    if ok:
        result["msg"] = f"all {len(report)} records are {'absent' if state == 'absent' else 'as expected'} on {len(nameservers)} nameserver(s)"
    else:
        result["msg"] = f"{len(bad)} of {len(report)} records are not {'absent' if state == 'absent' else 'as expected'} on every nameserver"
    if notes:
        result["msg"] += " (" + "; ".join(notes) + ")"
    if not ok and waited:
        raise RecordsFailure(
            f"timed out after {params['wait_timeout']}s waiting for every nameserver to serve the records:\n{render_table(report)}",
            result,
        )
    if not ok and state == "verify" and params.get("fail_on_mismatch", True):
        raise RecordsFailure(f"{result['msg']}:\n{render_table(report)}", result)
    return result
