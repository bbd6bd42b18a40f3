#!/usr/bin/python
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: support_bundle
short_description: Turn troubleshooting evidence into a verdict and a redacted support bundle with an HTML report
version_added: 1.0.0
description:
  - Takes the evidence that a troubleshooting play gathered on a host (the results of M(mailops.notify.port_check),
    M(mailops.notify.smtp_test), M(mailops.notify.dns_mail_records), M(mailops.notify.mail_log_info), the firewall state
    and C(postconf -n)) and computes the state of every hop of the mail path, outbound (application, Postfix, relay,
    recipient) and inbound (outside, MX, port 25, reply Maildir), with its evidence and a diagnosis from the collection's
    catalogue.
  - Returns one verdict line per direction that names the broken hop, its cause with the server's reply code and what to do,
    for example that the relay rejects the credentials (535 5.7.8) and the app password needs checking.
  - Writes a gzip-compressed tarball O(dest) with mode C(0600) that contains C(verdict.txt), C(report.html) (one
    self-contained page without JavaScript or external assets that draws the mail path with each hop green or red),
    C(evidence.json) and C(postconf.txt).
  - Everything is redacted before it is written. Every value in O(secrets) is masked in plain text, in the base64
    forms of SMTP AUTH payloads, URL-encoded (as C(quote) and C(quote_plus) write it, C(+) for a space, upper or lower
    case hex), JSON-escaped (C(\uXXXX) for non-ASCII characters) and HTML-escaped; values of keys that look like
    passwords, C(postconf) parameters with inline credentials and AUTH payloads in logs are masked too. Before writing,
    the module scans every member and its own result for every form of every secret and fails, writing nothing, when one
    is found.
  - O(evidence) and O(secrets) are C(no_log). The result shows them as hidden in C(invocation) (also at C(-vvv)), the
    host's log does not get them, and every form of every secret is masked in whatever the module returns.
  - O(dest) is checked before anything is built, also in check mode; a path that cannot be written fails with a
    message that names O(dest).
  - Run it on the controller with C(delegate_to=localhost), so the bundle stays where the operator is.
author: mailops.notify contributors (@mailops)
extends_documentation_fragment:
  - mailops.notify._attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode the module computes and returns the verdict but writes nothing.
  diff_mode:
    support: N/A
    details:
      - The bundle is a new file on every run; there is nothing to compare.
  idempotent:
    support: none
    details:
      - Every run writes a new bundle (with the time it was made) and reports C(changed).
options:
  evidence:
    description:
      - The evidence, a dictionary of registered results. Every key is optional; a missing or skipped piece makes its
        hops V(unknown).
      - C(port_check) is the result of M(mailops.notify.port_check) (egress to the relay in C(targets), port 25 in
        C(listening)); C(smtp_probe) the result of M(mailops.notify.smtp_test) against the relay; C(dns) the result of
        M(mailops.notify.dns_mail_records) with O(mailops.notify.dns_mail_records#module:state=verify); C(mail_log) the
        result of M(mailops.notify.mail_log_info); C(postconf) the output of C(postconf -n) (a string, a list of lines,
        or a registered command result).
      - C(firewall) is a dictionary with C(backend) (V(nftables), V(firewalld), V(ufw) or V(none)), C(output) (the output
        of C(nft list ruleset), C(firewall-cmd --list-all) or C(ufw status verbose)) and C(rc). The backend can also be
        given as a first output line C(backend) followed by a colon and the name.
      - The evidence carries secrets (transcripts, logs), so it is C(no_log); the task needs no C(no_log) of its own.
      - C(relay) is a dictionary with C(host), C(port) and C(security) of the relay; without it the relay is read from
        C(relayhost) in C(postconf). C(inbound) (a boolean) says whether replies by email are expected; without it, it is
        guessed from C(dns) and C(postconf). C(reply_domain) defaults to C(reply.<hostname>). C(log_hours) is the period
        of the log that was read. C(outside_port_check) is a M(mailops.notify.port_check) result towards port 25 from
        another host.
    type: dict
    required: true
  secrets:
    description:
      - The secrets to remove from the bundle and from the result, for example the relay password and the TSIG key.
      - Each is masked in plain text, as C(base64(secret)), as the base64 of the C(AUTH PLAIN) payload, as any base64
        text that contains it, and URL-encoded, JSON-escaped and HTML-escaped.
    type: list
    elements: str
    default: []
  dest:
    description:
      - The path of the tarball to write, on the host the module runs on (the controller with C(delegate_to=localhost)).
      - Missing parent directories are created with mode C(0700). An existing file is replaced.
      - It must not be a directory or an existing non-regular file, and the nearest existing directory above it must be
        writable; otherwise the module fails before building anything, and writes nothing.
    type: path
    required: true
  hostname:
    description:
      - The host name of the instance, used in the report and for C(reply.<hostname>).
      - Defaults to C(hostname) in O(evidence), then to C(myhostname) from C(postconf).
    type: str
notes:
  - The report shows evidence, not secrets; still, treat the bundle as confidential (it names hosts, addresses and
    recipients).
seealso:
  - module: mailops.notify.smtp_test
  - module: mailops.notify.port_check
  - module: mailops.notify.dns_mail_records
  - module: mailops.notify.mail_log_info
"""

EXAMPLES = r"""
- name: Write the support bundle on the controller
  mailops.notify.support_bundle:
    hostname: ghe.example.com
    dest: /tmp/ghe.example.com-mail-support.tar.gz
    secrets:
      - "{{ vault_smtp_password }}"
    evidence:
      port_check: "{{ relay_reach }}"
      smtp_probe: "{{ relay_probe }}"
      dns: "{{ reply_dns }}"
      firewall:
        backend: nftables
        output: "{{ nft_ruleset.stdout }}"
        rc: "{{ nft_ruleset.rc }}"
      mail_log: "{{ mail_log }}"
      postconf: "{{ postconf_n.stdout }}"
      relay:
        host: smtp.example.com
        port: 587
  delegate_to: localhost
  register: bundle

- name: Print the verdict
  ansible.builtin.debug:
    msg: "{{ bundle.verdicts }}"
"""

RETURN = r"""
ok:
  description: Whether no hop failed.
  returned: always
  type: bool
  sample: false
verdicts:
  description: One line per direction, the first failed hop with its cause and what to do, or V(ok).
  returned: always
  type: list
  elements: str
  sample:
    - "outbound: relay rejects the credentials (535 5.7.8) - check the username and the (app) password"
    - "inbound: MX for reply.ghe.example.com missing on ns2.example.com - create or fix it with mailops.notify.dns_mail_records (state=present)"
hops:
  description: The hops of the mail path, outbound first, in the order mail travels.
  returned: always
  type: list
  elements: dict
  contains:
    direction:
      description: V(outbound) or V(inbound).
      type: str
      sample: outbound
    key:
      description: The hop, V(submission), V(relay) or V(delivery) outbound, V(mx), V(port25) or V(maildir) inbound.
      type: str
      sample: relay
    label:
      description: The hop as C(source → target).
      type: str
      sample: "Postfix → relay smtp.example.com:587"
    source:
      description: Where the hop starts.
      type: str
      sample: Postfix
    target:
      description: Where the hop ends.
      type: str
      sample: relay smtp.example.com:587
    status:
      description: V(ok), V(failed) or V(unknown) (no evidence, or a hop before failed).
      type: str
      sample: failed
    summary:
      description: One line about the hop.
      type: str
      sample: "relay rejects the credentials (535 5.7.8) - check the username and the (app) password"
    evidence:
      description: The facts the status is based on.
      type: list
      elements: str
      sample: ["TCP smtp.example.com:587: open", "<- 535 5.7.8 Error: authentication failed"]
    diagnosis:
      description: The diagnosis from the collection's catalogue (keys C(code), C(summary), C(hint)), or V(null).
      type: dict
      sample: {"code": "auth_failed", "summary": "Authentication failed: the server rejected the credentials (535/534).", "hint": "Check the username."}
inbound_checked:
  description: Whether the inbound path was analysed (inbound mail is expected).
  returned: always
  type: bool
  sample: true
bundle:
  description: The path of the tarball (in check mode, the path it would have).
  returned: always
  type: str
  sample: /tmp/ghe.example.com-mail-support.tar.gz
members:
  description: The files in the tarball, under a directory named after the tarball.
  returned: always
  type: list
  elements: str
  sample:
    - ghe.example.com-mail-support/verdict.txt
    - ghe.example.com-mail-support/report.html
    - ghe.example.com-mail-support/evidence.json
    - ghe.example.com-mail-support/postconf.txt
written:
  description: Whether the tarball was written (V(false) in check mode).
  returned: always
  type: bool
  sample: true
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailops.notify.plugins.module_utils._bundle import (
    BundleError,
    SecretLeakError,
    build_bundle,
    bundle_prefix,
    check_dest,
    tar_gz,
    write_private,
)
from ansible_collections.mailops.notify.plugins.module_utils._redact import secret_forms
from ansible_collections.mailops.notify.plugins.module_utils._verdict import VerdictError

ARGUMENT_SPEC = {
    "evidence": {"type": "dict", "required": True, "no_log": True},
    "secrets": {"type": "list", "elements": "str", "default": [], "no_log": True},
    "dest": {"type": "path", "required": True},
    "hostname": {"type": "str"},
}
# What Ansible shows for a no_log option.
_HIDDEN = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
# Keys fail_json and exit_json set themselves: a result that carries them must not pass them twice.
_OWN_KEYS = ("msg", "changed", "failed", "invocation")


def _private(module: AnsibleModule) -> None:
    """Make Ansible hide exactly the secrets, in every form, in what the module returns.

    The evidence is no_log, so Ansible would mask every one of its strings ("ok", "25", host names) wherever it
    appears in the result, which would garble the verdict. The module redacts the evidence itself; what Ansible still
    masks in the result is every form of every secret. The invocation shows the evidence as hidden.
    """
    module.no_log_values.clear()
    module.no_log_values.update(secret_forms(module.params["secrets"]))


def _invocation(module: AnsibleModule) -> dict:
    args = {name: (_HIDDEN if spec.get("no_log") and module.params.get(name) else module.params.get(name)) for name, spec in ARGUMENT_SPEC.items()}
    return {"module_args": args}


def _fail(module: AnsibleModule, msg: str, **result) -> None:
    extra = {k: v for k, v in result.items() if k not in _OWN_KEYS}
    module.fail_json(msg=msg, changed=False, invocation=_invocation(module), **extra)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    _private(module)
    p = module.params
    dest = p["dest"]
    try:
        check_dest(dest)
    except BundleError as exc:
        _fail(module, f"Cannot write the support bundle: {exc}", bundle=dest, written=False)
    prefix = bundle_prefix(dest)
    try:
        bundle = build_bundle(p["evidence"], p["secrets"], hostname=p["hostname"] or "", prefix=prefix)
    except SecretLeakError as exc:
        _fail(module, f"Refusing to write the support bundle: {exc}", bundle=dest, written=False)
    except (BundleError, VerdictError) as exc:
        _fail(module, f"Cannot build the support bundle: {exc}", bundle=dest, written=False)
    result = bundle.result()
    result.update(
        changed=True,
        bundle=dest,
        members=[f"{prefix}/{name}" for name in bundle.members],
        written=False,
    )
    if not module.check_mode:
        try:
            write_private(dest, tar_gz(bundle.members, prefix))
        except OSError as exc:
            _fail(module, f"Cannot write the support bundle: dest {dest}: {exc.strerror or exc}", exception=traceback.format_exc(), **result)
        result["written"] = os.path.exists(dest)
    result.update(msg="; ".join(result["verdicts"]), invocation=_invocation(module))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
