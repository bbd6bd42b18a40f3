# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import errno
import json
import socket
import time

import pytest

from ansible_collections.mailops.notify.plugins.module_utils._probe import (
    Listener,
    ProbeOptionError,
    check_options,
    check_target,
    classify_exception,
    local_listeners,
    parse_proc_net_tcp,
    smtp_probe,
    tcp_connect,
)
from ansible_collections.mailops.notify.tests.unit.plugins.smtp_servers import (
    ScriptedServer,
    SmtpServer,
    closed_port,
    script_hang,
    script_huge_banner,
    script_trickle_banner,
    script_trickle_ehlo,
)

PROC_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 00000000:024B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
   2: 0100007F:0019 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1
   3: 0202000A:01D1 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4 1 0000000000000000 100 0 0 10 0
"""
PROC_TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0019 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5 1 0 100 0 0 10 0
   1: 00000000000000000000000000000000:024B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6 1 0 100 0 0 10 0
   2: B80D0120000000000000000001000000:0019 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7 1 0 100 0 0 10 0
"""


@pytest.mark.parametrize(
    ("text", "family", "expected"),
    [
        (PROC_TCP, "ipv4", [Listener("127.0.0.1", 25, "ipv4"), Listener("0.0.0.0", 587, "ipv4"), Listener("10.0.2.2", 465, "ipv4")]),
        (PROC_TCP6, "ipv6", [Listener("::1", 25, "ipv6"), Listener("::", 587, "ipv6"), Listener("2001:db8::1", 25, "ipv6")]),
        ("header only\n", "ipv4", []),
        ("h\n 0: zz:0019 0 0A\n", "ipv4", []),
    ],
)
def test_parse_proc_net_tcp(text, family, expected):
    assert parse_proc_net_tcp(text, family) == expected


def test_local_listeners_from_proc_root(tmp_path):
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_text(PROC_TCP)
    (tmp_path / "net" / "tcp6").write_text(PROC_TCP6)
    found = local_listeners([25], proc_root=str(tmp_path))
    assert [item.as_dict() for item in found] == [
        {"address": "127.0.0.1", "port": 25, "family": "ipv4"},
        {"address": "2001:db8::1", "port": 25, "family": "ipv6"},
        {"address": "::1", "port": 25, "family": "ipv6"},
    ]


def test_local_listeners_without_ipv6(tmp_path):
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_text(PROC_TCP)
    assert [item.port for item in local_listeners(None, proc_root=str(tmp_path))] == [25, 465, 587]


def test_local_listeners_real_socket():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        assert Listener("127.0.0.1", port, "ipv4") in local_listeners([port])
    assert local_listeners([port]) == []


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (socket.gaierror(socket.EAI_NONAME, "x"), "dns_error"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "x"), "refused"),
        (OSError(errno.ECONNREFUSED, "x"), "refused"),
        (socket.timeout("timed out"), "timeout"),
        (OSError(errno.ETIMEDOUT, "x"), "timeout"),
        (OSError(errno.ENETUNREACH, "x"), "unreachable"),
        (OSError(errno.EHOSTUNREACH, "x"), "unreachable"),
    ],
)
def test_classify_exception(exc, expected):
    assert classify_exception(exc) == expected


def test_tcp_connect_open():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        result = tcp_connect("127.0.0.1", listener.getsockname()[1], 2)
    assert result["state"] == "open" and result["address"] == "127.0.0.1"
    assert isinstance(result["latency_ms"], int) and result["error"] is None and result["diagnosis"] is None


@pytest.mark.parametrize(
    ("host", "port", "state", "code"),
    [
        ("127.0.0.1", "closed", "refused", "connection_refused"),
        ("no-such-relay.invalid", 25, "dns_error", "dns_failure"),
        # the kernel refuses TCP to the broadcast address with ENETUNREACH; nothing leaves the machine
        ("255.255.255.255", 25, "unreachable", "no_route"),
    ],
)
def test_tcp_connect_failures(host, port, state, code):
    result = tcp_connect(host, closed_port() if port == "closed" else port, 2)
    assert result["state"] == state
    assert result["diagnosis"]["code"] == code
    assert result["error"]


def test_tcp_connect_timeout():
    # A full listen backlog makes further SYNs go unanswered: a real connect timeout on loopback.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _filler in range(8):
                try:
                    fillers.append(socket.create_connection(("127.0.0.1", port), timeout=0.5))
                except (socket.timeout, TimeoutError):
                    break
            result = tcp_connect("127.0.0.1", port, 0.5)
        finally:
            for sock in fillers:
                sock.close()
    assert result["state"] == "timeout"
    assert result["diagnosis"]["code"] == "timeout"


def test_smtp_probe_starttls_port(certs):
    with SmtpServer(certs, mode="starttls") as server:
        result = smtp_probe("127.0.0.1", server.port, timeout=3)
        assert server.messages == []
    assert result["ok"] is True
    assert result["banner_code"] == 220 and "mx.example.test" in result["banner"]
    assert result["starttls"] is True
    assert result["auth_mechanisms"] == []  # only after STARTTLS
    assert result["diagnosis"] is None


def test_smtp_probe_implicit_tls(certs):
    with SmtpServer(certs, mode="tls") as server:
        result = smtp_probe("127.0.0.1", server.port, timeout=3, tls=True, ca_path=certs.ca_file)
    assert result["ok"] is True
    assert result["auth_mechanisms"] == ["LOGIN", "PLAIN"]
    assert result["tls"]["verified"] is True


def test_check_target_smtp_hang():
    with ScriptedServer(script_hang) as server:
        result = check_target("127.0.0.1", server.port, smtp=True, timeout=1)
    assert result["state"] == "open"
    assert result["ok"] is False
    assert result["smtp"]["stage_failed"] == "banner"
    assert result["diagnosis"]["code"] == "timeout"


def test_check_target_refused_skips_smtp():
    result = check_target("127.0.0.1", closed_port(), smtp=True, timeout=1)
    assert result["state"] == "refused" and result["smtp"] is None and result["ok"] is False


@pytest.mark.parametrize(("script", "stage"), [(script_trickle_banner(), "banner"), (script_trickle_ehlo(), "ehlo")], ids=["banner", "ehlo"])
def test_check_target_trickle_is_bounded(script, stage):
    # Before the fix port_check with timeout 3 ran until the trickling server gave up (64-79 s in the finding).
    with ScriptedServer(script) as server:
        start = time.monotonic()
        result = check_target("127.0.0.1", server.port, smtp=True, timeout=1.0)
        elapsed = time.monotonic() - start
    assert elapsed < 1.0 + 1.5, elapsed
    assert result["state"] == "open" and result["ok"] is False
    assert result["smtp"]["stage_failed"] == stage
    assert result["diagnosis"]["code"] == "timeout"
    assert len(json.dumps(result)) < 16 * 1024


def test_check_target_huge_banner_is_capped():
    with ScriptedServer(script_huge_banner()) as server:
        result = check_target("127.0.0.1", server.port, smtp=True, timeout=3.0)
    assert result["smtp"]["stage_failed"] == "banner"
    assert result["diagnosis"]["code"] == "protocol_error"
    assert "more than 100 lines" in result["smtp"]["msg"]
    assert len(json.dumps(result)) < 16 * 1024


@pytest.mark.parametrize(
    ("targets", "ports", "timeout", "helo", "message"),
    [
        ([{"host": "", "port": 25}], [], 5, None, "targets[0].host must not be empty"),
        ([{"host": "smtp..example.test", "port": 25}], [], 5, None, "targets[0].host 'smtp..example.test' has an empty label"),
        ([{"host": "a" * 64 + ".example.test", "port": 25}], [], 5, None, "label longer than 63"),
        ([{"host": "127.0.0.1", "port": 25}, {"host": "mx\n.example.test", "port": 25}], [], 5, None, "targets[1].host"),
        ([{"host": "127.0.0.1", "port": 0}], [], 5, None, "targets[0].port must be between 1 and 65535, not 0"),
        ([{"host": "127.0.0.1", "port": 65536}], [], 5, None, "targets[0].port must be between 1 and 65535"),
        ([], [25, 70000], 5, None, "listening_ports[1] must be between 1 and 65535"),
        ([], [], 0, None, "timeout must be a positive number"),
        ([], [], -2.5, None, "timeout must be a positive number"),
        ([], [], float("nan"), None, "timeout must be a positive number"),
        ([], [], 5, "client\r\nMAIL FROM:<x@y>", "helo: "),
    ],
)
def test_check_options(targets, ports, timeout, helo, message):
    with pytest.raises(ProbeOptionError) as info:
        check_options(targets, ports, timeout=timeout, helo=helo)
    assert message in str(info.value)


def test_check_options_accepts_ip_literals():
    check_options([{"host": "127.0.0.1", "port": 25}, {"host": "::1", "port": 465}, {"host": "smtp.example.test", "port": 587}], [25], timeout=0.5)
