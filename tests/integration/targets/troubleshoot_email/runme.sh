#!/usr/bin/env bash
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run playbooks/troubleshoot_email.yml against this host with a loopback relay that rejects the credentials (535),
# then check the verdict and that the support bundle holds no form of the password.
set -euxo pipefail

work=$(mktemp -d)
port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
password='Wr0ng-App-Passw0rd!'
username='alerts@example.test'
cleanup() {
    if [ -s "$work/relay.pid" ]; then kill "$(cat "$work/relay.pid")" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

python ../setup_smtp_relay/files/relay.py "$port" "$work/ca.pem" "$work/relay.pid" &
for _ in $(seq 1 50); do
    [ -s "$work/relay.pid" ] && break
    sleep 0.2
done
[ -s "$work/relay.pid" ]

cat >"$work/vars.json" <<JSON
{
  "troubleshoot_hosts": "localhost",
  "troubleshoot_become": false,
  "troubleshoot_hostname": "ghe.example.test",
  "troubleshoot_relay_host": "127.0.0.1",
  "troubleshoot_relay_port": $port,
  "troubleshoot_relay_security": "starttls",
  "troubleshoot_relay_username": "$username",
  "troubleshoot_relay_password": "$password",
  "troubleshoot_relay_ca_file": "$work/ca.pem",
  "troubleshoot_log_hours": 1,
  "troubleshoot_timeout": 5,
  "troubleshoot_bundle_dir": "$work/bundles"
}
JSON

ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$(command -v python)" -e "@$work/vars.json" mailops.notify.troubleshoot_email "$@" | tee "$work/output.txt"

# The playbook's output shows the verdict and never the password.
grep -F 'support bundle: ' "$work/output.txt"
if grep -F -e "$password" "$work/output.txt"; then echo "the password is in the playbook output"; exit 1; fi

bundle=$(find "$work/bundles" -name 'localhost-mail-support-*.tar.gz')
[ "$(stat -c %a "$bundle")" = 600 ]
mkdir "$work/unpacked"
tar -xzf "$bundle" -C "$work/unpacked"
grep -F 'relay rejects the credentials (535 5.7.8) - check the username and the (app) password' "$work"/unpacked/*/verdict.txt
grep -F 'class="hop failed" id="hop-outbound-relay"' "$work"/unpacked/*/report.html

plain_b64=$(printf '\0%s\0%s' "$username" "$password" | base64 -w0)
pass_b64=$(printf '%s' "$password" | base64 -w0)
pass_url=$(python -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$password")
forms=(-e "$password" -e "$pass_b64" -e "$plain_b64" -e "$pass_url")
if grep -r -F "${forms[@]}" "$work/unpacked"; then
    echo "a form of the password is in the support bundle"
    exit 1
fi
if zcat "$bundle" | grep -a -F "${forms[@]}"; then
    echo "a form of the password is in the tarball"
    exit 1
fi

# support_bundle as in its EXAMPLES, without no_log on the task, at -vvv: the evidence carries the password as an
# AUTH PLAIN payload and URL-encoded; neither the output nor the bundle shows any form of it, and the verdict is readable.
cat >"$work/example.yml" <<YAML
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Write the support bundle on the controller
      mailops.notify.support_bundle:
        hostname: ghe.example.test
        dest: $work/example/ghe-mail-support.tar.gz
        secrets:
          - "$password"
        evidence:
          relay: {host: 127.0.0.1, port: $port, security: starttls}
          smtp_probe:
            host: 127.0.0.1
            port: $port
            security: starttls
            stage_failed: auth
            stages: [{name: auth, ok: false, code: 535, enhanced_code: 5.7.8, text: "5.7.8 Error: authentication failed"}]
            transcript:
              - {dir: "->", text: "AUTH PLAIN $plain_b64"}
              - {dir: "**", text: "relay url smtp://alerts:$pass_url@127.0.0.1:$port"}
            diagnosis: {code: auth_failed, summary: Authentication failed, hint: Check the password.}
      register: example
    - name: Show the verdict
      ansible.builtin.debug:
        var: example.verdicts
YAML
ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$(command -v python)" -vvv "$work/example.yml" | tee "$work/example.txt"
grep -F '"VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' "$work/example.txt"
grep -F 'outbound: relay rejects the credentials (535 5.7.8)' "$work/example.txt"
if grep -F "${forms[@]}" "$work/example.txt"; then
    echo "a form of the password is in the -vvv output of support_bundle"
    exit 1
fi
if zcat "$work/example/ghe-mail-support.tar.gz" | grep -a -F "${forms[@]}"; then
    echo "a form of the password is in the example tarball"
    exit 1
fi
echo "troubleshoot_email: ok"
