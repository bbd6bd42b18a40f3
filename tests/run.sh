#!/usr/bin/env bash
# The run_* functions are called by name from the loop at the end.
# shellcheck disable=SC2317
# `make test`: install what the project needs, then run every check in order and print a summary.
#
#   tests/run.sh [STEP ...]     STEP: setup lint sanity package unit integration molecule (default: all, in that order)
#                               or demo / demo_down (make demo, make demo-down)
#
# Environment:
#   MAILOPS_LAB_SUITE   bookworm (default) or trixie: the Debian release of the lab hosts
#   MAILOPS_LAB_IMAGE   use this pulled image instead of building one (needs systemd and python3)
#   MOLECULE_SCENARIOS  the molecule scenarios to run (default: every directory under molecule/)
#   MAILOPS_INTEGRATION_TARGETS  the integration targets to run (default: all)
#   MAILOPS_TMPDIR, MAILOPS_ANSIBLE_TEST_DIR  where temporary files and ansible-test's copy go (default: under .cache)
#
# Everything is written under the repository (.venv, .cache) except the Debian packages apt installs.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
cache="$root/.cache"
venv="$root/.venv"
mkdir -p "$cache/home" "$cache/logs"

# Keep tools from writing to the real home directory.
export HOME="$cache/home"
export ANSIBLE_HOME="$cache/ansible-home"
export XDG_CACHE_HOME="$cache/xdg"
export PIP_CACHE_DIR="$cache/pip"
# Temporary files of the tests (pytest's tmp_path, named's and aiosmtpd's directories) stay under .cache too.
# MAILOPS_TMPDIR and MAILOPS_ANSIBLE_TEST_DIR let two runs of single steps share one checkout.
export TMPDIR="${MAILOPS_TMPDIR:-$cache/tmp}"
rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"
export ANSIBLE_COLLECTIONS_PATH="$cache/collections"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1
export PATH="$venv/bin:$PATH"
export PYTHONPATH="$cache/collections"

APT_PACKAGES=(
    python3-venv git rsync
    podman runc netavark aardvark-dns iptables debootstrap  # the lab
    bind9 bind9-utils                                     # a real nameserver for dns_mail_records tests
    shellcheck                                            # ansible-test sanity checks the shell scripts
    ruby                                                  # `ruby -c` checks the gitlab.rb that smtp_settings writes
    prometheus-alertmanager                               # amtool check-config and a real Alertmanager for the alertmanager backend
    ruby-mail                                             # the Mail gem of GitLab's ActionMailer, for gitlab.rb and app_email_test
)

declare -a SUMMARY=()
failed=0
t_start=$SECONDS

step() { printf '\n==> [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
record() { SUMMARY+=("$(printf '%-12s %-6s %5ss  %s' "$1" "$2" "$3" "$4")"); [ "$2" = ok ] || failed=1; }

run_setup() {
    step "setup: Debian packages"
    local missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$cache/logs/apt.log" 2>&1; then
            tail -n 30 "$cache/logs/apt.log"
            return 1
        fi
    else
        echo "all ${#APT_PACKAGES[@]} packages present"
    fi
    # bind9 comes with a service that this project does not use; the tests start their own named.
    # The same for Alertmanager (the tests run their own, on loopback).
    if [ -d /run/systemd/system ]; then systemctl disable --now named prometheus-alertmanager >/dev/null 2>&1 || true; fi

    step "setup: Python virtual environment from requirements-dev.txt"
    local want have
    want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
    have=$(cat "$venv/.requirements.sha256" 2>/dev/null || true)
    if [ "$want" != "$have" ] || [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv" && "$venv/bin/pip" install -q -r requirements-dev.txt || return 1
        echo "$want" >"$venv/.requirements.sha256"
    else
        echo "reusing $venv"
    fi

    # The collection as Ansible and Python import it: ansible_collections/mailops/notify -> this tree.
    mkdir -p "$cache/collections/ansible_collections/mailops"
    ln -sfn "$root" "$cache/collections/ansible_collections/mailops/notify"
}

run_lint() {
    local rc=0
    step "lint: ruff"
    ruff check . || rc=1
    ruff format --check --diff . || rc=1
    step "lint: yamllint"
    yamllint -s . || rc=1
    step "lint: ansible-lint (production profile)"
    ansible-lint --profile production --offline || rc=1
    return "$rc"
}

# ansible-test needs the collection at .../ansible_collections/<ns>/<name> as a real directory.
copy_collection() {
    local dest="${MAILOPS_ANSIBLE_TEST_DIR:-$cache/ansible-test}/ansible_collections/mailops/notify"
    mkdir -p "$dest"
    # The copy sits inside this repository's ignored .cache: give it a git repository of its own,
    # or ansible-test asks ours which files exist and finds none.
    [ -d "$dest/.git" ] || git init -q "$dest"
    git ls-files -co --exclude-standard -z | rsync -a --delete --from0 --files-from=- ./ "$dest/"
    # rsync --files-from does not delete files that left the tree; prune them.
    (cd "$dest" && find . -type f -not -path './tests/output/*' -not -path './.git/*' -print0) | while IFS= read -r -d '' f; do
        [ -e "$root/$f" ] || rm -f "$dest/$f"
    done
    printf '%s\n' "$dest"
}

# ansible-test creates a virtual environment for each sanity test and bootstraps pip into it with a
# script it downloads from a host that this machine cannot reach: put a stand-in where it caches it.
ansible_test_bootstrap() {
    local pip_version
    pip_version=$("$venv/bin/python" -c 'import ansible_test._internal.python_requirements as r, inspect, re
print(re.search(r"pip=.([0-9.]+).", inspect.getsource(r.get_venv_packages)).group(1))')
    mkdir -p "$HOME/.ansible/test/cache"
    cp tests/utils/get_pip_standin.py "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
}

run_sanity() {
    step "sanity: ansible-test sanity (empty ignore files)"
    local dest
    ansible_test_bootstrap || return 1
    dest=$(copy_collection)
    (cd "$dest" && ansible-test sanity --local --python 3.11 --color no)
}

PACKAGE_COUNTS=""
run_package() {
    step "package: ansible-galaxy collection build and install"
    local out="$cache/package" tarball bad listing
    rm -rf "$out" && mkdir -p "$out"
    ansible-galaxy collection build --output-path "$out" . || return 1
    tarball=$(find "$out" -maxdepth 1 -name 'mailops-notify-*.tar.gz' | head -n1)
    listing=$(tar -tzf "$tarball")
    bad=$(grep -E '^(tests|molecule|lab|\.|Makefile|requirements-dev)' <<<"$listing" || true)
    if [ -n "$bad" ]; then
        printf 'the collection tarball carries files that are not collection content:\n%s\n' "$bad"
        return 1
    fi
    # Install and read the docs from the tarball alone, not from the working tree that PYTHONPATH and
    # ANSIBLE_COLLECTIONS_PATH point to.
    local -a only_tarball=(env -u PYTHONPATH ANSIBLE_COLLECTIONS_PATH="$out/installed" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false)
    "${only_tarball[@]}" ansible-galaxy collection install -p "$out/installed" "$tarball" || return 1
    # ansible-doc renders every plugin and role of one type (sed names them from the listing); prints how many.
    documented() {
        local type=$1 names=() n
        mapfile -t names < <(sed -n "$2" <<<"$listing" | sort)
        for n in "${names[@]}"; do
            "${only_tarball[@]}" ansible-doc -t "$type" "mailops.notify.$n" >/dev/null || { echo "ansible-doc failed for $type $n" >&2; return 1; }
        done
        echo "${#names[@]}"
    }
    local modules filters roles
    modules=$(documented module 's|^plugins/modules/\(.*\)\.py$|\1|p') || return 1
    filters=$(documented filter 's|^plugins/filter/\([^_].*\)\.py$|\1|p') || return 1
    roles=$(documented role 's|^roles/\([^/]*\)/meta/argument_specs.yml$|\1|p') || return 1
    PACKAGE_COUNTS="$(grep -c -v '/$' <<<"$listing") files, $modules modules, $filters filter and $roles role documented"
}

UNIT_COUNTS=""
run_unit() {
    step "unit: pytest tests/unit"
    local out="$cache/logs/pytest.log"
    pytest tests/unit -q -p no:cacheprovider -o junit_family=xunit2 --junitxml="$cache/logs/pytest.xml" 2>&1 | tee "$out"
    local rc=${PIPESTATUS[0]}
    UNIT_COUNTS=$(grep -E '^(=+ )?[0-9]+ (passed|failed)' "$out" | tail -n1 | tr -d '=' | sed 's/^ *//')
    if grep -q -E '[0-9]+ skipped' "$out"; then
        echo "pytest skipped tests: a skipped test is not a passing test"
        rc=1
    fi
    return "$rc"
}

INTEGRATION_COUNTS=""
run_integration() {
    step "integration: ansible-test integration --local"
    local dest targets=()
    dest=$(copy_collection)
    if [ -n "${MAILOPS_INTEGRATION_TARGETS:-}" ]; then
        read -r -a targets <<<"$MAILOPS_INTEGRATION_TARGETS"
    else
        mapfile -t targets < <(find "$dest/tests/integration/targets" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null |
            grep -v -E '^(setup|prepare)_' | sort)
    fi
    INTEGRATION_COUNTS="${#targets[@]} targets"
    if [ ${#targets[@]} -eq 0 ]; then
        echo "no integration targets"
        return 1
    fi
    (cd "$dest" && ansible-test integration --local --python 3.11 --color no --allow-destructive --allow-root "${targets[@]}")
}

# Podman settings of the lab and the image of MAILOPS_LAB_SUITE (built once, then cached).
lab_env() {
    step "lab: image (${MAILOPS_LAB_SUITE:-bookworm})"
    eval "$(lab/lab.sh env)"
    MAILOPS_LAB_IMAGE=$(lab/lab.sh image "${MAILOPS_LAB_SUITE:-bookworm}") || return 1
    export MAILOPS_LAB_IMAGE
}

# `make demo`: the lab with configure_notifications.yml applied to `appliance` (molecule/demo), left running.
run_demo() {
    lab_env || return 1
    step "demo: lab up, configure_notifications.yml on appliance (MAILOPS_LAB_IMAGE=$MAILOPS_LAB_IMAGE)"
    molecule converge -s demo || return 1
    printf '\nThe lab is up: podman exec -it appliance bash (with CONTAINERS_CONF from lab/lab.sh env). make demo-down removes it.\n'
}

run_demo_down() {
    lab_env || return 1
    step "demo: lab down"
    molecule destroy -s demo
}

MOLECULE_COUNTS=""
run_molecule() {
    local scenarios image rc=0 ok=0 n=0 s
    scenarios=${MOLECULE_SCENARIOS:-$(find molecule -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)}
    lab_env || return 1
    image=$MAILOPS_LAB_IMAGE
    for s in $scenarios; do
        n=$((n + 1))
        step "molecule: scenario $s on $image"
        if molecule test -s "$s"; then ok=$((ok + 1)); else rc=1; fi
    done
    # Each scenario's destroy removes its containers and network, also after a failure.
    MOLECULE_COUNTS="$ok/$n scenarios passed"
    return "$rc"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(setup lint sanity package unit integration molecule)
for s in "${steps[@]}"; do
    t0=$SECONDS
    if "run_$s"; then status=ok; else status=FAILED; fi
    case $s in
        package) detail=$PACKAGE_COUNTS ;;
        unit) detail=$UNIT_COUNTS ;;
        integration) detail=$INTEGRATION_COUNTS ;;
        molecule) detail=$MOLECULE_COUNTS ;;
        *) detail="" ;;
    esac
    record "$s" "$status" "$((SECONDS - t0))" "$detail"
    if [ "$s" = setup ] && [ "$status" != ok ]; then break; fi
done

printf '\n==> summary (%s s in all)\n' "$((SECONDS - t_start))"
printf '%s\n' "${SUMMARY[@]}"
exit $failed
