#!/usr/bin/python

# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dns_mail_records
short_description: Ensure and verify the reply-by-email DNS records of an instance on every authoritative nameserver
version_added: 1.0.0
description:
  - Computes the DNS records that the GitHub Enterprise Server guide asks for when replies to notification emails are
    enabled, for the instance O(hostname) at O(address).
  - The records are an address record (V(A) and/or V(AAAA)) for C(reply.<hostname>) (and for C(*.<hostname>) when
    O(reply_record=wildcard)), an MX record C(reply.<hostname>) pointing to C(reply.<hostname>), an MX record
    C(noreply.<hostname>) pointing to C(<hostname>), and C(<hostname>) itself resolving to an address.
    Optionally the SPF and DMARC TXT records of the sender domain (O(spf), O(dmarc)).
  - Every record is read from every nameserver in O(nameservers) (default, the authoritative nameservers of the zone)
    and reported per record and per nameserver as V(ok), V(missing), V(wrong) or V(unreachable).
  - With O(state=present) or O(state=absent), the records are created, fixed or removed on the primary server with one
    RFC 2136 dynamic update, signed with a TSIG key (default algorithm V(hmac-sha256)).
  - With O(state=verify), nothing is changed; this is the guide's "Verify your DNS settings" step.
  - The records are also returned in zone-file syntax (RV(zone_snippet)), for DNS providers without an API.
  - Every option is checked on the managed host before any query, name lookup or update is sent. That covers names
    (no empty label, no label longer than 63 characters, no line break or other control character), ports, TTL,
    timeouts, and the TSIG key name, algorithm and base64 secret. A bad value fails with a message that names the
    option and the rule.
extends_documentation_fragment:
  - mailops.notify._attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode, the module reads the current records and returns the update that it would send (RV(updates)),
        but sends none.
  diff_mode:
    support: none
  idempotent:
    description:
      - When run twice in a row with the same parameters, the second run does not change anything.
    support: full
requirements:
  - dnspython >= 2.0.0
options:
  hostname:
    description:
      - The fully qualified domain name of the instance, for example the GitHub Enterprise Server hostname.
      - Must be a DNS name, not an IP address, with labels of 1 to 63 letters, digits, V(-) or V(_), and no line break or
        control character.
    type: str
    required: true
  address:
    description:
      - The IPv4 and/or IPv6 addresses of the instance.
      - Used for the address records of C(reply.<hostname>) (and C(*.<hostname>)), and for C(<hostname>) when it has
        no address yet.
    type: list
    elements: str
    required: true
  reply_record:
    description:
      - V(a) creates address records for C(reply.<hostname>).
      - V(wildcard) also creates address records for C(*.<hostname>). Because C(reply.<hostname>) owns an MX record,
        a wildcard does not cover it (RFC 4592), so its address records are created explicitly in both modes.
    type: str
    choices: [a, wildcard]
    default: a
  ttl:
    description:
      - The TTL of the records that the module creates, in seconds, from V(0) to V(2147483647). A different TTL on a
        managed record set counts as V(wrong).
    type: int
    default: 3600
  mx_priority:
    description:
      - The preference value of both MX records, from V(0) to V(65535).
    type: int
    default: 10
  state:
    description:
      - V(present) creates or fixes the records, then reports them.
      - V(absent) removes exactly the records that the module would create (same name, type and value). Records with
        other values, records at other names and the address records of C(<hostname>) are never removed.
      - V(verify) only reads and reports. It fails when a record is not as expected, unless O(fail_on_mismatch=false).
    type: str
    choices: [present, absent, verify]
    default: present
  zone:
    description:
      - The zone that contains the records, for example V(example.com).
      - When omitted, it is found from the SOA record of O(hostname), asked from O(server) (or the first entry of
        O(nameservers), or the system resolver).
    type: str
  nameservers:
    description:
      - The nameservers to verify, as V(host), V(host:port), V([IPv6]:port) or an IP address.
      - When omitted, the NS records of O(zone) are used, each resolved to one address (IPv4 preferred).
      - Set it for split-horizon DNS, or to check servers that are not (yet) listed in the NS records.
    type: list
    elements: str
  port:
    description:
      - The port of O(server) and of the entries of O(nameservers) that do not give their own port, from V(1) to V(65535).
    type: int
    default: 53
  server:
    description:
      - The server that receives the RFC 2136 updates (the primary), as V(host), V(host:port) or an IP address.
      - A host must be an IP address or a valid DNS name; a malformed one is refused without being looked up.
      - When omitted, the primary named in the SOA record of O(zone) (its MNAME field) is used.
    type: str
  key_name:
    description:
      - The name of the TSIG key that signs the updates, a domain name whose labels hold letters, digits, V(-) and V(_).
    type: str
  key_secret:
    description:
      - The base64-encoded secret of the TSIG key. It is decoded on the managed host first; a secret that is not valid
        base64 fails before anything is sent, and the secret is never shown.
    type: str
  key_algorithm:
    description:
      - The algorithm of the TSIG key.
    type: str
    choices: [hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512]
    default: hmac-sha256
  wait:
    description:
      - Wait until every nameserver serves the expected records (or, with O(state=absent), no longer serves them).
      - When O(wait_timeout) passes first, the module fails with a table of the status per record and per nameserver.
      - In check mode, the module does not wait when it would have sent an update.
    type: bool
    default: false
  wait_timeout:
    description:
      - How long to wait, in seconds, when O(wait=true), from V(0) to V(86400).
    type: int
    default: 300
  timeout:
    description:
      - The timeout of one DNS query or update, in seconds, from V(0.1) to V(300).
    type: float
    default: 5.0
  spf:
    description:
      - The SPF record that the sender domain must publish. The TXT record of O(spf.domain) that starts with
        C(v=spf1) must be equal to O(spf.value); other TXT records of that name are left alone.
    type: dict
    suboptions:
      domain:
        description:
          - The sender domain. Defaults to O(hostname).
        type: str
      value:
        description:
          - The whole SPF record, for example V(v=spf1 include:amazonses.com ~all).
        type: str
        required: true
  dmarc:
    description:
      - The DMARC record that the sender domain must publish, at C(_dmarc.<domain>). The TXT record there that
        starts with C(v=DMARC1) must be equal to O(dmarc.value).
    type: dict
    suboptions:
      domain:
        description:
          - The sender domain. Defaults to O(hostname).
        type: str
      value:
        description:
          - The whole DMARC record, for example V(v=DMARC1; p=none; rua=mailto:dmarc@example.com).
        type: str
        required: true
  fail_on_mismatch:
    description:
      - With O(state=verify), fail when a record is not as expected on some nameserver.
      - When V(false), the module only reports.
    type: bool
    default: true
notes:
  - The names must all be inside O(zone). Manage SPF or DMARC records of another zone with a separate task.
  - The update is sent over TCP as one message, so the server applies it completely or not at all.
seealso:
  - name: Configuring email for notifications (GitHub Enterprise Server)
    description: The guide whose DNS section this module implements.
    link: https://docs.github.com/en/enterprise-server/admin/configuration/configuring-user-applications-for-your-enterprise/configuring-email-for-notifications
  - name: RFC 2136
    description: Dynamic Updates in the Domain Name System.
    link: https://www.rfc-editor.org/rfc/rfc2136
author: mailops.notify contributors (@mailops)
"""

EXAMPLES = r"""
- name: Create the reply-by-email records and wait until every authoritative nameserver serves them
  mailops.notify.dns_mail_records:
    hostname: ghe.example.com
    address:
      - 192.0.2.10
      - 2001:db8::10
    server: ns1.example.com
    key_name: ansible-update
    key_secret: "{{ vault_tsig_secret }}"
    wait: true
    wait_timeout: 600

- name: Verify the DNS settings of the guide, per record and per nameserver
  mailops.notify.dns_mail_records:
    hostname: ghe.example.com
    address: 192.0.2.10
    state: verify
    fail_on_mismatch: false
  register: ghe_dns

- name: Show the records that are not right yet
  ansible.builtin.debug:
    msg: "{{ ghe_dns.records | rejectattr('status', 'equalto', 'ok') | map(attribute='name') | list }}"

- name: Print the zone-file lines for a DNS provider without an API
  ansible.builtin.debug:
    msg: "{{ ghe_dns.zone_snippet }}"

- name: Use a wildcard, check SPF and DMARC, against split-horizon nameservers
  mailops.notify.dns_mail_records:
    hostname: ghe.corp.example.com
    address: 10.1.2.3
    reply_record: wildcard
    zone: corp.example.com
    nameservers:
      - 10.0.0.53
      - 10.0.1.53:5353
    server: 10.0.0.53
    key_name: ansible-update
    key_secret: "{{ vault_tsig_secret }}"
    spf:
      value: "v=spf1 ip4:10.1.2.3 -all"
    dmarc:
      value: "v=DMARC1; p=quarantine"

- name: Remove the records this module created
  mailops.notify.dns_mail_records:
    hostname: ghe.example.com
    address: 192.0.2.10
    state: absent
    server: ns1.example.com
    key_name: ansible-update
    key_secret: "{{ vault_tsig_secret }}"
"""

RETURN = r"""
zone:
  description: The zone that contains the records.
  returned: success
  type: str
  sample: example.com
server:
  description:
    - The server that received (or, in check mode, would have received) the update, as C(host:port).
    - V(null) with O(state=verify).
  returned: success
  type: str
  sample: ns1.example.com (192.0.2.53:53)
nameservers:
  description: The nameservers that were asked, as they appear in RV(records[].nameservers[].nameserver).
  returned: success
  type: list
  elements: str
  sample:
    - ns1.example.com (192.0.2.53:53)
    - ns2.example.com (198.51.100.53:53)
records:
  description:
    - One entry per expected record, with its status on every nameserver.
    - After an update, the status is that of the last reading (after waiting when O(wait=true)).
  returned: success
  type: list
  elements: dict
  contains:
    key:
      description: A stable identifier of the record.
      type: str
      sample: reply_mx
    name:
      description: The owner name.
      type: str
      sample: reply.ghe.example.com
    type:
      description: The record type (V(A/AAAA) for the check that the host name resolves).
      type: str
      sample: MX
    purpose:
      description: Why the record is needed.
      type: str
      sample: Mail for reply.ghe.example.com (reply-by-email) is delivered to the instance
    expected:
      description: The expected values in presentation format; empty with O(state=absent).
      type: list
      elements: str
      sample: ["10 reply.ghe.example.com."]
    managed:
      description: The values that the module creates for this record (and would remove with O(state=absent)).
      type: list
      elements: str
      sample: ["10 reply.ghe.example.com."]
    ttl:
      description: The expected TTL.
      type: int
      sample: 3600
    status:
      description:
        - The worst status over all nameservers, in the order V(wrong), V(missing), V(unreachable), V(ok).
        - With O(state=absent), V(ok) means that the managed values are gone and V(wrong) that some are still there.
      type: str
      sample: ok
    nameservers:
      description: The answer of each nameserver.
      type: list
      elements: dict
      contains:
        nameserver:
          description: The nameserver, as C(host:port) or C(name (address:port)).
          type: str
          sample: ns1.example.com (192.0.2.53:53)
        status:
          description: The status of this record on this nameserver, one of V(ok), V(missing), V(wrong) or V(unreachable).
          type: str
          sample: wrong
        actual:
          description: The values that the nameserver returned.
          type: list
          elements: str
          sample: ["20 mail.example.com."]
        ttl:
          description: The TTL that the nameserver returned, if any.
          type: int
          sample: 3600
        message:
          description: Why the status is not V(ok) (or a note), empty otherwise.
          type: str
          sample: "missing 10 reply.ghe.example.com.; unexpected 20 mail.example.com."
updates:
  description:
    - The update operations that were sent (or, in check mode, would be sent), in C(nsupdate) syntax.
    - Empty when nothing needed to change, and always empty with O(state=verify).
  returned: success
  type: list
  elements: str
  sample:
    - update add reply.ghe.example.com. 3600 IN A 192.0.2.10
    - update delete reply.ghe.example.com. IN MX
    - update add reply.ghe.example.com. 3600 IN MX 10 reply.ghe.example.com.
zone_snippet:
  description: The expected records in zone-file syntax with absolute names.
  returned: success
  type: str
  sample: |
    ; reply-by-email records for ghe.example.com (mailops.notify.dns_mail_records)
    reply.ghe.example.com.   3600 IN A     192.0.2.10
    reply.ghe.example.com.   3600 IN MX    10 reply.ghe.example.com.
    noreply.ghe.example.com. 3600 IN MX    10 ghe.example.com.
    ghe.example.com.         3600 IN A     192.0.2.10  ; only if ghe.example.com has no address yet
state:
  description: The value of O(state).
  returned: success
  type: str
  sample: present
msg:
  description: A one-line summary.
  returned: always
  type: str
  sample: all 4 records are as expected on 2 nameserver(s)
"""

import json
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.mailops.notify.plugins.module_utils._dns_client import (
    DNSPYTHON_IMPORT_ERROR,
    DNSPYTHON_REQUIREMENT,
    HAS_DNSPYTHON,
    TSIG_ALGORITHMS,
    DnsClient,
    RecordsFailure,
    run,
)
from ansible_collections.mailops.notify.plugins.module_utils._dns_expect import DnsExpectError
from ansible_collections.mailops.notify.plugins.module_utils._text import forbidden_character

# Keys fail_json sets itself: a result that carries them must not pass them twice.
_OWN_KEYS = ("msg", "failed", "invocation")


def main() -> None:
    txt_options = {
        "domain": {"type": "str"},
        "value": {"type": "str", "required": True},
    }
    module = AnsibleModule(
        argument_spec={
            "hostname": {"type": "str", "required": True},
            "address": {"type": "list", "elements": "str", "required": True},
            "reply_record": {"type": "str", "choices": ["a", "wildcard"], "default": "a"},
            "ttl": {"type": "int", "default": 3600},
            "mx_priority": {"type": "int", "default": 10},
            "state": {"type": "str", "choices": ["present", "absent", "verify"], "default": "present"},
            "zone": {"type": "str"},
            "nameservers": {"type": "list", "elements": "str"},
            "port": {"type": "int", "default": 53},
            "server": {"type": "str"},
            "key_name": {"type": "str", "no_log": False},
            "key_secret": {"type": "str", "no_log": True},
            "key_algorithm": {"type": "str", "choices": list(TSIG_ALGORITHMS), "default": "hmac-sha256"},
            "wait": {"type": "bool", "default": False},
            "wait_timeout": {"type": "int", "default": 300},
            "timeout": {"type": "float", "default": 5.0},
            "spf": {"type": "dict", "options": txt_options},
            "dmarc": {"type": "dict", "options": txt_options},
            "fail_on_mismatch": {"type": "bool", "default": True},
        },
        required_together=[("key_name", "key_secret")],
        supports_check_mode=True,
    )
    if not HAS_DNSPYTHON:
        module.fail_json(msg=missing_required_lib(DNSPYTHON_REQUIREMENT), exception=DNSPYTHON_IMPORT_ERROR)
    try:
        result = run(DnsClient(timeout=module.params["timeout"]), module.params, check_mode=module.check_mode)
    except RecordsFailure as exc:
        module.fail_json(msg=str(exc), **{k: v for k, v in exc.result.items() if k not in _OWN_KEYS})
    except DnsExpectError as exc:
        hostname = module.params["hostname"]
        shown = hostname if forbidden_character(hostname) is None else json.dumps(hostname)
        module.fail_json(msg=f"{shown}: {exc}", exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
