#!/usr/bin/python
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: smtp_settings
short_description: Manage an application's SMTP settings for notification email
version_added: 1.0.0
description:
  - Sets the outgoing-mail settings of GitHub Enterprise Server (through the Manage GHES API), Mattermost (C(config.json)),
    GitLab Omnibus (C(gitlab.rb)), Gitea/Forgejo (C(app.ini)) or Prometheus Alertmanager (the C(global) SMTP keys of
    C(alertmanager.yml)) with one vocabulary of options.
  - Options that are not set are not managed and keep the value stored in the application.
  - Every rule is checked before anything is written; a failure names the option and the rule.
    Credentials with O(security=none) are refused (Mattermost's rule, applied to every application) unless
    O(allow_plaintext_auth=true) and the server is local. For O(app=mattermost) they are refused on every host, local ones too, and
    O(allow_plaintext_auth) is refused, because Mattermost opens its SMTP session under the name C(SMTPServer:SMTPPort), so Go's
    C(net/smtp) PlainAuth sees C(localhost:25), which is not exactly C(localhost), C(127.0.0.1) or C(::1), and refuses the
    unencrypted connection, and Mattermost's LOGIN refuses every connection without TLS. A support URL must start with C(http://) or C(https://).
    Email addresses must be C(local@domain). O(port) must be 1 to 65535. Port 465 with V(starttls) and port 587 with
    V(tls) are refused. An O(auth) or O(security) value the application cannot do, an option the application has no setting for,
    and a O(provider) preset contradicted by explicit options in a way the provider refuses are refused. Checks on O(extra)
    keys follow the application's own validation (for example Mattermost C(EmailBatchingInterval) of at least 30).
  - File backends edit only their keys and leave every other byte of the file as it was. Writes are atomic and keep
    the file's owner and mode. The application must be restarted (Mattermost, Gitea) or reconfigured (GitLab,
    C(gitlab-ctl reconfigure)) or reloaded (Alertmanager, C(systemctl reload prometheus-alertmanager) or
    C(POST /-/reload) on port 9093) to pick up the change. Register the result and run that step in a task that runs
    only when the result is changed, as the examples do.
  - Every string value (options and O(extra) values) must be one line of printable text. Line breaks and control characters
    (C(\n), C(\r), NUL, TAB, U+000B, U+000C, U+001C to U+001E, U+0085, U+2028, U+2029 and the other C0 and C1 controls) are refused
    in every backend, so no value can add a line, a section or a statement to the configuration.
  - The file must be UTF-8; a file with any other byte sequence is refused before anything changes, naming the byte offset.
    C(gitlab.rb) and C(app.ini) are read line by line at C(\n) only, as Ruby and Gitea read them.
    A C(config.json) with a key twice in one object is refused (Mattermost would silently use the last one).
    A C(gitlab.rb) key whose current value continues on the next line is refused rather than half replaced, and where Ruby is
    installed (GitLab's C(/opt/gitlab/embedded/bin/ruby) first) the edited C(gitlab.rb) must pass C(ruby -c) before it replaces the old one;
    likewise an edited C(alertmanager.yml) must pass C(amtool check-config) where amtool is installed.
  - C(alertmanager.yml) is edited line by line without a YAML library. What cannot be edited safely is refused, naming the line and the reason
    (a flow-style C(global), anchors, aliases, tags or multi-line values on the managed keys, tabs in the indentation, duplicate keys).
  - When O(path) is a symbolic link, the link is followed as M(ansible.builtin.lineinfile) does. The target file is edited in place,
    the link stays a link, and the backup is made next to the target.
  - "Mapping of the options to each application's settings
    (V(ghes): keys of the Manage API C(smtp) object; V(mattermost): C(config.json) keys, in C(EmailSettings) unless a section is given;
    V(gitlab): C(gitlab_rails[...]) keys of C(gitlab.rb); V(gitea): keys of the C([mailer]) section of C(app.ini); - means not supported):"
  - "O(enabled): ghes C(enabled); mattermost C(SendEmailNotifications); gitlab C(smtp_enable) and C(gitlab_email_enabled);
    gitea C(ENABLED) and C([service] ENABLE_NOTIFY_MAIL)."
  - "O(host): ghes C(address); mattermost C(SMTPServer); gitlab C(smtp_address); gitea C(SMTP_ADDR);
    alertmanager the host part of C(smtp_smarthost) (C(host:port), an IPv6 address in brackets)."
  - "O(port): ghes C(port) (a JSON string); mattermost C(SMTPPort) (a JSON string); gitlab C(smtp_port) (an integer); gitea C(SMTP_PORT);
    alertmanager the port part of C(smtp_smarthost)."
  - "O(security): ghes C(enable_starttls_auto) (V(none) or V(starttls) only: the API has no implicit-TLS field);
    mattermost C(ConnectionSecurity) (C(\"\"), C(STARTTLS), C(TLS)); gitlab C(smtp_enable_starttls_auto) and C(smtp_tls), and a
    C(smtp_ssl) line that is present is set to C(false) unless O(security=tls) (GitLab treats C(smtp_ssl) like C(smtp_tls), so a
    leftover C(smtp_ssl = true) would override V(starttls); a warning says so);
    gitea C(PROTOCOL) (C(smtp), C(smtp+starttls), C(smtps)), which is also written when only O(host) or O(port) is set and the file
    has none (the protocol Gitea infers, with a warning). Read from a file without C(PROTOCOL), the security is the one Gitea uses:
    port 25 V(none), 465 V(tls), 587 V(starttls), any other port or none V(tls) (Gitea assumes C(smtps), on port 465 when no port
    is set; a warning says so); an address that is a path is C(smtp+unix) and has no security value;
    alertmanager C(smtp_require_tls) (Alertmanager speaks implicit TLS on port 465 and only there, so V(tls) means port 465
    with C(smtp_require_tls: false); V(starttls) is C(true), V(none) C(false))."
  - "O(helo_domain): ghes C(domain); mattermost -; gitlab C(smtp_domain); gitea C(HELO_HOSTNAME); alertmanager C(smtp_hello)."
  - "O(auth): ghes C(authentication) (C(plain), C(login), C(cram_md5), empty for V(none)); mattermost C(EnableSMTPAuth)
    (Mattermost picks PLAIN, else LOGIN; no V(cram-md5)); gitlab C(smtp_authentication); gitea has no key
    (Gitea picks CRAM-MD5, PLAIN or LOGIN; V(none) empties C(USER) and C(PASSWD)); alertmanager has no key (it takes the first
    mechanism the server offers that it has a credential for: V(cram-md5) writes the password to C(smtp_auth_secret), V(plain) and
    V(login) to C(smtp_auth_password); its LOGIN needs a server that asks C(Username:), as Cyrus and Dovecot do)."
  - "O(username): ghes C(username) and C(user_name); mattermost C(SMTPUsername); gitlab C(smtp_user_name); gitea C(USER);
    alertmanager C(smtp_auth_username)."
  - "O(password): ghes C(password); mattermost C(SMTPPassword); gitlab C(smtp_password); gitea C(PASSWD);
    alertmanager C(smtp_auth_password) (C(smtp_auth_secret) with V(cram-md5)). Alertmanager (Go's PlainAuth) sends credentials without
    TLS only to exactly C(localhost), C(127.0.0.1) or C(::1); other hosts are refused with O(security=none)."
  - "O(from_address): ghes C(noreply_address); mattermost C(FeedbackEmail); gitlab C(gitlab_email_from); gitea C(FROM);
    alertmanager C(smtp_from) (with O(from_name) as its display name; C({{) is refused, the value is a Go template)."
  - "O(from_name): ghes -; mattermost C(FeedbackName); gitlab C(gitlab_email_display_name); gitea the name part of C(FROM);
    alertmanager the name part of C(smtp_from)."
  - "O(reply_to): ghes -; mattermost C(ReplyToAddress); gitlab C(gitlab_email_reply_to); gitea -; alertmanager -."
  - "O(support_address) and O(support_address_type): ghes C(support_address) and C(support_address_type);
    mattermost C(SupportSettings.SupportEmail) (email only); gitlab -; gitea -."
  - "O(discard_to_noreply): ghes C(discard-to-noreply-address); others - (the role's Postfix part discards mail to the noreply address)."
  - "O(validate_certs): ghes -; mattermost C(SkipServerCertificateVerification) (inverted); gitlab C(smtp_openssl_verify_mode)
    (C(peer) or C(none)); gitea C(FORCE_TRUST_SERVER_CERT) (inverted)."
  - "Alertmanager has no setting for O(enabled), O(reply_to), O(support_address), O(discard_to_noreply) or O(validate_certs)
    (certificates are checked against the system's trust store; a per-receiver C(tls_config) is not managed); these are refused.
    Its only O(extra) keys are C(smtp_auth_identity) and C(smtp_auth_password_file) (not together with O(password))."
  - "Guide fields without a common option go in O(extra): Mattermost 'Allow Sign Up With Email' is C(EnableSignUpWithEmail),
    'Enable Email Invitations' is C(ServiceSettings.EnableEmailInvitations); GHES 'Enforce TLS auth' has no published API key
    (pass the key your appliance uses, it is sent verbatim in the C(smtp) object). GHES 'Save settings' is O(apply).
    The 'Test email settings' and 'Test Connection' buttons are M(mailops.notify.smtp_test)."
  - "How the password is compared (O(update_password=always) is idempotent only where the stored password can be read):
    Mattermost, GitLab and Gitea store it in clear text in the file, so the stored value is compared with O(password).
    The Manage GHES API returns C(smtp.password) in its documented examples and the stored value is then compared; if an appliance
    does not return it (absent or masked), V(always) sends it on every run and reports a change (with a warning), and
    V(on_create) sends it only when no username is stored."
  - The GHES backend runs on the controller (or wherever the task runs) and talks HTTPS to the appliance's port 8443.
    Its tests run against a small fake HTTP server that implements the documented API semantics (partial PUT answered with
    204, configuration runs with run ids, a failing run), because no GHES appliance can run in the test environment.
author: mailops.notify contributors (@mailops)
extends_documentation_fragment:
  - mailops.notify._attributes
  - mailops.notify._attributes.files
attributes:
  check_mode:
    support: full
    details:
      - Reads the current settings (a file or C(GET /manage/v1/config/settings)) and never writes or calls a mutating API.
  diff_mode:
    support: full
    details:
      - The diff is returned only in diff mode. It holds only the settings the module owns, never the whole file (which holds
        database passwords, encryption keys and tokens). It holds the C(EmailSettings) keys, C(SupportSettings.SupportEmail) and the
        O(extra) keys (Mattermost), the C(gitlab_rails) C(smtp_*) and C(gitlab_email_*) keys (GitLab), the C([mailer]) keys and
        C([service] ENABLE_NOTIFY_MAIL) (Gitea), the C(smtp) object (GHES). Every password and every key that looks secret is masked.
  idempotent:
    support: full
    description: When run twice in a row with the same arguments, the second run reports no change.
    details:
      - With O(update_password=always) on a GHES appliance that does not return the stored password, every run sends it.
options:
  app:
    description:
      - The application whose settings are managed.
    type: str
    required: true
    choices: [ghes, mattermost, gitlab, gitea, alertmanager]
  path:
    description:
      - The configuration file of a file-based application.
      - Defaults to C(/opt/mattermost/config/config.json), C(/etc/gitlab/gitlab.rb), C(/etc/gitea/app.ini) or
        C(/etc/prometheus/alertmanager.yml).
      - The file must exist and be UTF-8. Ignored for O(app=ghes).
      - A symbolic link is followed; the target is written and the link is kept.
    type: path
  backup:
    description:
      - Create a backup copy of the file, with a timestamp, before changing it.
      - The copy is created with mode C(0600) (it holds the application's secrets) and the owner and group of the file,
        next to the file (next to the target when O(path) is a symbolic link).
    type: bool
    default: false
  provider:
    description:
      - A preset for O(host), O(port), O(security) and O(auth), from the Mattermost guide's sample settings.
      - V(ses) is Amazon SES (C(email-smtp.<region>.amazonaws.com), 465, V(tls)); V(gmail) is C(smtp.gmail.com), 587, V(starttls);
        V(outlook) is Hotmail/Outlook.com (C(smtp-mail.outlook.com), 587, V(starttls)); V(office365) is C(smtp.office365.com), 587,
        V(starttls); V(local_postfix) is C(localhost), 25, no security and no credentials.
      - Explicit options override the preset, but only with values the provider accepts.
    type: str
    choices: [ses, gmail, outlook, office365, local_postfix]
  provider_region:
    description:
      - The AWS region of O(provider=ses).
      - Defaults to V(us-east-1) when O(provider=ses).
    type: str
  enabled:
    description:
      - Whether the application sends email notifications.
    type: bool
  host:
    description:
      - The SMTP server (host name or IP address, no scheme, no port).
    type: str
  port:
    description:
      - The SMTP server's port.
    type: int
  security:
    description:
      - How the connection is protected. V(starttls) upgrades a plaintext connection (port 587 or 25), V(tls) is implicit TLS (port 465).
    type: str
    choices: [none, starttls, tls]
  helo_domain:
    description:
      - The domain sent in the HELO/EHLO greeting.
    type: str
  auth:
    description:
      - The SMTP authentication mechanism. V(none) removes the stored credentials.
      - Mattermost and Gitea negotiate the mechanism themselves; for them the value only has to be one they can do.
      - When O(username) is set and O(auth) is not, Mattermost authentication is switched on.
    type: str
    choices: [none, plain, login, cram-md5]
  username:
    description:
      - The SMTP user name.
    type: str
  password:
    description:
      - The SMTP password. Never returned; masked in RV(settings) and RV(diff).
      - This is the only way to set it; the application's password key is refused in O(extra).
    type: str
  update_password:
    description:
      - V(always) sets O(password) when it differs from the stored one.
      - V(on_create) sets it only when no password is stored yet.
    type: str
    default: always
    choices: [always, on_create]
  allow_plaintext_auth:
    description:
      - Allow credentials with O(security=none). Only accepted for a local server (V(localhost), V(127.0.0.1), V(::1)).
    type: bool
    default: false
  from_address:
    description:
      - The sender address of notifications (GHES "No-reply email address", Mattermost "Notification Email Address").
    type: str
  from_name:
    description:
      - The sender display name (Mattermost "Notification Display Name").
    type: str
  reply_to:
    description:
      - The Reply-To address of notifications.
    type: str
  support_address:
    description:
      - The support link offered to users, an email address or a URL.
    type: str
  support_address_type:
    description:
      - Whether O(support_address) is an email address or a URL. A URL must start with C(http://) or C(https://).
      - Guessed from O(support_address) when not set.
    type: str
    choices: [email, url]
  discard_to_noreply:
    description:
      - Discard email addressed to the no-reply address (GHES).
    type: bool
  validate_certs:
    description:
      - Whether the application verifies the SMTP server's TLS certificate.
    type: bool
  extra:
    description:
      - Application keys the common options do not cover, as key/value pairs, checked against the application's rules.
      - V(mattermost) keys are C(EmailSettings) keys (C(EnableEmailBatching), C(EmailBatchingInterval), ...), or C(Section.Key)
        for an existing key of another section. Values are converted to the key's JSON type.
      - V(gitlab) keys are the C(smtp_*) and C(gitlab_email_*) keys GitLab Omnibus maps to its mail settings (C(smtp_pool), C(smtp_ca_file),
        C(smtp_ca_path), C(smtp_open_timeout), C(smtp_read_timeout), C(smtp_ssl), C(gitlab_email_subject_suffix), C(gitlab_email_smime_*), ...);
        any other key would be ignored by C(gitlab-ctl reconfigure) and is refused. C(smtp_ssl) is refused together with O(security).
      - V(gitea) keys are C([mailer]) keys (C(SUBJECT_PREFIX), C(ENVELOPE_FROM), ...); the deprecated pre-1.18 keys are refused.
      - V(ghes) keys are sent verbatim in the C(smtp) object.
      - A key that a set option already writes is refused.
      - Secrets are refused here, because this option is not C(no_log) (its values are shown in logs, results and diffs).
        That is the application's password key in any case (Mattermost C(SMTPPassword), GitLab C(smtp_password), Gitea C(PASSWD),
        GHES C(password)) and every key that looks secret (C(*password*), C(*secret*), C(*token*), C(*salt*), C(DataSource)...).
        Set the SMTP password with O(password), which is C(no_log). The value of a refused key is kept out of the log that
        Ansible writes on the target and out of the result.
      - V(mattermost) keys outside C(EmailSettings) must be booleans or numbers (the string keys there hold the database DSN, keys and salts).
    type: dict
  service:
    description:
      - For O(app=mattermost), the systemd service of the Mattermost server. Before anything is written (also in check mode), the
        module reads C(systemctl show) of this service (its C(Environment), C(EnvironmentFiles) and C(ExecStart)), the environment
        files it names and, where readable, C(/proc/<pid>/environ) and C(/proc/<pid>/cmdline) of every running process called
        C(mattermost), and fails with "is not what Mattermost reads" when the edit would change nothing Mattermost uses. That is when
        the configuration is in the database (C(--config) or C(MM_CONFIG) is a C(mysql://) or C(postgres://) DSN), or in another
        file (an absolute path that is not O(path), or a relative one with another file name; without either, Mattermost reads
        C(config.json)), or when an environment variable C(MM_<SECTION>_<KEY>) (for example C(MM_EMAILSETTINGS_SMTPSERVER),
        any case) overrides a setting the task writes. A variable that overrides another C(EmailSettings) key gives a warning.
      - Messages name the variables and where they are set, never their values (a DSN holds the database password).
      - Without systemd, or when the service does not exist, only the running processes are checked. A file or process that
        cannot be read gives a warning.
      - An empty string skips the check. Ignored for other applications.
    type: str
    default: mattermost
  api_url:
    description:
      - The Manage GHES API base URL, for example C(https://ghe.example.com:8443). Required for O(app=ghes).
      - Credentials in the URL (C(user:password@)) are refused; use O(api_username) and O(api_password).
    type: str
  api_username:
    description:
      - The Manage GHES API user.
    type: str
    default: api_key
  api_password:
    description:
      - The root site administrator password (or a Management Console user's password). Required for O(app=ghes).
    type: str
  api_validate_certs:
    description:
      - Whether to verify the appliance's TLS certificate.
    type: bool
    default: true
  api_timeout:
    description:
      - Timeout in seconds of each API request.
    type: int
    default: 30
  apply:
    description:
      - For O(app=ghes), start a configuration run (the "Save settings" button) after a change and wait for it.
    type: bool
    default: true
  apply_timeout:
    description:
      - How long to wait for the configuration run, in seconds.
    type: int
    default: 1800
  apply_poll_interval:
    description:
      - Seconds between two polls of the configuration run.
    type: float
    default: 5
requirements:
  - Python 3.9 or newer.
notes:
  - Mattermost configuration stored in the database (C(MM_CONFIG) or C(--config) set to a database DSN) and C(MM_EMAILSETTINGS_*)
    environment overrides are not managed, and the module fails when it finds them (see O(service)); environment overrides win over the file.
seealso:
  - module: mailops.notify.smtp_test
    description: Send a test message through the same server, stage by stage.
"""

EXAMPLES = r"""
- name: Send Mattermost notifications through Amazon SES
  mailops.notify.smtp_settings:
    app: mattermost
    path: /opt/mattermost/config/config.json
    provider: ses
    provider_region: eu-west-1
    username: "{{ vault_ses_smtp_username }}"
    password: "{{ vault_ses_smtp_password }}"
    update_password: on_create
    enabled: true
    from_address: mattermost@example.com
    from_name: Mattermost
    extra:
      EnableSignUpWithEmail: true
      ServiceSettings.EnableEmailInvitations: true
  register: mattermost_email

- name: Restart Mattermost when its settings changed
  ansible.builtin.systemd_service:
    name: mattermost
    state: restarted
  when: mattermost_email is changed

- name: Relay GitLab mail through the local Postfix
  mailops.notify.smtp_settings:
    app: gitlab
    provider: local_postfix
    enabled: true
    helo_domain: gitlab.example.com
    from_address: gitlab@example.com
    reply_to: noreply@example.com
    backup: true
  register: gitlab_email

- name: Reconfigure GitLab when its settings changed
  ansible.builtin.command:
    cmd: gitlab-ctl reconfigure
  when: gitlab_email is changed
  changed_when: true

- name: Configure Gitea to send through Office 365
  mailops.notify.smtp_settings:
    app: gitea
    path: /etc/gitea/app.ini
    provider: office365
    username: gitea@example.com
    password: "{{ vault_o365_password }}"
    from_address: gitea@example.com
    from_name: Gitea
    enabled: true
    extra:
      SUBJECT_PREFIX: "[gitea]"
  register: gitea_email

- name: Restart Gitea when its settings changed
  ansible.builtin.systemd_service:
    name: gitea
    state: restarted
  when: gitea_email is changed

- name: Send Alertmanager's notifications through the relay on 587 (STARTTLS)
  mailops.notify.smtp_settings:
    app: alertmanager
    path: /etc/prometheus/alertmanager.yml
    host: smtp.example.com
    port: 587
    security: starttls
    username: alerts@example.com
    password: "{{ vault_smtp_password }}"
    from_address: alerts@example.com
    from_name: Alertmanager
    helo_domain: monitor.example.com
  register: alertmanager_email

- name: Reload Alertmanager when its settings changed
  ansible.builtin.systemd_service:
    name: prometheus-alertmanager
    state: reloaded
  when: alertmanager_email is changed

- name: Configure email on GitHub Enterprise Server
  mailops.notify.smtp_settings:
    app: ghes
    api_url: https://ghe.example.com:8443
    api_password: "{{ vault_ghes_root_password }}"
    enabled: true
    host: smtp.example.com
    port: 587
    security: starttls
    auth: login
    helo_domain: ghe.example.com
    username: ghe@example.com
    password: "{{ vault_smtp_password }}"
    from_address: noreply@ghe.example.com
    discard_to_noreply: true
    support_address: https://support.example.com
    support_address_type: url
  delegate_to: localhost
  register: ghes_email

- name: Show the configuration run
  ansible.builtin.debug:
    msg: "Run {{ ghes_email.ghes_apply.run_id }} successful: {{ ghes_email.ghes_apply.successful }}"
  when: ghes_email.ghes_apply is defined
"""

RETURN = r"""
settings:
  description:
    - The effective settings after the run (predicted in check mode), in the common vocabulary.
    - Only the fields the application has are present; O(password) is masked as C(********).
  returned: success
  type: dict
  sample:
    enabled: true
    host: email-smtp.us-east-1.amazonaws.com
    port: 465
    security: tls
    auth: plain
    username: AKIAEXAMPLE
    password: "********"
    from_address: mattermost@example.com
    from_name: Mattermost
    reply_to: test@example.com
    validate_certs: true
    support_address: feedback@mattermost.com
    support_address_type: email
diff:
  description:
    - The change of the settings the module owns (see the C(diff_mode) attribute), never the whole file, with every secret masked.
    - C(before) and C(after) are JSON objects as text, keyed by the application's setting names (C(EmailSettings.SMTPServer),
      C(smtp_address), C(mailer.SMTP_ADDR), C(address)), sorted, with non-ASCII characters escaped.
  returned: in diff mode (C(--diff), or the C(diff) keyword of the task)
  type: dict
  contains:
    before:
      description: The owned settings before the run.
      type: str
      returned: in diff mode
    after:
      description: The owned settings after the run (predicted in check mode).
      type: str
      returned: in diff mode
    before_header:
      description: The file path (as given in O(path)).
      type: str
      returned: in diff mode, file backends
    after_header:
      description: The file path (as given in O(path)).
      type: str
      returned: in diff mode, file backends
  sample:
    before: '{"EmailSettings.SMTPPassword": "", "EmailSettings.SMTPPort": "10025", "EmailSettings.SMTPServer": "localhost"}'
    after: '{"EmailSettings.SMTPPassword": "********", "EmailSettings.SMTPPort": "587", "EmailSettings.SMTPServer": "smtp.gmail.com"}'
    before_header: /opt/mattermost/config/config.json
    after_header: /opt/mattermost/config/config.json
overrides:
  description:
    - The names (never the values) of what makes the file not what Mattermost reads, for example C(MM_CONFIG), C(--config),
      C(config.json) or C(MM_EMAILSETTINGS_SMTPSERVER).
  returned: failure, O(app=mattermost), when Mattermost does not read the file (see O(service))
  type: list
  elements: str
  sample: [MM_CONFIG]
backup_file:
  description: The backup copy of the file (mode C(0600)).
  returned: a backup was made (O(backup=true) and the file changed)
  type: str
  sample: /opt/mattermost/config/config.json.12345.2026-01-01@12:00:00~
ghes_apply:
  description: The GHES configuration run started after the change.
  returned: O(app=ghes), O(apply=true), the settings changed and not in check mode
  type: dict
  contains:
    run_id:
      description: The run id returned by C(POST /manage/v1/config/apply).
      type: str
      returned: success
      sample: 53b2e4c5df4c
    running:
      description: Whether the run is still running (always V(false) once the module returns).
      type: bool
      returned: success
      sample: false
    successful:
      description: Whether the run succeeded.
      type: bool
      returned: success
      sample: true
    nodes:
      description: Per-node status as returned by the API.
      type: list
      elements: dict
      returned: success
      sample: [{"hostname": "ghe-local-primary", "running": false, "successful": true, "run_id": "53b2e4c5df4c"}]
"""

import os
import tempfile
import time
from urllib.error import HTTPError, URLError

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.mailops.notify.plugins.module_utils._app_alertmanager import DEFAULT_PATH as ALERTMANAGER_PATH
from ansible_collections.mailops.notify.plugins.module_utils._app_alertmanager import AlertmanagerBackend
from ansible_collections.mailops.notify.plugins.module_utils._app_ghes import GhesBackend, GhesClient, HttpResponse, check_api_url
from ansible_collections.mailops.notify.plugins.module_utils._app_gitea import GiteaBackend
from ansible_collections.mailops.notify.plugins.module_utils._app_gitlab import GitlabBackend
from ansible_collections.mailops.notify.plugins.module_utils._app_mattermost import MattermostBackend, check_service_name, verify_config_source
from ansible_collections.mailops.notify.plugins.module_utils._settings import (
    SettingsError,
    SettingsFormatError,
    SettingsSourceError,
    SettingsValidationError,
    build_desired,
    decode_config,
    extra_secret_values,
    plan,
)

BACKENDS = {"ghes": GhesBackend, "mattermost": MattermostBackend, "gitlab": GitlabBackend, "gitea": GiteaBackend, "alertmanager": AlertmanagerBackend}
DEFAULT_PATHS = {
    "mattermost": "/opt/mattermost/config/config.json",
    "gitlab": "/etc/gitlab/gitlab.rb",
    "gitea": "/etc/gitea/app.ini",
    "alertmanager": ALERTMANAGER_PATH,
}


class SmtpSettingsModule(AnsibleModule):
    """AnsibleModule that keeps a secret put in ``extra`` out of the target's log and out of every result.

    ``extra`` is not no_log (its ordinary values belong in the diff).  A secret key in it is refused by
    build_desired; its value joins the no_log values here, before AnsibleModule logs the arguments.
    """

    def _log_invocation(self):
        self.no_log_values.update(extra_secret_values(self.params.get("extra"), BACKENDS[self.params["app"]].password_keys))
        super()._log_invocation()


class OpenUrlTransport:
    """HttpTransport on top of Ansible's open_url (basic auth, certificate validation, timeout)."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module

    def request(self, method, url, body=None, headers=None):
        params = self.module.params
        try:
            response = open_url(
                url,
                data=body,
                headers=headers or {},
                method=method,
                url_username=params["api_username"],
                url_password=params["api_password"],
                force_basic_auth=True,
                validate_certs=params["api_validate_certs"],
                timeout=params["api_timeout"],
            )
            return HttpResponse(response.getcode(), response.read())
        except HTTPError as exc:
            return HttpResponse(exc.code, exc.read() if exc.fp else b"")
        except URLError as exc:
            raise SettingsError(f"cannot reach {url}: {to_native(exc.reason)}") from None
        except (UrlsConnectionError, OSError) as exc:
            raise SettingsError(f"cannot reach {url}: {to_native(exc)}") from None


def write_file(module, path, text):
    """Atomic replace that keeps the destination's owner, group and mode (AnsibleModule.atomic_move)."""
    fd, tmp = tempfile.mkstemp(dir=module.tmpdir)
    with os.fdopen(fd, "wb") as handle:
        handle.write(to_bytes(text, errors="strict"))
    module.atomic_move(tmp, path)


def write_backup(path, data):
    """A timestamped copy next to ``path``, like AnsibleModule.backup_local, but created mode 0600 (it holds the
    application's secrets), with the owner, group and times of the original."""
    stamp = time.strftime("%Y-%m-%d@%H:%M:%S~", time.localtime(time.time()))
    dest = f"{path}.{os.getpid()}.{stamp}"
    info = os.stat(path)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(dest, 0o600)
        try:
            os.chown(dest, info.st_uid, info.st_gid)
        except PermissionError:
            pass  # not root: the backup stays ours, still 0600
        os.utime(dest, ns=(info.st_atime_ns, info.st_mtime_ns))
    except OSError:
        os.unlink(dest)
        raise
    return dest


def syntax_check(module, backend, path, text):
    """Run the application's syntax check (gitlab.rb: ruby -c) on the candidate where the program is installed."""
    check = getattr(backend, "syntax_check", None)
    if not check:
        return
    program, dirs, args = check
    binary = module.get_bin_path(program, opt_dirs=list(dirs))
    if not binary:
        return
    fd, tmp = tempfile.mkstemp(dir=module.tmpdir, suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(to_bytes(text, errors="strict"))
        problem = backend.syntax_error(*module.run_command([binary, *args, tmp]))
    finally:
        os.unlink(tmp)
    if problem:
        before = backend.syntax_error(*module.run_command([binary, *args, path]))
        raise SettingsFormatError(
            f"the edited {path} does not pass `{program} {' '.join(args)}` ({problem}); nothing was written"
            + (f" (the file fails `{program} {' '.join(args)}` before the change too)" if before else "")
        )


def check_mattermost_source(module, backend, desired, text, paths):
    """Fail when Mattermost does not read this file (configuration in the database, another file, environment overrides).

    Reads ``systemctl show <service>``, the EnvironmentFiles it names and /proc of running mattermost processes; the
    decisions are in _app_mattermost.  Returns the warnings.  Nothing here prints an environment value.
    """
    service = module.params["service"]
    if not service:
        return []
    systemctl = module.get_bin_path("systemctl")

    def run(args):
        return module.run_command([systemctl, *args], environ_update={"LC_ALL": "C", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"})

    path, target = paths
    return verify_config_source(service, target, backend.written_paths(text, desired), run if systemctl else None, aliases=(path,))


def run_file_backend(module, backend, desired):
    path = module.params["path"] or DEFAULT_PATHS[desired.app]
    if desired.app == "alertmanager":
        backend.path = path  # its errors name the real file
    if not os.path.isfile(path):
        module.fail_json(msg=f"{path} does not exist or is not a file (app={desired.app} needs its configuration file)")
    # Follow a symlink as lineinfile does: the target is edited and the link stays a link.
    target = os.path.realpath(path)
    with open(target, "rb") as handle:
        data = handle.read()
    before = decode_config(data, path)
    result = plan(backend, before, desired, header=path)
    if desired.app == "mattermost":
        result.warnings.extend(check_mattermost_source(module, backend, desired, before, (path, target)))
    out = {}
    if result.changed:
        syntax_check(module, backend, target, result.after)
    if result.changed and not module.check_mode:
        try:
            if module.params["backup"]:
                out["backup_file"] = write_backup(target, data)
            write_file(module, target, result.after)
        except Exception as exc:  # atomic_move raises a bare Exception
            module.fail_json(msg=f"Failed to write {target}: {to_native(exc)}", **out)
    return result, out


def run_ghes(module, backend, desired):
    params = module.params
    check_api_url(params["api_url"])
    client = GhesClient(OpenUrlTransport(module), params["api_url"])
    before = client.get_smtp()
    result = plan(backend, before, desired)
    out = {}
    if result.changed and not module.check_mode:
        client.put_smtp(backend.changes(before, result.after))
        if params["apply"]:
            run_id = client.start_apply()
            status = client.wait_for_apply(run_id, timeout=params["apply_timeout"], interval=params["apply_poll_interval"])
            out["ghes_apply"] = status
            if not status["successful"]:
                return result, out, f"the GHES configuration run {run_id} failed; the settings are saved but not applied"
    return result, out, None


def argument_spec() -> dict:
    """The options; those that carry a secret are no_log (extra is not: secrets are refused in it)."""
    return {
        "app": {"type": "str", "required": True, "choices": ["ghes", "mattermost", "gitlab", "gitea", "alertmanager"]},
        "path": {"type": "path"},
        "backup": {"type": "bool", "default": False},
        "provider": {"type": "str", "choices": ["ses", "gmail", "outlook", "office365", "local_postfix"]},
        "provider_region": {"type": "str"},
        "enabled": {"type": "bool"},
        "host": {"type": "str"},
        "port": {"type": "int"},
        "security": {"type": "str", "choices": ["none", "starttls", "tls"]},
        "helo_domain": {"type": "str"},
        "auth": {"type": "str", "choices": ["none", "plain", "login", "cram-md5"]},
        "username": {"type": "str"},
        "password": {"type": "str", "no_log": True},
        "update_password": {"type": "str", "default": "always", "choices": ["always", "on_create"], "no_log": False},
        "allow_plaintext_auth": {"type": "bool", "default": False},
        "from_address": {"type": "str"},
        "from_name": {"type": "str"},
        "reply_to": {"type": "str"},
        "support_address": {"type": "str"},
        "support_address_type": {"type": "str", "choices": ["email", "url"]},
        "discard_to_noreply": {"type": "bool"},
        "validate_certs": {"type": "bool"},
        "extra": {"type": "dict"},
        "service": {"type": "str", "default": "mattermost"},
        "api_url": {"type": "str"},
        "api_username": {"type": "str", "default": "api_key"},
        "api_password": {"type": "str", "no_log": True},
        "api_validate_certs": {"type": "bool", "default": True},
        "api_timeout": {"type": "int", "default": 30},
        "apply": {"type": "bool", "default": True},
        "apply_timeout": {"type": "int", "default": 1800},
        "apply_poll_interval": {"type": "float", "default": 5},
    }


def main() -> None:
    module = SmtpSettingsModule(
        argument_spec=argument_spec(),
        required_if=[("app", "ghes", ("api_url", "api_password"))],
        required_by={"provider_region": "provider"},
        supports_check_mode=True,
    )
    app = module.params["app"]
    # also when the task is no_log (AnsibleModule then skips _log_invocation)
    module.no_log_values.update(extra_secret_values(module.params.get("extra"), BACKENDS[app].password_keys))
    backend = BACKENDS[app]()
    failure = None
    try:
        if app == "mattermost" and module.params["service"]:
            check_service_name(module.params["service"])
        desired = build_desired(app, module.params, backend)
        if app == "ghes":
            result, out, failure = run_ghes(module, backend, desired)
        else:
            result, out = run_file_backend(module, backend, desired)
    except SettingsValidationError as exc:
        module.fail_json(msg=f"Invalid settings for app={app}: {exc}", option=exc.option, rule=exc.rule)
    except SettingsSourceError as exc:
        module.fail_json(msg=f"Cannot manage the SMTP settings of app={app}: {exc}", overrides=exc.names)
    except SettingsError as exc:
        module.fail_json(msg=f"Cannot manage the SMTP settings of app={app}: {exc}")
    for warning in result.warnings:
        module.warn(warning)
    output = {"changed": result.changed, "settings": result.settings}
    if module._diff:
        output["diff"] = result.diff  # the owned settings only, secrets masked; never the whole file
    output.update(out)
    if failure:
        module.fail_json(msg=failure, **output)
    module.exit_json(**output)


if __name__ == "__main__":
    main()
