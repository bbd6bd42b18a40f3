#!/usr/bin/env bash
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Hostile-input check at -vvv: every module runs with secrets (SMTP password, the applications' other secrets,
# a TSIG key, a bundle secret), once plainly and once with --diff, and neither output may hold any form of any
# secret: plain, base64, the AUTH PLAIN string, URL-encoded, JSON-escaped.
set -euo pipefail

work=$(mktemp -d)
port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dead=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user='alerts@example.test'
cleanup() {
    if [ -s "$work/relay.pid" ]; then kill "$(cat "$work/relay.pid")" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

python - "$work/vars.json" "$work" "$port" "$dead" "$user" <<'PY'
import json, sys
path, work, port, dead, user = sys.argv[1:]
secrets = {
    "smtp": "Sm7p-pässwörd/+%&x9",
    "smtp_wrong": "Wr0ng-pässwörd/+%&x9",
    "mm_db": "Mm-Db-Pa55-31c7",
    "mm_atrest": "mmAtRestKey0123456789abcdefABCDEF",
    "gitea_db": "Gt-Db-Pa55#;7e2",
    "gitea_key": "GiteaSecretKey9f8e7d6c5b4a",
    "gitlab_db": "Gl-Db-Pa55-0a9b",
    "extra": "Extra-Pa55-44d1",
    "bundle": "Bndl p@ss/wörd+5",
    "tsig": "aG9zdGlsZS10c2lnLWtleS1mb3ItdGVzdHMtb25seQ==",
}
json.dump({"work": work, "relay_port": int(port), "dead_port": int(dead), "smtp_user": user, "secrets": secrets}, open(path, "w"))
json.dump(secrets, open(work + "/secrets.json", "w"))
PY

# The applications' files, with the other secrets each one holds (written here, not by a task, so that only the
# collection's modules can put them into the output).
write_app_files() {
    python - "$work" <<'PY'
import json, os, sys
work = sys.argv[1]
s = json.load(open(work + "/secrets.json"))
files = {
    "config.json": json.dumps(
        {
            "ServiceSettings": {"SiteURL": "https://chat.example.test"},
            "SqlSettings": {"DataSource": f"postgres://mmuser:{s['mm_db']}@db:5432/mattermost?sslmode=disable", "AtRestEncryptKey": s["mm_atrest"]},
            "EmailSettings": {"SMTPServer": "", "SMTPPort": "", "SMTPUsername": "", "SMTPPassword": ""},
        },
        indent=4,
    )
    + "\n",
    "app.ini": f"APP_NAME = Gitea\n[database]\nDB_TYPE = postgres\nPASSWD = `{s['gitea_db']}`\n[security]\nSECRET_KEY = {s['gitea_key']}\n[mailer]\nENABLED = false\n",
    "gitlab.rb": f"external_url 'https://gitlab.example.test'\ngitlab_rails['db_password'] = '{s['gitlab_db']}'\n",
}
for name, text in files.items():
    with open(os.path.join(work, name), "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(os.path.join(work, name), 0o640)
PY
}

python ../setup_smtp_relay/files/relay.py "$port" "$work/ca.pem" "$work/relay.pid" "$user" "$(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["smtp"])' "$work/secrets.json")" &
for _ in $(seq 1 50); do
    [ -s "$work/relay.pid" ] && break
    sleep 0.2
done
[ -s "$work/relay.pid" ]

run() {
    ansible-playbook -vvv -i localhost, -c local -e "ansible_python_interpreter=$(command -v python)" -e "@$work/vars.json" files/play.yml "$@"
}
write_app_files
run >"$work/plain.txt" 2>&1 || { tail -n 80 "$work/plain.txt"; exit 1; }
rm -f "$work/bundle.tar.gz"
write_app_files
run --diff >"$work/diff.txt" 2>&1 || { tail -n 80 "$work/diff.txt"; exit 1; }

# Every form of every secret, searched in both outputs and in the bundle.
python - "$work" "$user" <<'PY'
import base64, gzip, json, sys, urllib.parse
work, user = sys.argv[1:]
secrets = json.load(open(work + "/secrets.json"))
forms = {}
for name, secret in secrets.items():
    raw = secret.encode()
    candidates = {
        "plain": secret,
        "base64": base64.b64encode(raw).decode(),
        "AUTH PLAIN": base64.b64encode(b"\0" + user.encode() + b"\0" + raw).decode(),
        "url-encoded": urllib.parse.quote(secret, safe=""),
        "url-encoded (plus)": urllib.parse.quote_plus(secret),
        "JSON-escaped": json.dumps(secret)[1:-1],
    }
    if name == "tsig":
        candidates.pop("base64")  # the TSIG secret is itself base64; its plain form is the one to look for
    for kind, form in candidates.items():
        forms[f"{name} ({kind})"] = form
texts = {name: open(f"{work}/{name}", encoding="utf-8", errors="replace").read() for name in ("plain.txt", "diff.txt")}
with gzip.open(f"{work}/bundle.tar.gz") as handle:
    texts["bundle.tar.gz"] = handle.read().decode("utf-8", errors="replace")
leaks = [f"{what} in {where}" for where, text in texts.items() for what, form in forms.items() if form in text]
for where in ("plain.txt", "diff.txt"):
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in texts[where] or "********" in texts[where], f"{where}: no masked value at all?"
if leaks:
    print("secrets leaked:\n  " + "\n  ".join(leaks))
    sys.exit(1)
print(f"hostile_vvv: {len(forms)} forms of {len(secrets)} secrets absent from {len(texts)} outputs")
PY
