#!/usr/bin/python
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: smtp_test
short_description: Run one SMTP session stage by stage and return evidence and a diagnosis
version_added: 1.0.0
description:
  - Connects to an SMTP server and runs one session stage by stage (connect, implicit TLS, banner, EHLO, STARTTLS and
    EHLO again, AUTH, MAIL FROM, RCPT TO, DATA, QUIT), optionally stopping early with O(quit_after).
  - Returns every stage with its reply code, enhanced status code, text and timing, a transcript in the style of swaks
    with authentication payloads and the password masked in every form, the EHLO capabilities before and after
    STARTTLS, the TLS facts, the result of every recipient, the queue id of the accepted message and a diagnosis
    (cause and fix) when something fails.
  - TLS is explicit. With O(security=starttls) or O(security=tls) the session stops when TLS cannot be established; it
    never falls back to plaintext. Certificates are verified by default.
  - A failure returns the same keys as a success, so the failing stage, the transcript and the diagnosis can be read
    from the registered result.
  - Every message carries a unique token in its C(Message-ID) and in a C(X-Mailops-Notify-Token) header, so it can be
    found later in the logs of the relay (see M(mailops.notify.mail_log_info)) or in the recipient's mailbox.
  - Every option is checked before the module connects. Every value that goes on the wire or into a header (O(host),
    O(helo), O(mail_from), O(rcpt_to), O(subject), O(headers), O(tls_server_name), O(username)) is refused when it
    contains a line break (anything Python's C(str.splitlines) splits on, such as CR, LF, U+0085, U+2028 or U+2029),
    NUL or another control character, with a message that names the option and the rule.
  - Every wait is bounded; see O(timeout). A reply may have at most 100 lines and 64 KiB in all; a longer one fails the
    stage as V(protocol_error) and the module stops reading. Reply lines longer than the RFC 5321 limit of 512 octets
    are cut in the result, and the transcript shows at most 40 lines of one reply, so the result stays small whatever
    the server sends.
author: mailops.notify contributors (@mailops)
extends_documentation_fragment:
  - mailops.notify._attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode the module connects, negotiates TLS, authenticates and sends MAIL FROM and RCPT TO, but never
        sends DATA, so no message is sent. The task's C(changed) status then predicts whether a real run would send a message.
  diff_mode:
    support: N/A
    details:
      - The module does not change any configuration.
  idempotent:
    description:
      - When run twice in a row outside check mode, the second run does not report a change.
    support: none
    details:
      - Every run with O(quit_after=data) sends a new message and reports C(changed).
options:
  host:
    description:
      - The SMTP server to connect to, a host name or an IP address.
      - Certificates are checked against this name unless O(tls_server_name) is set.
      - A host name has labels of letters, digits, V(-) and V(_) (or an internationalized name), each of 1 to 63
        characters and at most 253 in all; an IPv6 address is written without brackets. This is checked before
        anything is resolved.
    type: str
    required: true
  port:
    description:
      - The TCP port.
      - Defaults to V(25) for O(security=none), V(587) for O(security=starttls) and V(465) for O(security=tls).
      - From V(1) to V(65535).
    type: int
  security:
    description:
      - How the connection is protected.
      - V(none) speaks plaintext SMTP. V(starttls) requires the server to offer STARTTLS and upgrades the connection
        before anything else is sent. V(tls) starts TLS right after connecting (implicit TLS, SMTPS, usually port 465).
      - There is deliberately no opportunistic mode; a failed STARTTLS is a failure.
    type: str
    choices: [none, starttls, tls]
    default: starttls
  username:
    description:
      - The user name for SMTP AUTH. Without it, the session does not authenticate.
      - Requires O(password).
      - UTF-8 is supported; it is sent as UTF-8 as RFC 4616 defines for V(plain) (V(login) and V(cram-md5) send the same
        bytes). Control characters are refused.
    type: str
  password:
    description:
      - The password for SMTP AUTH.
      - It is masked in the result, also in its base64 forms that appear in AUTH payloads (computed from its UTF-8 bytes).
      - UTF-8 is supported and sent as UTF-8 (RFC 4616). NUL is refused, as RFC 4616 requires.
    type: str
  auth_mechanism:
    description:
      - The SASL mechanism for AUTH.
      - V(auto) picks the strongest mechanism the server offers, in the order V(cram-md5), V(plain), V(login).
    type: str
    choices: [auto, plain, login, cram-md5]
    default: auto
  allow_plaintext_auth:
    description:
      - Allow O(username) and O(password) with O(security=none), which sends the password in clear over the network.
      - Without it, credentials with O(security=none) fail before connecting.
    type: bool
    default: false
  helo:
    description:
      - The domain announced in EHLO (the "Domain" field of the GitHub Enterprise Server email settings).
      - Defaults to the host name of the machine running the module.
      - A host name (the rules of O(host)) or an address literal such as V([192.0.2.1]) or V([IPv6:2001:db8::1]).
    type: str
  mail_from:
    description:
      - The envelope sender (MAIL FROM) and the C(From) header of the test message.
      - Required when O(quit_after) is V(mail), V(rcpt) or V(data).
      - A bare ASCII address C(local@domain) without C(<>), white space or quoted local part (SMTPUTF8 is not supported).
    type: str
  rcpt_to:
    description:
      - The envelope recipients (RCPT TO), also written to the C(To) header.
      - Required when O(quit_after) is V(rcpt) or V(data).
      - Each is a bare address, with the rules of O(mail_from); a bare local part such as V(postmaster) is allowed.
    type: list
    elements: str
    default: []
  subject:
    description:
      - The subject of the test message. Defaults to a subject that contains the token.
      - One line without control characters; non-ASCII text is encoded as RFC 2047 requires.
    type: str
  body:
    description:
      - The plain-text body of the test message. Defaults to a short text that contains the token.
      - Line breaks and tabs are allowed, NUL and other control characters are not.
    type: str
  headers:
    description:
      - Extra headers of the test message, as a dictionary of names and values.
      - Names are printable ASCII without C(:) or white space; values are one line without control characters.
    type: dict
    default: {}
  validate_certs:
    description:
      - Verify the server certificate and its host name.
      - Set to V(false) only for a throw-away test; the result then reports RV(tls.verified=false).
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file with the certificate authorities to trust instead of the system store, for example a lab or
        company CA.
    type: path
  client_cert:
    description:
      - A PEM file with a client certificate (and its key, unless O(client_key) is given) for servers that require one.
    type: path
  client_key:
    description:
      - A PEM file with the private key of O(client_cert).
    type: path
  tls_min_version:
    description:
      - The lowest TLS version to accept. Defaults to the minimum of the Python and OpenSSL configuration.
    type: str
    choices: [TLSv1, TLSv1.1, TLSv1.2, TLSv1.3]
  tls_server_name:
    description:
      - The name sent in SNI and checked against the certificate, when it differs from O(host) (for example when
        O(host) is an IP address).
      - The rules of O(host) apply.
    type: str
  quit_after:
    description:
      - The last stage to run before QUIT. V(data) sends the message.
      - In check mode a V(data) run stops after V(rcpt).
      - V(tls) needs O(security=starttls) or O(security=tls); V(auth) needs O(username).
    type: str
    choices: [connect, banner, ehlo, tls, auth, mail, rcpt, data]
    default: data
  timeout:
    description:
      - The timeout in seconds for each network operation (connect, TLS handshake, each write and each reply).
      - It bounds each whole reply, not each read, so a server that sends a reply byte by byte is cut off when the
        timeout has passed since the reply began (diagnosis V(timeout)).
      - The whole session, from the connection to QUIT, ends after at most four times O(timeout) (the deadline of the
        session; diagnosis V(timeout) when it passes).
      - Must be more than V(0) and at most V(3600).
    type: float
    default: 10
  fail_on_rejected_recipient:
    description:
      - Fail, and send nothing, when the server rejects any recipient.
      - When V(false), the message goes to the accepted recipients and the rejected ones are reported in
        RV(recipients); the task still fails when every recipient is rejected.
    type: bool
    default: true
notes:
  - The module uses only the Python standard library (C(smtplib), C(ssl), C(socket)). When the optional C(cryptography)
    library is present, the certificate subject is also reported when O(validate_certs=false).
seealso:
  - module: mailops.notify.port_check
    description: Check reachability, local listeners and the SMTP banner without sending anything.
  - name: swaks
    description: The Swiss Army Knife for SMTP, whose transcript format this module follows.
    link: https://www.jetmore.org/john/code/swaks/
"""

EXAMPLES = r"""
- name: Send a test message through the relay, as the GitHub Enterprise Server "Send test email" button does
  mailops.notify.smtp_test:
    host: smtp.example.com
    security: starttls
    username: notifications@example.com
    password: "{{ vault_smtp_password }}"
    helo: github.example.com
    mail_from: noreply@github.example.com
    rcpt_to:
      - admin@example.com
  register: smtp_result

- name: Show the queue id and the token to look for in the relay's logs
  ansible.builtin.debug:
    msg: "Queued as {{ smtp_result.queue_id }}, token {{ smtp_result.token }}"

- name: Check only that the submission port offers STARTTLS and AUTH, without sending mail
  mailops.notify.smtp_test:
    host: smtp.example.com
    port: 587
    security: starttls
    quit_after: ehlo
  register: smtp_probe

- name: Assert that AUTH is offered after STARTTLS
  ansible.builtin.assert:
    that:
      - smtp_probe.capabilities.after_tls | select('match', 'AUTH ') | list | length > 0

- name: Test implicit TLS on port 465 against a lab relay with its own CA
  mailops.notify.smtp_test:
    host: relay.lab.example
    security: tls
    ca_path: /etc/ssl/lab-ca.pem
    username: lab
    password: "{{ vault_lab_password }}"
    mail_from: alerts@lab.example
    rcpt_to: [ops@lab.example]

- name: Try the relay and report the diagnosis instead of failing
  mailops.notify.smtp_test:
    host: smtp.example.com
    username: notifications@example.com
    password: "{{ vault_smtp_password }}"
    mail_from: noreply@example.com
    rcpt_to: [admin@example.com]
  register: smtp_result
  ignore_errors: true

- name: Explain a failure
  ansible.builtin.debug:
    msg: "{{ smtp_result.stage_failed }}: {{ smtp_result.diagnosis.summary }} {{ smtp_result.diagnosis.hint }}"
  when: smtp_result is failed
"""

RETURN = r"""
host:
  description: The server that was contacted.
  returned: always
  type: str
  sample: smtp.example.com
port:
  description: The port that was contacted (the effective default when O(port) was not set).
  returned: always
  type: int
  sample: 587
security:
  description: The value of O(security).
  returned: always
  type: str
  sample: starttls
stages:
  description:
    - The stages that ran, in order. A STARTTLS session has two C(ehlo) stages, before and after C(tls).
    - The last stage is C(quit) when the session ended with a QUIT that the server answered.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The stage.
      type: str
      sample: rcpt
    ok:
      description: Whether the stage succeeded.
      type: bool
      sample: true
    code:
      description: The SMTP reply code of the stage, V(null) for stages without a reply (connect, implicit TLS).
      type: int
      sample: 250
    enhanced_code:
      description: The RFC 3463 enhanced status code of the reply, when the server sent one.
      type: str
      sample: 2.1.5
    text:
      description: The reply text (the first line for EHLO), or a description for stages without a reply.
      type: str
      sample: 2.1.5 Ok
    elapsed_ms:
      description: How long the stage took, in milliseconds.
      type: int
      sample: 12
  sample:
    - {name: connect, ok: true, code: null, enhanced_code: null, text: connected to 192.0.2.25:587, elapsed_ms: 8}
    - {name: banner, ok: true, code: 220, enhanced_code: null, text: smtp.example.com ESMTP, elapsed_ms: 21}
stage_failed:
  description: The name of the stage that failed, V(null) when the session succeeded.
  returned: always
  type: str
  sample: auth
transcript:
  description:
    - The session in the style of swaks. C(->) is a line sent, C(<-) a line received, C(**) a note of the module.
    - AUTH payloads are replaced by C(********); the message data and each reply are cut after 40 lines, and a reply
      line after 512 octets, with a note saying so.
  returned: always
  type: list
  elements: dict
  contains:
    dir:
      description: The direction.
      type: str
      choices: ["->", "<-", "**"]
      sample: "->"
    text:
      description: The line, without CRLF.
      type: str
      sample: AUTH PLAIN ********
  sample:
    - {dir: "<-", text: 220 smtp.example.com ESMTP}
    - {dir: "->", text: EHLO github.example.com}
    - {dir: "->", text: AUTH PLAIN ********}
    - {dir: "<-", text: 535 5.7.8 Error authentication failed}
capabilities:
  description: The EHLO keywords (with their parameters) before and after TLS. An empty list for a phase that did not happen.
  returned: always
  type: dict
  contains:
    before_tls:
      description: The keywords announced on the plaintext connection.
      type: list
      elements: str
      sample: [PIPELINING, SIZE 10240000, STARTTLS, 8BITMIME]
    after_tls:
      description: The keywords announced after STARTTLS, or on the implicit TLS connection.
      type: list
      elements: str
      sample: [PIPELINING, SIZE 10240000, AUTH PLAIN LOGIN, 8BITMIME]
  sample: {before_tls: [PIPELINING, STARTTLS], after_tls: [PIPELINING, AUTH PLAIN LOGIN]}
tls:
  description: The TLS facts, V(null) when no TLS handshake was attempted.
  returned: always
  type: dict
  contains:
    version:
      description: The negotiated protocol version.
      type: str
      sample: TLSv1.3
    cipher:
      description: The negotiated cipher suite.
      type: str
      sample: TLS_AES_256_GCM_SHA384
    peer_cert_subject:
      description: The subject of the server certificate.
      type: str
      sample: CN=smtp.example.com
    peer_cert_issuer:
      description: The issuer of the server certificate.
      type: str
      sample: C=US,O=Let's Encrypt,CN=R11
    not_after:
      description: The end of the validity of the server certificate.
      type: str
      sample: Mar  1 12:00:00 2027 GMT
    verified:
      description: Whether the certificate chain and host name were verified.
      type: bool
      sample: true
    verify_error:
      description: Why the handshake or the verification failed, V(null) on success.
      type: str
      sample: "certificate verify failed: self-signed certificate"
  sample:
    version: TLSv1.3
    cipher: TLS_AES_256_GCM_SHA384
    peer_cert_subject: CN=smtp.example.com
    peer_cert_issuer: C=US,O=Let's Encrypt,CN=R11
    not_after: Mar  1 12:00:00 2027 GMT
    verified: true
    verify_error: null
auth_mechanism:
  description: The SASL mechanism used, V(null) without authentication.
  returned: always
  type: str
  sample: PLAIN
recipients:
  description: The answer to RCPT TO for every recipient, keyed by address.
  returned: always
  type: dict
  sample:
    admin@example.com: {accepted: true, code: 250, enhanced_code: 2.1.5, text: 2.1.5 Ok}
    nobody@example.com: {accepted: false, code: 550, enhanced_code: 5.1.1, text: "5.1.1 <nobody@example.com>: Recipient address rejected"}
queue_id:
  description: The queue id from the final reply to DATA (Postfix C(queued as), Exim C(id=)), V(null) when none was given.
  returned: always
  type: str
  sample: 4FQ2Z1XK9C
message_id:
  description: The C(Message-ID) of the message, V(null) when no message was built.
  returned: always
  type: str
  sample: <mailops-notify.6f1c0e2a9b7d4c1e8a3f5b2d7c9e0a14@example.com>
token:
  description: The unique token of this run, also in the C(Message-ID) and the C(X-Mailops-Notify-Token) header.
  returned: always
  type: str
  sample: 6f1c0e2a9b7d4c1e8a3f5b2d7c9e0a14
sent:
  description: Whether the server accepted the message (the final reply to DATA was 250).
  returned: always
  type: bool
  sample: true
would_send:
  description: Whether a real run would send the message (in check mode, whether the envelope was accepted).
  returned: always
  type: bool
  sample: true
diagnosis:
  description:
    - The cause of the failure and how to fix it, from the catalogue of the collection; V(null) on success.
    - Also set on success when some recipients were rejected and O(fail_on_rejected_recipient=false).
  returned: always
  type: dict
  contains:
    code:
      description: The identifier of the diagnosis.
      type: str
      sample: auth_failed
    summary:
      description: What went wrong.
      type: str
      sample: "Authentication failed: the server rejected the credentials (535/534)."
    hint:
      description: What to check or change.
      type: str
      sample: Check the username (often the full email address) and the password.
  sample:
    code: must_issue_starttls
    summary: The server requires STARTTLS before this command (530 5.7.0).
    hint: Set security to starttls (port 587) or tls (port 465); Postfix smtp_tls_security_level = encrypt.
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailops.notify.plugins.module_utils._smtp import (
    AUTH_MECHANISMS,
    DEFAULT_PORTS,
    QUIT_AFTER,
    SECURITY_MODES,
    TLS_VERSIONS,
    SessionResult,
    SmtpConfigError,
    SmtpOptions,
    build_secrets,
    run_session,
)


def main() -> None:
    argument_spec = {
        "host": {"type": "str", "required": True},
        "port": {"type": "int"},
        "security": {"type": "str", "choices": list(SECURITY_MODES), "default": "starttls"},
        "username": {"type": "str"},
        "password": {"type": "str", "no_log": True},
        "auth_mechanism": {"type": "str", "choices": list(AUTH_MECHANISMS), "default": "auto"},
        "allow_plaintext_auth": {"type": "bool", "default": False},
        "helo": {"type": "str"},
        "mail_from": {"type": "str"},
        "rcpt_to": {"type": "list", "elements": "str", "default": []},
        "subject": {"type": "str"},
        "body": {"type": "str"},
        "headers": {"type": "dict", "default": {}},
        "validate_certs": {"type": "bool", "default": True},
        "ca_path": {"type": "path"},
        "client_cert": {"type": "path"},
        "client_key": {"type": "path", "no_log": False},
        "tls_min_version": {"type": "str", "choices": list(TLS_VERSIONS)},
        "tls_server_name": {"type": "str"},
        "quit_after": {"type": "str", "choices": list(QUIT_AFTER), "default": "data"},
        "timeout": {"type": "float", "default": 10},
        "fail_on_rejected_recipient": {"type": "bool", "default": True},
    }
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_together=[("username", "password")],
        required_by={"client_key": "client_cert"},
    )
    p = module.params
    options = SmtpOptions(
        host=p["host"],
        port=p["port"],
        security=p["security"],
        username=p["username"],
        password=p["password"],
        auth_mechanism=p["auth_mechanism"],
        allow_plaintext_auth=p["allow_plaintext_auth"],
        helo=p["helo"],
        mail_from=p["mail_from"],
        rcpt_to=list(p["rcpt_to"]),
        subject=p["subject"],
        body=p["body"],
        headers={str(k): str(v) for k, v in p["headers"].items()},
        validate_certs=p["validate_certs"],
        ca_path=p["ca_path"],
        client_cert=p["client_cert"],
        client_key=p["client_key"],
        tls_min_version=p["tls_min_version"],
        tls_server_name=p["tls_server_name"],
        quit_after=p["quit_after"],
        timeout=p["timeout"],
        fail_on_rejected_recipient=p["fail_on_rejected_recipient"],
        check_mode=module.check_mode,
    )
    try:
        session = run_session(options)
    except SmtpConfigError as exc:
        empty = SessionResult(host=p["host"], port=p["port"] or DEFAULT_PORTS.get(p["security"], 0), security=p["security"])
        empty.secrets = build_secrets(p["username"], p["password"])
        result = empty.as_dict()
        result.pop("msg")
        module.fail_json(msg=f"Invalid options: {exc}", changed=False, **result)
    result = session.as_dict()
    msg = result.pop("msg")
    result["changed"] = bool(session.sent or (module.check_mode and session.would_send))
    if session.failed:
        module.fail_json(msg=msg, **result)
    module.exit_json(msg=msg, **result)


if __name__ == "__main__":
    main()
