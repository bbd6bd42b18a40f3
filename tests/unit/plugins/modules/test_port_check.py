# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import socket

from ansible_collections.mailops.notify.plugins.modules import port_check
from ansible_collections.mailops.notify.tests.unit.plugins.module_runner import run_module as _run
from ansible_collections.mailops.notify.tests.unit.plugins.smtp_servers import SmtpServer, closed_port


def run_module(args: dict) -> tuple[bool, dict]:
    return _run(port_check.main, args, check_mode=True)


def test_open_smtp_and_listening(certs):
    with SmtpServer(certs, mode="starttls") as server:
        failed, result = run_module({"targets": [{"host": "127.0.0.1", "port": server.port, "smtp": True}], "listening_ports": [server.port]})
        assert server.messages == []
    assert not failed, result["msg"]
    assert result["changed"] is False and result["ok"] is True and result["msg"] == "All checks passed"
    (target,) = result["targets"]
    assert target["state"] == "open" and target["ok"] is True
    assert target["smtp"]["starttls"] is True and target["smtp"]["banner_code"] == 220
    assert result["listening"] == [{"port": server.port, "listening": True, "addresses": ["127.0.0.1"]}]


def test_report_only():
    refused = closed_port()
    free = closed_port()
    args = {
        "targets": [{"host": "127.0.0.1", "port": refused}, {"host": "no-such-relay.invalid", "port": 25}],
        "listening_ports": [free],
        "fail_on_error": False,
    }
    failed, result = run_module(args)
    assert not failed
    assert result["ok"] is False
    assert [(t["state"], t["diagnosis"]["code"]) for t in result["targets"]] == [("refused", "connection_refused"), ("dns_error", "dns_failure")]
    assert result["listening"] == [{"port": free, "listening": False, "addresses": []}]
    assert f"127.0.0.1:{refused} is refused (connection_refused)" in result["msg"]
    assert f"nothing listens on local port {free}" in result["msg"]


def test_fails_by_default():
    port = closed_port()
    failed, result = run_module({"targets": [{"host": "127.0.0.1", "port": port}]})
    assert failed
    assert result["ok"] is False and result["targets"][0]["state"] == "refused"
    assert set(result) == {"msg", "changed", "ok", "targets", "listening", "failed"}


def test_invalid_port():
    failed, result = run_module({"listening_ports": [0]})
    assert failed and "between 1 and 65535" in result["msg"]


def test_listening_on_all_addresses():
    with socket.socket(socket.AF_INET6) as listener:
        listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        listener.bind(("::", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        failed, result = run_module({"listening_ports": [port]})
    assert not failed
    assert result["listening"] == [{"port": port, "listening": True, "addresses": ["::"]}]
