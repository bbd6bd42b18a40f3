#!/usr/bin/env bash
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# app_email_test against the applications on loopback, every message delivered into a Maildir by aiosmtpd:
# the real Alertmanager (Debian's prometheus-alertmanager), and stand-ins for Mattermost (files/mattermost_standin.py,
# an HTTP server that sends with smtplib) and GitLab's runner (files/gitlab_rails_standin.rb, Debian's Ruby and Mail gem),
# because neither can run here. files/play.yml runs the module and checks its results and the Maildir.
set -euo pipefail

work=$(mktemp -d)
free_port() { python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
smtp_port=$(free_port)
am_port=$(free_port)
closed_port=$(free_port)
api_token=$(python -c 'import secrets, string; print("".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(26)))')
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Every background process also stops by itself: timeout bounds it.
mkdir -p "$work/maildir/new" "$work/maildir/cur" "$work/maildir/tmp"
timeout 300 python -m aiosmtpd -n -l "127.0.0.1:$smtp_port" -c aiosmtpd.handlers.Mailbox "$work/maildir" &
pids+=($!)

timeout 300 python files/mattermost_standin.py --port-file "$work/mattermost.port" --token "$api_token" \
    --email admin@example.test --smtp-port "$smtp_port" --lifetime 290 &
pids+=($!)

python files/alertmanager_config.py "$smtp_port" "$closed_port" >"$work/alertmanager.yml"
timeout 300 prometheus-alertmanager --config.file="$work/alertmanager.yml" --storage.path="$work/am-data" \
    --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= >"$work/alertmanager.log" 2>&1 &
pids+=($!)

printf '#!/bin/sh\nexec ruby %s "$@"\n' "$PWD/files/gitlab_rails_standin.rb" >"$work/gitlab-rails"
chmod 0755 "$work/gitlab-rails"

# Wait (at most 30 seconds) until aiosmtpd listens, the stand-in wrote its port and Alertmanager is ready.
python - "$smtp_port" "$work/mattermost.port" "http://127.0.0.1:$am_port/-/ready" <<'PY'
import os, socket, sys, time, urllib.request
port, port_file, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        urllib.request.urlopen(ready, timeout=1).close()
        if os.path.getsize(port_file):
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit("the test servers did not come up within 30 seconds")
PY

cat >"$work/vars.json" <<JSON
{
  "work": "$work",
  "smtp_port": $smtp_port,
  "closed_port": $closed_port,
  "mattermost_url": "http://127.0.0.1:$(cat "$work/mattermost.port")",
  "mattermost_token": "$api_token",
  "alertmanager_url": "http://127.0.0.1:$am_port",
  "gitlab_rails": "$work/gitlab-rails"
}
JSON

ANSIBLE_NOCOLOR=1 ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$(command -v python)" -e "@$work/vars.json" \
    files/play.yml "$@" | tee "$work/output.txt"

if grep -F -e "$api_token" "$work/output.txt"; then
    echo "the Mattermost token is in the playbook output"
    exit 1
fi
echo "app_email_test: ok"
