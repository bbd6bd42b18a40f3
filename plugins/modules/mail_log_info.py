#!/usr/bin/python
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mail_log_info
short_description: Read Postfix logs and the mail queue as per-message records
version_added: 1.0.0
description:
  - >-
    Reads the Postfix log from a file (V(/var/log/mail.log), V(/var/log/maillog), the Postfix O(maillog_file)) or from journald,
    and turns it into one record per message (queue id, message-id, sender, recipients with relay, delays, TLS, DSN and status)
    plus the rejects of the SMTP server (C(NOQUEUE: reject: ...)).
  - Classic syslog and ISO 8601 timestamps, C(journalctl -o json) and C(-o short-iso) output, rotated files and gzip, bzip2 or
    xz compressed files are read. Damaged or truncated lines are skipped. Files are read line by line, so a large log does not
    need much memory; a line longer than 64 KiB is skipped (read in pieces, never held whole), so a file that is one endless
    line cannot fill the memory.
  - Only regular files are read. A path that names a directory, a device (such as V(/dev/zero)), a FIFO or a socket is
    refused before anything is read, because reading it could block or never end; a symlink to a regular file is followed.
  - Every option is checked before anything is read or run; a value out of range, or a text option with a line break or
    another control character, fails with a message that names the option and the rule.
  - Every record whose status is not V(sent) carries a C(diagnosis) from the collection's diagnosis catalogue, the same one
    that M(mailops.notify.smtp_test) uses.
  - With O(wait_for_final=true) the module follows one message until it has left the queue (sent, bounced, expired or discarded).
author: mailops.notify contributors (@mailops)
extends_documentation_fragment:
  - mailops.notify._attributes
  - mailops.notify._attributes.info_module
  - mailops.notify._attributes.idempotent_not_modify_state
options:
  source:
    description:
      - Where to read the log.
      - V(auto) reads O(path) or O(maillog_file) when set; otherwise the file set in Postfix's C(maillog_file) parameter, then
        the first of V(/var/log/mail.log) and V(/var/log/maillog) that exists, and journald when there is no log file.
      - V(file) fails when no log file is found. V(journald) runs C(journalctl) for the C(mail) syslog facility.
    type: str
    choices: [auto, journald, file]
    default: auto
  path:
    description:
      - Log files to read, in this order. Each may be plain or compressed.
      - Each must be a regular file or a symlink to one; a directory, a device, a FIFO or a socket is refused.
      - When not set, the module looks for the default files described in O(source). A default file that is not a regular
        file is skipped with a warning.
    type: list
    elements: path
    aliases: [paths]
  maillog_file:
    description:
      - The file Postfix's C(postlogd) writes (the C(maillog_file) parameter of C(main.cf)), read after O(path).
      - It must be a regular file or a symlink to one. Postfix's V(/dev/stdout) (in a container) cannot be read; use
        O(source=journald) or the container's log there.
    type: path
  include_rotated:
    description:
      - Also read the rotated files next to each log file (C(mail.log.1), C(mail.log.2.gz), C(maillog-20261120.gz)), oldest first.
      - Rotated files last modified before O(since) are skipped.
      - A rotated name that is not a regular file (a directory, a FIFO, a device) is skipped with a warning; the other files
        are still read.
    type: bool
    default: false
  since:
    description:
      - Only return messages seen and rejects logged at or after this time.
      - A duration back from now such as V(2h), V(30m), V(1d) or V(1h30m), or an ISO 8601 time such as V(2026-11-26T14:00:00)
        (local time when it has no offset).
      - A duration reaches back at most 100 years; a time more than one day in the future is refused.
    type: str
  queue_id:
    description:
      - Only return the message with this Postfix queue id (short hex ids and long ids are both accepted).
      - Letters and digits only, at most 64 characters.
    type: str
  message_id:
    description:
      - Only return messages with this C(Message-ID) header, with or without angle brackets.
    type: str
  recipient:
    description:
      - Only return messages (and rejects) for this recipient address (compared without regard to case, C(orig_to) included).
    type: str
  status:
    description:
      - Only return messages with one of these statuses. Rejects are not filtered by status.
    type: list
    elements: str
    choices: [sent, deferred, bounced, expired, discarded, queued]
  include_queue:
    description:
      - Also list the mail queue with C(postqueue -j). A warning is returned when C(postqueue) is missing or fails.
      - O(queue_id) and O(recipient) filter the queue as well; O(message_id) selects the queue ids the log shows for it.
    type: bool
    default: false
  wait_for_final:
    description:
      - Follow the message selected by O(queue_id) or O(message_id) until it has a final status (Postfix logged C(removed),
        or discarded it), reading new log lines every O(poll_interval) seconds.
      - The module fails when O(timeout) passes first, and returns what it found so far.
    type: bool
    default: false
  timeout:
    description:
      - How many seconds O(wait_for_final) waits at most, from V(0) (look once) to V(86400) (one day).
    type: int
    default: 120
  poll_interval:
    description:
      - Seconds between two reads of the log while O(wait_for_final) waits, from V(0.05) to V(3600).
    type: float
    default: 2.0
  limit:
    description:
      - Return at most this many messages and this many rejects (and queue entries), the newest ones. V(0) returns all.
      - From V(0) to V(1000000).
      - RV(summary.messages) and RV(summary.rejects) always count every match.
    type: int
    default: 100
notes:
  - Classic syslog lines carry no year. The year is chosen so that a line is not later than one day after the modification
    time of its file.
  - Classic syslog times are taken as local time of the managed host; journald and ISO times keep their offset.
  - In journald mode the output of C(journalctl) is read at once; use O(since) to bound it on a large journal.
seealso:
  - module: mailops.notify.smtp_test
  - module: mailops.notify.port_check
"""

EXAMPLES = r"""
- name: What happened to mail in the last two hours
  mailops.notify.mail_log_info:
    since: 2h
  register: mail_log

- name: Show the messages that were not delivered
  ansible.builtin.debug:
    msg: "{{ item.queue_id }} {{ item.status }}: {{ item.diagnosis.summary | default(item.reply) }}"
  loop: "{{ mail_log.messages | rejectattr('status', 'equalto', 'sent') }}"
  loop_control:
    label: "{{ item.queue_id }}"

- name: Read a Postfix maillog_file with its rotated copies, only bounces and deferrals
  mailops.notify.mail_log_info:
    maillog_file: /var/log/postfix.log
    include_rotated: true
    status:
      - bounced
      - deferred

- name: Follow the test message until it leaves the queue
  mailops.notify.mail_log_info:
    queue_id: "{{ smtp_result.queue_id }}"
    wait_for_final: true
    timeout: 300
    include_queue: true
  register: followed

- name: Fail unless the test message was delivered
  ansible.builtin.assert:
    that:
      - followed.messages[-1].status == 'sent'
    fail_msg: "{{ followed.messages[-1].diagnosis.summary | default('not delivered') }}"
"""

RETURN = r"""
messages:
  description:
    - One record per message (queue id), oldest first, at most O(limit).
  returned: success
  type: list
  elements: dict
  contains:
    queue_id:
      description: The Postfix queue id.
      type: str
      sample: 51DC9163323
    host:
      description: The host name from the log line.
      type: str
      sample: appliance
    message_id:
      description: The C(Message-ID) header without angle brackets, when the cleanup line was in the log.
      type: str
      sample: b2b9c260-4aaa-4a93-acbb-0b2ddda68579@me.com
    from:
      description: The envelope sender (empty for bounces), when known.
      type: str
      sample: noreply@ghe.example.test
    size:
      description: The message size in bytes, from the queue manager.
      type: int
      sample: 5048
    nrcpt:
      description: The number of recipients, from the queue manager.
      type: int
      sample: 1
    client:
      description: The SMTP client (C(name[address])) that submitted the message, or V(local) for the pickup service.
      type: str
      sample: st11p06mm-asmtp002.mac.com[17.172.124.250]
    status:
      description:
        - V(sent), V(deferred), V(bounced) (at least one recipient bounced), V(expired) (returned to the sender after the
          maximal queue lifetime), V(discarded), or V(queued) (no delivery attempt in the log yet).
      type: str
      sample: sent
    final:
      description: Whether the message has left the queue (Postfix logged C(removed)) or was discarded.
      type: bool
      sample: true
    removed:
      description: Whether Postfix logged C(removed) for the message.
      type: bool
      sample: true
    reply:
      description: The reason text of the recipient that decides the status (the remote server's reply or the local error).
      type: str
      sample: "host relay.lab.test[10.0.0.2] said: 550 5.1.1 <bob@example.org>: Recipient address rejected (in reply to RCPT TO command)"
    bounce_queue_id:
      description: The queue id of the non-delivery notification Postfix generated, if any.
      type: str
      sample: C3D4E5F6A7
    first_seen:
      description: The time of the first log line for the message (ISO 8601).
      type: str
      sample: "2026-11-26T09:00:01+00:00"
    last_seen:
      description: The time of the last log line for the message (ISO 8601).
      type: str
      sample: "2026-11-26T09:00:03+00:00"
    recipients:
      description: The latest delivery attempt for each recipient.
      type: list
      elements: dict
      contains:
        address:
          description: The recipient address.
          type: str
          sample: alice@example.org
        orig_to:
          description: The original recipient before aliasing, when Postfix logged it.
          type: str
          sample: root
        relay:
          description: Where Postfix delivered (C(host[address]:port), V(virtual), V(local), V(none)).
          type: str
          sample: relay.lab.test[10.0.0.2]:587
        delay:
          description: Total seconds from arrival to this attempt.
          type: float
          sample: 0.9
        delays:
          description: Seconds spent before the queue manager, in the queue, in connection setup and in transmission (C(a/b/c/d)).
          type: str
          sample: 0.05/0.01/0.6/0.24
        tls:
          description: The C(tls=) field of Postfix 3.11 and later (the TLS policy and its outcome).
          type: str
          sample: may
        tls_connection:
          description:
            - The TLS connection the SMTP client logged just before this delivery (any Postfix version), or V(null).
            - Keys C(trust) (V(Verified), V(Trusted), V(Untrusted), V(Anonymous)), C(peer), C(protocol), C(cipher) and C(bits).
          type: dict
          sample: {"trust": "Verified", "peer": "relay.lab.test[10.0.0.2]:587", "protocol": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", "bits": "256/256"}
        dsn:
          description: The enhanced status code (RFC 3463).
          type: str
          sample: 2.0.0
        status:
          description: V(sent), V(deferred), V(bounced), V(discarded) (the C(discard) transport), or an address verification result.
          type: str
          sample: sent
        reply:
          description: The text in parentheses at the end of the delivery line.
          type: str
          sample: "250 2.0.0 Ok: queued as 4F00DBA1C2"
        relay_queue_id:
          description: The queue id the next server gave the message (C(queued as ...)), to follow it there.
          type: str
          sample: 4F00DBA1C2
        timestamp:
          description: The time of this delivery attempt (ISO 8601).
          type: str
          sample: "2026-11-26T09:00:02+00:00"
        attempts:
          description: How many delivery attempts for this recipient were in the log.
          type: int
          sample: 1
        diagnosis:
          description:
            - Present when the status is not V(sent); V(null) when nothing is known (for example a discard by policy).
            - Keys C(code), C(summary) and C(hint), as in M(mailops.notify.smtp_test).
          type: dict
          sample: {"code": "unknown_recipient", "summary": "The recipient address does not exist (550 5.1.1).", "hint": "Check the recipient address."}
    diagnosis:
      description:
        - Present when the status is not V(sent); the diagnosis of RV(messages[].reply). V(null) for queued and discarded messages
          whose reason is not in the catalogue; C(unknown) for deferred, bounced and expired ones.
      type: dict
      sample: {"code": "auth_failed", "summary": "Authentication failed: the server rejected the credentials (535/534).", "hint": "Check the password."}
rejects:
  description:
    - Mail the SMTP server (or postscreen, cleanup, a milter) refused, oldest first, at most O(limit).
  returned: success
  type: list
  elements: dict
  contains:
    timestamp:
      description: The time of the reject (ISO 8601).
      type: str
      sample: "2026-11-26T12:00:01+00:00"
    host:
      description: The host name from the log line.
      type: str
      sample: appliance
    program:
      description: The Postfix program that rejected (C(smtpd), C(postscreen), C(cleanup)).
      type: str
      sample: smtpd
    kind:
      description: V(reject) or V(milter-reject).
      type: str
      sample: reject
    queue_id:
      description: The queue id, or V(null) for C(NOQUEUE) rejects.
      type: str
      sample: null
    message_id:
      description: The message-id, when the message had been received already.
      type: str
      sample: null
    stage:
      description: The SMTP stage (V(RCPT), V(MAIL), V(DATA), V(END-OF-MESSAGE), V(CONNECT), V(HEADER), V(BODY)).
      type: str
      sample: RCPT
    client:
      description: The client as C(name[address]).
      type: str
      sample: unknown[203.0.113.7]
    code:
      description: The SMTP reply code, when logged.
      type: int
      sample: 554
    dsn:
      description: The enhanced status code.
      type: str
      sample: 5.7.1
    reply:
      description: The reply text.
      type: str
      sample: "<unknown[203.0.113.7]>: Client host rejected: Access denied"
    from:
      description: The envelope sender.
      type: str
      sample: mattermost@chat.example.test
    to:
      description: The recipient.
      type: str
      sample: user@example.org
    helo:
      description: The HELO/EHLO name the client gave.
      type: str
      sample: chat.example.test
    proto:
      description: V(SMTP) or V(ESMTP).
      type: str
      sample: ESMTP
    diagnosis:
      description: The diagnosis of the reject (keys C(code), C(summary), C(hint)).
      type: dict
      sample: {"code": "relay_denied", "summary": "The server refused to relay the message.", "hint": "Authenticate."}
queue:
  description:
    - The entries of C(postqueue -j) when O(include_queue=true), filtered, at most O(limit); otherwise empty.
  returned: success
  type: list
  elements: dict
  contains:
    queue_id:
      description: The queue id.
      type: str
      sample: E5F6A7B8C9
    queue_name:
      description: V(active), V(deferred), V(hold), V(incoming) or V(maildrop).
      type: str
      sample: deferred
    arrival_time:
      description: When the message arrived (ISO 8601, UTC).
      type: str
      sample: "2026-11-26T09:20:00+00:00"
    message_size:
      description: The size in bytes.
      type: int
      sample: 1600
    forced_expire:
      description: Whether C(postsuper -e) marked the message to expire.
      type: bool
      sample: false
    from:
      description: The envelope sender.
      type: str
      sample: noreply@ghe.example.test
    recipients:
      description: The recipients still to deliver, with C(address), C(delay_reason) and its C(diagnosis) (or V(null)).
      type: list
      elements: dict
      sample: [{"address": "erin@example.org", "delay_reason": "connect to relay.lab.test[10.0.0.2]:587: Connection refused",
                "diagnosis": {"code": "connection_refused", "summary": "...", "hint": "..."}}]
summary:
  description: Counts over everything that matched the filters (before O(limit)).
  returned: success
  type: dict
  contains:
    sources:
      description: The files read (oldest first), or V(journald).
      type: list
      elements: str
      sample: ["/var/log/mail.log.1", "/var/log/mail.log"]
    since:
      description: The O(since) time as ISO 8601, or V(null).
      type: str
      sample: "2026-11-26T13:00:00+00:00"
    generated_at:
      description: When the module ran (ISO 8601, UTC).
      type: str
      sample: "2026-11-26T15:00:00+00:00"
    lines_read:
      description: Lines read from the sources.
      type: int
      sample: 2048
    lines_parsed:
      description: Lines that were Postfix log records.
      type: int
      sample: 1990
    lines_incomplete:
      description: Postfix delivery or queue manager lines that were cut off and could not be used.
      type: int
      sample: 0
    messages:
      description: Messages that matched.
      type: int
      sample: 120
    rejects:
      description: Rejects that matched.
      type: int
      sample: 3
    by_status:
      description: Matching messages per status (keys V(sent), V(deferred), V(bounced), V(expired), V(discarded), V(queued)).
      type: dict
      sample: {"sent": 118, "deferred": 1, "bounced": 1, "expired": 0, "discarded": 0, "queued": 0}
    queue:
      description: Queue entries returned.
      type: int
      sample: 0
    truncated:
      description: Whether O(limit) left out older messages or rejects.
      type: bool
      sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailops.notify.plugins.module_utils._postfix_log import (
    MESSAGE_STATUSES,
    InvalidQuery,
    LogQuery,
    PostfixLogError,
    WaitTimeout,
    parse_since,
    run_query,
)

# Keys fail_json sets itself: a result that carries them must not pass them twice.
_OWN_KEYS = ("msg", "changed", "failed")


class _ModuleRunner:
    """Runs commands for the log reader through AnsibleModule."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module

    def which(self, name: str) -> str | None:
        return self.module.get_bin_path(name)

    def run(self, args: list[str]) -> tuple[int, str, str]:
        return self.module.run_command(args, environ_update={"LC_ALL": "C", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"})


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "source": {"type": "str", "choices": ["auto", "journald", "file"], "default": "auto"},
            "path": {"type": "list", "elements": "path", "aliases": ["paths"]},
            "maillog_file": {"type": "path"},
            "include_rotated": {"type": "bool", "default": False},
            "since": {"type": "str"},
            "queue_id": {"type": "str"},
            "message_id": {"type": "str"},
            "recipient": {"type": "str"},
            "status": {"type": "list", "elements": "str", "choices": list(MESSAGE_STATUSES)},
            "include_queue": {"type": "bool", "default": False},
            "wait_for_final": {"type": "bool", "default": False},
            "timeout": {"type": "int", "default": 120},
            "poll_interval": {"type": "float", "default": 2.0},
            "limit": {"type": "int", "default": 100},
        },
        required_if=[("wait_for_final", True, ("queue_id", "message_id"), True)],
        supports_check_mode=True,
    )
    params = module.params
    try:
        query = LogQuery(
            source=params["source"],
            paths=params["path"] or [],
            maillog_file=params["maillog_file"],
            include_rotated=params["include_rotated"],
            since=parse_since(params["since"]) if params["since"] else None,
            queue_id=params["queue_id"],
            message_id=params["message_id"],
            recipient=params["recipient"],
            statuses=params["status"],
            include_queue=params["include_queue"],
            wait_for_final=params["wait_for_final"],
            timeout=params["timeout"],
            poll_interval=params["poll_interval"],
            limit=params["limit"],
        )
        result, warnings = run_query(query, _ModuleRunner(module))
    except WaitTimeout as exc:
        module.fail_json(msg=str(exc), changed=False, **{k: v for k, v in exc.result.items() if k not in _OWN_KEYS})
    except InvalidQuery as exc:
        module.fail_json(msg=str(exc), changed=False)
    except PostfixLogError as exc:
        module.fail_json(msg=f"Cannot read the Postfix log: {exc}")
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
