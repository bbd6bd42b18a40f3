# This module util is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reachability, layer by layer: TCP connect classification, SMTP banner and EHLO, and local listeners.

Local listeners are read from ``/proc/net/tcp`` and ``/proc/net/tcp6`` (what ``ss -ltn`` shows), so no tool is needed.
"""

from __future__ import annotations

import errno
import socket
import time
import typing as t
from dataclasses import dataclass

from ansible_collections.mailops.notify.plugins.module_utils._diagnosis import diagnose_exception
from ansible_collections.mailops.notify.plugins.module_utils._smtp import (
    SmtpConfigError,
    SmtpOptions,
    check_helo,
    check_host,
    check_port,
    check_timeout,
    run_session,
)

__all__ = [
    "CONNECT_STATES",
    "Listener",
    "ProbeError",
    "ProbeOptionError",
    "check_options",
    "check_target",
    "classify_exception",
    "local_listeners",
    "parse_proc_net_tcp",
    "smtp_probe",
    "tcp_connect",
]

CONNECT_STATES = ("open", "refused", "timeout", "unreachable", "dns_error")
_TCP_LISTEN = "0A"


class ProbeError(Exception):
    """Base class of the errors of this module util."""


class ProbeOptionError(ProbeError):
    """Invalid options; raised before anything is resolved or connected."""


def check_options(targets: t.Sequence[t.Mapping[str, t.Any]], listening_ports: t.Sequence[t.Any], *, timeout: t.Any, helo: str | None = None) -> None:
    """Check the options of port_check with the rules of the SMTP session (host names, ports, timeout, EHLO domain)."""
    try:
        for index, target in enumerate(targets):
            check_host(target.get("host"), f"targets[{index}].host")
            check_port(target.get("port"), f"targets[{index}].port")
        for index, port in enumerate(listening_ports):
            check_port(port, f"listening_ports[{index}]")
        check_timeout(timeout, "timeout")
        if helo:
            check_helo(helo, "helo")
    except SmtpConfigError as exc:
        raise ProbeOptionError(str(exc)) from None


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    family: str  # "ipv4" or "ipv6"

    def as_dict(self) -> dict[str, t.Any]:
        return {"address": self.address, "port": self.port, "family": self.family}


def classify_exception(exc: BaseException) -> str:
    """Map a connect() error to one of CONNECT_STATES (never 'open')."""
    if isinstance(exc, socket.gaierror):
        return "dns_error"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, OSError):
        if exc.errno == errno.ECONNREFUSED:
            return "refused"
        if exc.errno == errno.ETIMEDOUT:
            return "timeout"
    return "unreachable"


def tcp_connect(host: str, port: int, timeout: float = 5.0) -> dict[str, t.Any]:
    """Try a TCP connection to every address of host; return the classified outcome with latency."""
    result: dict[str, t.Any] = {"host": host, "port": port, "state": None, "address": None, "latency_ms": None, "error": None, "diagnosis": None}
    start = time.monotonic()
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        result.update(state="dns_error", error=str(exc), latency_ms=_ms(start), diagnosis=diagnose_exception(_as_gaierror(exc)).as_dict())
        return result
    last_exc: BaseException | None = None
    for family, socktype, proto, _canon, sockaddr in infos:
        sock = socket.socket(family, socktype, proto)
        sock.settimeout(timeout)
        attempt = time.monotonic()
        try:
            sock.connect(sockaddr)
        except OSError as exc:
            last_exc = exc
            continue
        else:
            result.update(state="open", address=sockaddr[0], latency_ms=_ms(attempt))
            return result
        finally:
            sock.close()
    if last_exc is None:  # pragma: no cover
        raise AssertionError("Internal error")
    result.update(
        state=classify_exception(last_exc),
        address=infos[-1][4][0],
        error=str(last_exc) or type(last_exc).__name__,
        latency_ms=_ms(start),
        diagnosis=diagnose_exception(last_exc, stage="connect").as_dict(),
    )
    return result


def _as_gaierror(exc: BaseException) -> BaseException:
    return exc if isinstance(exc, socket.gaierror) else socket.gaierror(str(exc))


def _ms(start: float) -> int:
    return round((time.monotonic() - start) * 1000)


def smtp_probe(
    host: str, port: int, *, timeout: float = 5.0, tls: bool = False, helo: str | None = None, validate_certs: bool = True, ca_path: str | None = None
) -> dict[str, t.Any]:
    """Read the banner and the EHLO keywords (implicit TLS first when tls is true); never sends mail."""
    options = SmtpOptions(
        host=host,
        port=port,
        security="tls" if tls else "none",
        helo=helo,
        validate_certs=validate_certs,
        ca_path=ca_path,
        quit_after="ehlo",
        timeout=timeout,
    )
    session = run_session(options)
    banner = next((s for s in session.stages if s["name"] == "banner"), None)
    keywords = session.capabilities["after_tls" if tls else "before_tls"]
    auth = next((k.split()[1:] for k in keywords if k.upper().startswith("AUTH ")), [])
    return {
        "ok": not session.failed,
        "banner": banner["text"] if banner else None,
        "banner_code": banner["code"] if banner else None,
        "ehlo": keywords,
        "starttls": any(k.upper() == "STARTTLS" for k in keywords),
        "auth_mechanisms": [m.upper() for m in auth],
        "tls": session.tls,
        "stage_failed": session.stage_failed,
        "diagnosis": session.diagnosis.as_dict() if session.diagnosis else None,
        "msg": session.msg,
    }


def check_target(
    host: str,
    port: int,
    *,
    smtp: bool = False,
    tls: bool = False,
    timeout: float = 5.0,
    helo: str | None = None,
    validate_certs: bool = True,
    ca_path: str | None = None,
) -> dict[str, t.Any]:
    """TCP classification plus, for SMTP targets that are open, the banner/EHLO probe (bounded like any SMTP session:
    each reply within `timeout`, the probe within SESSION_TIMEOUT_FACTOR times `timeout`)."""
    result = tcp_connect(host, port, timeout)
    result["smtp"] = None
    if smtp and result["state"] == "open":
        result["smtp"] = smtp_probe(host, port, timeout=timeout, tls=tls, helo=helo, validate_certs=validate_certs, ca_path=ca_path)
        if result["smtp"]["diagnosis"]:
            result["diagnosis"] = result["smtp"]["diagnosis"]
    result["ok"] = result["state"] == "open" and (result["smtp"] is None or result["smtp"]["ok"])
    return result


def _ipv4(hexaddr: str) -> str:
    return socket.inet_ntop(socket.AF_INET, bytes.fromhex(hexaddr)[::-1])


def _ipv6(hexaddr: str) -> str:
    raw = bytes.fromhex(hexaddr)
    # four 32-bit words, each in host (little-endian) byte order
    swapped = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, swapped)


def parse_proc_net_tcp(text: str, family: str) -> list[Listener]:
    """Parse the content of /proc/net/tcp (family 'ipv4') or /proc/net/tcp6 ('ipv6'); return the listening sockets."""
    listeners: list[Listener] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != _TCP_LISTEN:
            continue
        hexaddr, _sep, hexport = fields[1].partition(":")
        try:
            address = _ipv4(hexaddr) if family == "ipv4" else _ipv6(hexaddr)
            port = int(hexport, 16)
        except (ValueError, OSError):
            continue
        listeners.append(Listener(address, port, family))
    return listeners


def local_listeners(ports: t.Iterable[int] | None = None, *, proc_root: str = "/proc") -> list[Listener]:
    """Listening TCP sockets of this host (all network namespaces' view of /proc/net), optionally only on given ports."""
    wanted = set(ports) if ports is not None else None
    found: list[Listener] = []
    for name, family in (("tcp", "ipv4"), ("tcp6", "ipv6")):
        try:
            with open(f"{proc_root}/net/{name}", encoding="ascii") as handle:
                text = handle.read()
        except OSError:
            continue  # no IPv6 in this kernel, for example
        found.extend(listener for listener in parse_proc_net_tcp(text, family) if wanted is None or listener.port in wanted)
    unique = sorted(set(found), key=lambda item: (item.port, item.family, item.address))
    return unique
