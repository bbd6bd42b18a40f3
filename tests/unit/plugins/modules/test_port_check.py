# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import socket
import time

import pytest

from ansible_collections.mailops.notify.plugins.modules import port_check
from ansible_collections.mailops.notify.tests.unit.plugins.module_runner import run_module as _run
from ansible_collections.mailops.notify.tests.unit.plugins.smtp_servers import (
    ScriptedServer,
    SmtpServer,
    closed_port,
    script_huge_banner,
    script_reply_to,
    script_trickle_banner,
    script_trickle_ehlo,
)


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


@pytest.mark.parametrize(("script", "stage"), [(script_trickle_banner(), "banner"), (script_trickle_ehlo(), "ehlo")], ids=["banner", "ehlo"])
def test_trickling_server_with_timeout_3_is_bounded(script, stage):
    # The finding: timeout 3 against a server trickling an endless banner or EHLO reply ran 64-79 s.
    with ScriptedServer(script) as server:
        start = time.monotonic()
        failed, result = run_module({"targets": [{"host": "127.0.0.1", "port": server.port, "smtp": True}], "timeout": 3})
        elapsed = time.monotonic() - start
    assert failed
    assert elapsed < 3 + 1.5, elapsed
    (target,) = result["targets"]
    assert target["smtp"]["stage_failed"] == stage and target["diagnosis"]["code"] == "timeout"
    assert "(timeout)" in result["msg"]
    assert len(json.dumps(result)) < 16 * 1024


def test_huge_banner_result_stays_small():
    with ScriptedServer(script_huge_banner()) as server:
        failed, result = run_module({"targets": [{"host": "127.0.0.1", "port": server.port, "smtp": True}], "timeout": 3})
    assert failed and result["targets"][0]["diagnosis"]["code"] == "protocol_error"
    assert len(json.dumps(result)) < 16 * 1024


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"targets": [{"host": "", "port": 25}]}, "targets[0].host must not be empty"),
        ({"targets": [{"host": "smtp..example.test", "port": 25}]}, "targets[0].host 'smtp..example.test' has an empty label"),
        ({"targets": [{"host": "a" * 64 + ".example.test", "port": 25}]}, "label longer than 63 characters"),
        ({"targets": [{"host": "127.0.0.1", "port": 0}]}, "targets[0].port must be between 1 and 65535, not 0"),
        ({"targets": [{"host": "127.0.0.1", "port": 65536}]}, "targets[0].port must be between 1 and 65535, not 65536"),
        ({"targets": [{"host": "127.0.0.1", "port": 25}], "timeout": 0}, "timeout must be a positive number"),
        ({"targets": [{"host": "127.0.0.1", "port": 25}], "timeout": -1}, "timeout must be a positive number"),
        ({"targets": [{"host": "127.0.0.1", "port": 25, "smtp": True}], "helo": "x\r\nMAIL FROM:<a@b>"}, "helo: "),
    ],
)
def test_bad_options_fail_before_connecting(args, message):
    # Before the fix host "" gave dns_error and 'smtp..example.test' a resolver error, after trying the network.
    with ScriptedServer(script_reply_to("NOOP", "250 ok")) as server:
        for target in args["targets"]:
            if target["host"] == "127.0.0.1" and target["port"] == 25:
                target["port"] = server.port
        failed, result = run_module(args)
        assert server.connections == []
    assert failed
    assert result["msg"].startswith("Invalid options: ") and message in result["msg"], result["msg"]
    assert result["targets"] == [] and result["listening"] == []
