#!/usr/bin/env bash
# Copyright (c) 2026, mailops.notify contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The role applies an application's changed settings once per change and never on an unchanged run; a failed apply
# fails the play, says so, and is applied again on the next run although nothing changes then; check mode applies
# nothing; overrides that cannot work are refused by the role's checks, naming the variable.
set -euo pipefail

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/pending"
printf '[server]\nDOMAIN = git.example.test\n\n[mailer]\nENABLED = false\n' >"$work/app.ini"
# The apply command appends a line to applied.log (sh -c: $0 is the log).
count="[\"sh\", \"-c\", \"echo applied >> \\\"\$0\\\"\", \"$work/applied.log\"]"
play() { ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$(command -v python)" -e "work=$work" "$@"; }
applied() { if [ -f "$work/applied.log" ]; then wc -l <"$work/applied.log"; else echo 0; fi; }
expect() { # expect WHAT ACTUAL EXPECTED
    if [ "$2" != "$3" ]; then echo "FAILED: $1: got '$2', expected '$3'" >&2; exit 1; fi
    echo "ok: $1"
}
recap_changed() { sed -n 's/^localhost *: .*changed=\([0-9]*\).*/\1/p' "$1"; }

play -e from_name=One -e "{\"apply_command\": $count}" files/apply.yml >"$work/1.out"
expect "a change is applied once" "$(applied)" 1
grep -q 'FROM *= *"\?One <noreply@noreply.host.example.test>' "$work/app.ini" || { cat "$work/app.ini"; exit 1; }

play -e from_name=One -e "{\"apply_command\": $count}" files/apply.yml >"$work/2.out"
expect "an unchanged run applies nothing" "$(applied)" 1
expect "an unchanged run reports no change" "$(recap_changed "$work/2.out")" 0

play --check -e from_name=Check -e "{\"apply_command\": $count}" files/apply.yml >"$work/3.out"
expect "check mode applies nothing" "$(applied)" 1
grep -q 'One <noreply' "$work/app.ini"

if play -e from_name=Two -e '{"apply_command": ["false"]}' files/apply.yml >"$work/4.out" 2>&1; then
    echo "FAILED: a failed apply command did not fail the play" >&2
    exit 1
fi
grep -q -F "The new SMTP settings of gitea are written but not applied: \`false\` failed" "$work/4.out" || { cat "$work/4.out"; exit 1; }
grep -q 'exit status 1' "$work/4.out"
test -s "$work/pending/apply-pending-gitea.json"
grep -q 'Two <noreply' "$work/app.ini"
echo "ok: a failed apply fails the play, says so and leaves its mark"

play -e from_name=Two -e "{\"apply_command\": $count}" files/apply.yml >"$work/5.out"
expect "the next run applies the settings a failed run wrote" "$(applied)" 2
test ! -e "$work/pending/apply-pending-gitea.json"

play -e from_name=Two -e "{\"apply_command\": $count}" files/apply.yml >"$work/6.out"
expect "and only once" "$(applied)" 2
expect "then nothing is left to do" "$(recap_changed "$work/6.out")" 0

refused() { # refused VARS_JSON MESSAGE
    if play -e "$1" files/validate.yml >"$work/v.out" 2>&1; then
        echo "FAILED: the role accepted $1" >&2
        exit 1
    fi
    grep -q -F -- "$2" "$work/v.out" || { cat "$work/v.out"; exit 1; }
    echo "ok: refused $1"
}
play -e '{"mail_notifications_app": "alertmanager", "mail_notifications_app_service": "alertmanager"}' files/validate.yml >/dev/null
echo "ok: an override that works passes the checks"
refused '{"mail_notifications_app": "gitlab", "mail_notifications_app_service": "gitlab-runsvdir"}' \
    "mail_notifications_app_service: only used with mail_notifications_app_apply=restart or reload"
refused '{"mail_notifications_app": "gitea", "mail_notifications_app_service": "gitea\nExecStartPre=/bin/sh"}' \
    "mail_notifications_app_service: must be one line of printable text; U+000A (LINE FEED)"
refused '{"mail_notifications_app": "mattermost", "mail_notifications_app_apply": "command"}' \
    "mail_notifications_app_apply_command: mattermost has no default command"
refused '{"mail_notifications_app": "none", "mail_notifications_app_service": "mattermost"}' \
    "mail_notifications_app_service: set, but mail_notifications_app is none"
