# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A real BIND 9 ``named`` on 127.0.0.1 for the tests.

Each instance runs in the foreground (``named -g``) as the current user, with its own directory, its own free
high port, its own zone and TSIG key. A primary accepts RFC 2136 updates signed with the key; a secondary transfers
the zone from a primary (and gets NOTIFY only when the primary lists it, so a secondary that is not listed stays
stale). Every wait is bounded; ``stop()`` kills the process.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import threading
import time
import typing as t

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.update

ZONE = "lab.test"
KEY_NAME = "mailops-test-key"
NAMED = shutil.which("named") or "/usr/sbin/named"

_ZONE_HEADER = """$TTL 300
@       IN SOA ns1.{zone}. hostmaster.{zone}. 1 3600 600 86400 300
@       IN NS  ns1.{zone}.
ns1     IN A   127.0.0.1
"""


def free_port() -> int:
    """A port on 127.0.0.1 that is free for both UDP and TCP (named listens on both)."""
    for _attempt in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port on 127.0.0.1")  # pragma: no cover


def new_secret() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii")


class Named:
    """One named process. ``records`` are extra zone-file lines (relative to the zone) for a primary."""

    def __init__(
        self,
        workdir: str,
        *,
        zone: str = ZONE,
        key_secret: t.Optional[str] = None,
        records: str = "",
        primary_port: t.Optional[int] = None,
        notify_ports: t.Sequence[int] = (),
    ) -> None:
        self.workdir = workdir
        self.zone = zone
        self.key_name = KEY_NAME
        self.key_secret = key_secret or new_secret()
        self.records = records
        self.primary_port = primary_port
        self.notify_ports = list(notify_ports)
        self.port = free_port()
        self.proc: t.Optional[subprocess.Popen] = None
        os.makedirs(workdir, exist_ok=True)
        self.conf = os.path.join(workdir, "named.conf")
        self.log = os.path.join(workdir, "named.log")

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _write_config(self) -> None:
        zone_file = os.path.join(self.workdir, f"{self.zone}.zone")
        if self.primary_port is None:
            with open(zone_file, "w", encoding="utf-8") as f:
                f.write(_ZONE_HEADER.format(zone=self.zone) + self.records)
            notify = "notify no;"
            if self.notify_ports:
                targets = " ".join(f"127.0.0.1 port {p};" for p in self.notify_ports)
                notify = f"notify explicit; notify-delay 0; also-notify {{ {targets} }};"
            zone_stmt = (
                f'zone "{self.zone}" {{ type primary; file "{zone_file}"; {notify} allow-transfer {{ any; }}; allow-update {{ key {self.key_name}; }}; }};'
            )
        else:
            zone_stmt = (
                f'zone "{self.zone}" {{ type secondary; file "{zone_file}"; '
                f"primaries {{ 127.0.0.1 port {self.primary_port}; }}; allow-notify {{ 127.0.0.1; }}; notify no; }};"
            )
        d = self.workdir
        conf = f"""
key "{self.key_name}" {{ algorithm hmac-sha256; secret "{self.key_secret}"; }};
options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {self.port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    transfer-source 127.0.0.1;
    notify-source 127.0.0.1;
}};
controls {{ }};
{zone_stmt}
"""
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(conf)
        os.chmod(self.conf, 0o600)

    def start(self, timeout: float = 15.0) -> Named:
        self._write_config()
        log = open(self.log, "ab")
        self._logfile = log
        self.proc = subprocess.Popen([NAMED, "-g", "-c", self.conf], stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"named exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.serial() is not None:
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"named did not serve {self.zone} within {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.proc.kill()
                self.proc.wait(timeout=10)
        if getattr(self, "_logfile", None) is not None:
            self._logfile.close()
            self._logfile = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:  # pragma: no cover
            return ""

    # -- direct access, independent of the code under test ----------------------------------------

    def query(self, name: str, rtype: str) -> list[str]:
        """The sorted presentation values of (name, rtype) on this server (empty list for none)."""
        response = dns.query.udp(dns.message.make_query(f"{name}.", rtype), "127.0.0.1", port=self.port, timeout=2)
        out = []
        for rrset in response.answer:
            if rrset.name.to_text() == f"{name}." and rrset.rdtype == dns.rdatatype.from_text(rtype):
                out.extend(rd.to_text() for rd in rrset)
        return sorted(out)

    def ttl(self, name: str, rtype: str) -> t.Optional[int]:
        response = dns.query.udp(dns.message.make_query(f"{name}.", rtype), "127.0.0.1", port=self.port, timeout=2)
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.from_text(rtype):
                return rrset.ttl
        return None

    def serial(self) -> t.Optional[int]:
        try:
            response = dns.query.udp(dns.message.make_query(f"{self.zone}.", "SOA"), "127.0.0.1", port=self.port, timeout=0.5)
        except (OSError, dns.exception.DNSException):
            return None
        if response.rcode() != dns.rcode.NOERROR:
            return None
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return rrset[0].serial
        return None

    def update(self, *ops: tuple) -> None:
        """Apply ('add', name, ttl, type, value) / ('delete', name, type[, value]) with the TSIG key, as a user would."""
        keyring = dns.tsigkeyring.from_text({self.key_name: ("hmac-sha256", self.key_secret)})
        msg = dns.update.UpdateMessage(f"{self.zone}.", keyring=keyring)
        for op in ops:
            action, name, *rest = op
            getattr(msg, action)(f"{name}.", *rest)
        response = dns.query.tcp(msg, "127.0.0.1", port=self.port, timeout=5)
        if response.rcode() != dns.rcode.NOERROR:
            raise RuntimeError(f"test update failed: {dns.rcode.to_text(response.rcode())}\n{self.log_tail()}")

    def wait_serial(self, serial: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = self.serial()
            if current is not None and current >= serial:
                return True
            time.sleep(0.1)
        return False


class PacketRecorder:
    """A UDP socket and a TCP listener on one port of 127.0.0.1 that record every datagram and connection, answering none.

    Point a module at ``server`` to prove that it sent nothing: ``packets`` lists what arrived (``("udp", bytes)`` or
    ``("tcp", bytes)``). ``stop()`` closes both sockets.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.packets: list[tuple[str, bytes]] = []
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("127.0.0.1", self.port))
        self._udp.settimeout(0.1)
        self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._tcp.bind(("127.0.0.1", self.port))
        self._tcp.listen(8)
        self._tcp.settimeout(0.1)
        self._running = True
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _loop(self) -> None:
        while self._running:
            try:
                data, _peer = self._udp.recvfrom(65535)
                self.packets.append(("udp", data))
            except (socket.timeout, OSError):
                pass
            try:
                conn, _peer = self._tcp.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                conn.settimeout(0.5)
                try:
                    self.packets.append(("tcp", conn.recv(65535)))
                except (socket.timeout, OSError):
                    self.packets.append(("tcp", b""))

    def stop(self) -> None:
        self._running = False
        self._thread.join(5)
        self._udp.close()
        self._tcp.close()

    def __enter__(self) -> PacketRecorder:
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self.stop()
