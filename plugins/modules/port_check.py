#!/usr/bin/python
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: port_check
short_description: Check TCP reachability, SMTP banners and local listeners without changing anything
version_added: 1.0.0
description:
  - For each target, tries a TCP connection from the host the module runs on and classifies the outcome as V(open),
    V(refused) (nothing listens, or a firewall rejects), V(timeout) (a firewall or the provider drops),
    V(unreachable) (no route) or V(dns_error), with the latency.
  - For SMTP targets that are open, reads the C(220) banner and the EHLO keywords, so you can see whether the server
    offers STARTTLS and AUTH. No mail is sent and no credentials are used.
  - Reports which local addresses listen on the ports in O(listening_ports), like C(ss -ltn) does, by reading
    C(/proc/net/tcp) and C(/proc/net/tcp6); no external tool is needed.
  - This answers the questions "is my SMTP server reachable" of the Mattermost SMTP guide and "is port 25 open" of the
    GitHub Enterprise Server guide. Run it with C(delegate_to) to check from another vantage point.
  - The module never changes anything.
  - Every option is checked before anything is resolved or connected; an invalid host name, port, timeout or EHLO
    domain fails the task with a message that names the option.
author: mailops.notify contributors (@mailops)
extends_documentation_fragment:
  - mailops.notify._attributes
  - mailops.notify._attributes.info_module
  - mailops.notify._attributes.idempotent_not_modify_state
options:
  targets:
    description:
      - The remote endpoints to check.
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description:
          - The host name or IP address.
          - It is checked before anything is resolved or connected (labels of letters, digits, V(-) and V(_), each of 1 to
            63 characters, at most 253 characters in all, or an IPv4 or IPv6 address without brackets).
        type: str
        required: true
      port:
        description: The TCP port, from V(1) to V(65535).
        type: int
        required: true
      smtp:
        description: Also read the SMTP banner and send EHLO (then QUIT) when the port is open.
        type: bool
        default: false
      tls:
        description: For an SMTP target, start implicit TLS before reading the banner (port 465).
        type: bool
        default: false
  listening_ports:
    description:
      - Local TCP ports to look up in the table of listening sockets of the host the module runs on.
    type: list
    elements: int
    default: []
  timeout:
    description:
      - The timeout in seconds for the TCP connection, the TLS handshake and each whole SMTP reply. It bounds the whole
        reply, not each read, so a server that sends its banner byte by byte is cut off when the timeout has passed.
      - The SMTP probe of a target ends after at most four times O(timeout) in all.
      - An SMTP reply may have at most 100 lines and 64 KiB; a longer one fails the probe as V(protocol_error). Lines
        longer than the RFC 5321 limit of 512 octets are cut in the result.
      - Must be more than V(0) and at most V(3600).
    type: float
    default: 5
  helo:
    description:
      - The domain announced in EHLO to SMTP targets. Defaults to the host name of the machine running the module.
      - A host name or an address literal such as V([192.0.2.1]); line breaks and other control characters are refused
        before anything is connected.
    type: str
  validate_certs:
    description:
      - Verify the certificate of SMTP targets with O(targets[].tls=true).
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file with the certificate authorities to trust for O(targets[].tls=true) instead of the system store.
    type: path
  fail_on_error:
    description:
      - Fail when a target is not V(open), when an SMTP probe fails, or when a port in O(listening_ports) has no listener.
      - When V(false), the module only reports; check RV(ok) and RV(targets[].ok).
    type: bool
    default: true
seealso:
  - module: mailops.notify.smtp_test
    description: Run a full SMTP session with TLS, AUTH and a test message.
  - module: ansible.builtin.wait_for
    description: Wait for a port, without telling refused from timeout.
"""

EXAMPLES = r"""
- name: Is my SMTP server reachable (Mattermost "Test Connection" without sending mail)
  mailops.notify.port_check:
    targets:
      - host: smtp.example.com
        port: 587
        smtp: true
  register: reach

- name: Show whether STARTTLS is offered
  ansible.builtin.debug:
    msg: "STARTTLS offered: {{ reach.targets[0].smtp.starttls }}"

- name: Is port 25 open on the appliance, and does Postfix listen on it
  mailops.notify.port_check:
    targets:
      - host: github.example.com
        port: 25
        smtp: true
    listening_ports: [25]
  delegate_to: outside-host

- name: Report outbound egress to the usual submission ports without failing
  mailops.notify.port_check:
    targets:
      - {host: smtp.example.com, port: 25}
      - {host: smtp.example.com, port: 587, smtp: true}
      - {host: smtp.example.com, port: 465, smtp: true, tls: true}
    fail_on_error: false
  register: egress

- name: List the blocked ports
  ansible.builtin.debug:
    msg: "{{ egress.targets | rejectattr('ok') | map(attribute='port') | list }}"
"""

RETURN = r"""
ok:
  description: Whether every target is open (and its SMTP probe succeeded) and every port in O(listening_ports) has a listener.
  returned: always
  type: bool
  sample: true
targets:
  description:
    - One entry per target, in the order of O(targets).
    - The key is not called C(results) because Ansible reads C(results) as the items of a loop.
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: The target host.
      type: str
      sample: smtp.example.com
    port:
      description: The target port.
      type: int
      sample: 587
    state:
      description: The outcome of the TCP connection.
      type: str
      choices: [open, refused, timeout, unreachable, dns_error]
      sample: open
    address:
      description: The IP address that was connected to (or the last one tried), V(null) on a DNS error.
      type: str
      sample: 192.0.2.25
    latency_ms:
      description: The time to connect in milliseconds (for a failure, until the failure).
      type: int
      sample: 14
    error:
      description: The error message of a failed connection, V(null) when open.
      type: str
      sample: "[Errno 111] Connection refused"
    ok:
      description: Whether the target is open and, for SMTP targets, the probe succeeded.
      type: bool
      sample: true
    diagnosis:
      description: The cause and fix of a failure from the collection's catalogue (see M(mailops.notify.smtp_test)), V(null) on success.
      type: dict
      sample: {code: connection_refused, summary: The server actively refused the TCP connection., hint: Check the host and port.}
    smtp:
      description: The SMTP probe, V(null) when O(targets[].smtp) is V(false) or the port is not open.
      type: dict
      contains:
        ok:
          description: Whether banner and EHLO succeeded.
          type: bool
          sample: true
        banner:
          description: The banner text without the code.
          type: str
          sample: smtp.example.com ESMTP Postfix
        banner_code:
          description: The banner reply code.
          type: int
          sample: 220
        ehlo:
          description: The EHLO keywords.
          type: list
          elements: str
          sample: [PIPELINING, SIZE 10240000, STARTTLS, 8BITMIME]
        starttls:
          description: Whether STARTTLS is offered.
          type: bool
          sample: true
        auth_mechanisms:
          description: The SASL mechanisms offered in AUTH (often only after STARTTLS, so empty on port 587).
          type: list
          elements: str
          sample: []
        tls:
          description: The TLS facts for O(targets[].tls=true) (see RV(mailops.notify.smtp_test#module:tls)), else V(null).
          type: dict
          sample: null
        stage_failed:
          description: The SMTP stage that failed, V(null) on success.
          type: str
          sample: null
        diagnosis:
          description: The diagnosis of a failed probe, V(null) on success.
          type: dict
          sample: null
        msg:
          description: A one-line summary of the probe.
          type: str
          sample: SMTP session with smtp.example.com:587 succeeded up to ehlo
listening:
  description: One entry per port in O(listening_ports).
  returned: always
  type: list
  elements: dict
  contains:
    port:
      description: The port.
      type: int
      sample: 25
    listening:
      description: Whether any local address listens on the port.
      type: bool
      sample: true
    addresses:
      description: The local addresses that listen, V(0.0.0.0) and V(::) meaning all addresses.
      type: list
      elements: str
      sample: [0.0.0.0, "::"]
  sample:
    - {port: 25, listening: true, addresses: [127.0.0.1, "::1"]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailops.notify.plugins.module_utils._probe import ProbeOptionError, check_options, check_target, local_listeners


def main() -> None:
    argument_spec = {
        "targets": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "host": {"type": "str", "required": True},
                "port": {"type": "int", "required": True},
                "smtp": {"type": "bool", "default": False},
                "tls": {"type": "bool", "default": False},
            },
        },
        "listening_ports": {"type": "list", "elements": "int", "default": []},
        "timeout": {"type": "float", "default": 5},
        "helo": {"type": "str"},
        "validate_certs": {"type": "bool", "default": True},
        "ca_path": {"type": "path"},
        "fail_on_error": {"type": "bool", "default": True},
    }
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    try:
        check_options(p["targets"], p["listening_ports"], timeout=p["timeout"], helo=p["helo"])
    except ProbeOptionError as exc:
        module.fail_json(msg=f"Invalid options: {exc}", changed=False, ok=False, targets=[], listening=[])
    results = [
        check_target(
            target["host"],
            target["port"],
            smtp=target["smtp"],
            tls=target["tls"],
            timeout=p["timeout"],
            helo=p["helo"],
            validate_certs=p["validate_certs"],
            ca_path=p["ca_path"],
        )
        for target in p["targets"]
    ]
    listeners = local_listeners(p["listening_ports"])
    listening = []
    for port in p["listening_ports"]:
        addresses = [item.address for item in listeners if item.port == port]
        listening.append({"port": port, "listening": bool(addresses), "addresses": addresses})
    problems = [f"{r['host']}:{r['port']} is {r['state']}" + (f" ({r['diagnosis']['code']})" if r["diagnosis"] else "") for r in results if not r["ok"]]
    problems += [f"nothing listens on local port {item['port']}" for item in listening if not item["listening"]]
    ok = not problems
    msg = "All checks passed" if ok else "; ".join(problems)
    if not ok and p["fail_on_error"]:
        module.fail_json(msg=msg, changed=False, ok=ok, targets=results, listening=listening)
    module.exit_json(msg=msg, changed=False, ok=ok, targets=results, listening=listening)


if __name__ == "__main__":
    main()
