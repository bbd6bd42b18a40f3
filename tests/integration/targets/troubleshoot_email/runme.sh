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

python files/relay_535.py "$port" "$work/ca.pem" "$work/relay.pid" &
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
if grep -r -F -e "$password" -e "$pass_b64" -e "$plain_b64" "$work/unpacked"; then
    echo "a form of the password is in the support bundle"
    exit 1
fi
if zcat "$bundle" | grep -a -F -e "$password" -e "$pass_b64" -e "$plain_b64"; then
    echo "a form of the password is in the tarball"
    exit 1
fi
echo "troubleshoot_email: ok"
