#!/usr/bin/env bash
# The mailops.notify lab: podman settings and Debian images with systemd, built locally.
#
#   lab/lab.sh env              print the environment (CONTAINERS_CONF, ...) to eval
#   lab/lab.sh image [SUITE]    build (or reuse) the image for SUITE (bookworm | trixie); prints its name
#   lab/lab.sh mirror           print the Debian mirror read from this machine's apt sources
#   lab/lab.sh clean            remove lab containers, networks and volumes (images stay cached)
#
# Images are built with debootstrap from the Debian mirror that this machine's apt already uses
# (read at run time, never written into the repository) and tagged with a hash of this recipe,
# so they are rebuilt only when the recipe changes. Set MAILOPS_LAB_IMAGE to a pullable image
# with systemd and python3 (for example one of the docker-debianNN-ansible images) to skip the build.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cache="${MAILOPS_LAB_CACHE:-$root/.cache/podman}"

# Packages every lab host gets. Changing this list or build_image changes the image tag.
packages=(systemd systemd-sysv dbus python3 python3-apt iproute2 iputils-ping ca-certificates procps
  netcat-openbsd)

log() { printf '[lab] %s\n' "$*" >&2; }

render_conf() {
    mkdir -p "$cache"/{tmp,volumes,networks,storage,run}
    sed "s|@CACHE@|$cache|g" "$here/containers.conf.in" >"$cache/containers.conf.new"
    sed "s|@CACHE@|$cache|g" "$here/storage.conf.in" >"$cache/storage.conf.new"
    for f in containers.conf storage.conf; do
        if cmp -s "$cache/$f.new" "$cache/$f"; then rm "$cache/$f.new"; else mv "$cache/$f.new" "$cache/$f"; fi
    done
}

print_env() {
    render_conf
    printf 'export CONTAINERS_CONF=%q\n' "$cache/containers.conf"
    printf 'export CONTAINERS_STORAGE_CONF=%q\n' "$cache/storage.conf"
}

# The first http(s) mirror of the main Debian archive in this machine's apt sources
# (deb822 .sources files or one-line sources.list entries).
mirror() {
    local m
    m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' | grep -v -E 'security|debian-ports' | head -n1 || true)
    if [ -z "$m" ]; then
        m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; break}}' |
            grep -v -E 'security|debian-ports' | head -n1 || true)
    fi
    [ -n "$m" ] || { log "no Debian mirror found in /etc/apt/sources.list*"; exit 1; }
    printf '%s\n' "${m%/}"
}

# The recipe is the suite, the package list and the build function itself.
recipe_hash() {
    { declare -f build_image; printf '%s\n' "$1" "${packages[@]}"; } | sha256sum | cut -c1-12
}

build_image() {
    local suite=$1 tag name m
    tag=$(recipe_hash "$suite")
    name="localhost/mailops-lab:$suite-$tag"
    if podman image exists "$name"; then
        log "image $name is cached"
        printf '%s\n' "$name"
        return
    fi
    m=$(mirror)
    work=$(mktemp -d "$root/.cache/debootstrap.XXXXXX")
    trap 'rm -rf "${work:-}"' EXIT
    log "building $name with debootstrap ($suite) from the mirror in this machine's apt sources"
    local t0=$SECONDS
    debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
        "$suite" "$work/rootfs" "$m" >"$work/debootstrap.log" 2>&1 ||
        { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
    # A container does not need these units; they fail or wait without real hardware.
    for unit in systemd-remount-fs.service getty.target console-getty.service systemd-firstboot.service \
        systemd-udevd.service systemd-udev-trigger.service systemd-modules-load.service \
        sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount; do
        ln -sf /dev/null "$work/rootfs/etc/systemd/system/$unit"
    done
    rm -f "$work/rootfs/etc/machine-id" && : >"$work/rootfs/etc/machine-id"
    # Docs and apt lists are not needed in the image.
    rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*.bin "$work/rootfs/usr/share/doc/"* "$work/rootfs/usr/share/man/"*
    # An empty package list that looks old, so that apt's cache_valid_time refreshes it on first use.
    touch -d @0 "$work/rootfs/var/lib/apt/lists"
    tar -C "$work/rootfs" -c . | podman import \
        --change 'CMD ["/sbin/init"]' --change 'ENV container=podman' \
        --change 'STOPSIGNAL SIGRTMIN+3' - "$name" >"$work/import.log" 2>&1 ||
        { cat "$work/import.log" >&2; exit 1; }
    # Older images of this suite are superseded.
    podman images --format '{{.Repository}}:{{.Tag}}' | grep "^localhost/mailops-lab:$suite-" |
        grep -v -x "$name" | xargs -r podman rmi >/dev/null 2>&1 || true
    log "built $name in $((SECONDS - t0)) s"
    printf '%s\n' "$name"
}

clean() {
    podman ps -aq --filter label=owner=molecule | xargs -r podman rm -f >/dev/null
    podman network ls --format '{{.Name}}' | grep '^mailops-' | xargs -r podman network rm -f >/dev/null || true
    podman volume prune -f >/dev/null || true
}

cmd=${1:-env}
case "$cmd" in
    env) print_env ;;
    mirror) mirror ;;
    image)
        render_conf
        export CONTAINERS_CONF="$cache/containers.conf" CONTAINERS_STORAGE_CONF="$cache/storage.conf"
        if [ -n "${MAILOPS_LAB_IMAGE:-}" ]; then
            podman image exists "$MAILOPS_LAB_IMAGE" || podman pull "$MAILOPS_LAB_IMAGE" >&2
            printf '%s\n' "$MAILOPS_LAB_IMAGE"
        else
            build_image "${2:-bookworm}"
        fi
        ;;
    clean)
        render_conf
        export CONTAINERS_CONF="$cache/containers.conf" CONTAINERS_STORAGE_CONF="$cache/storage.conf"
        clean
        ;;
    *) echo "usage: $0 env|mirror|image [SUITE]|clean" >&2; exit 2 ;;
esac
