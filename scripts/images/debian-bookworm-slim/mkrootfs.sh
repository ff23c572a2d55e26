#!/usr/bin/env bash
# Builds a slim Debian bookworm root filesystem into an empty directory, as the
# stand-in for the upstream `debian:bookworm-slim` image (which cannot be pulled
# here: there is no container registry). images.sh imports the result with
# `docker import`; this file is part of the image's recipe hash, so editing it
# rebuilds the base image and everything derived from it.
#
# Usage: mkrootfs.sh TARGET_DIR MIRROR SECURITY_MIRROR
#   MIRROR           e.g. http://deb.debian.org/debian
#   SECURITY_MIRROR  e.g. http://deb.debian.org/debian-security
set -euo pipefail

if [ "$#" -ne 3 ]; then
    echo "usage: $0 TARGET_DIR MIRROR SECURITY_MIRROR" >&2
    exit 2
fi
target=$1
mirror=$2
security_mirror=$3
suite=bookworm

# minbase = Essential + apt, which is what the upstream slim image contains.
debootstrap_args=(--variant=minbase)
# apt in the image can only talk https if it has CA certificates.
case "$mirror $security_mirror" in
    *https://*) debootstrap_args+=(--include=ca-certificates) ;;
esac
debootstrap "${debootstrap_args[@]}" "$suite" "$target" "$mirror"

# --- apt sources: the same mirrors the host uses, so `apt-get update` in a
# Dockerfile FROM this image reaches a mirror that is known to be reachable.
cat >"$target/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
EOF

# --- Keep images derived from this one slim, the way upstream's slim image
# does: later package installs skip docs, man pages and translations (but keep
# the copyright files, which the licences ask us to ship).
cat >"$target/etc/dpkg/dpkg.cfg.d/novadev-slim" <<'EOF'
# Written by novadev's mkrootfs.sh: leave documentation out of installed packages.
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/groff/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/lintian/*
path-exclude=/usr/share/linda/*
path-exclude=/usr/share/locale/*
EOF

# apt's binary caches and downloaded .debs are useless in an image layer; drop
# them after every dpkg run and never fetch translated package descriptions.
cat >"$target/etc/apt/apt.conf.d/novadev-slim" <<'EOF'
// Written by novadev's mkrootfs.sh: keep image layers free of apt caches.
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
Acquire::CompressionTypes::Order:: "gz";
APT::AutoRemove::SuggestsImportant "false";
EOF

# There is no init system in a container: package maintainer scripts must not
# try to start daemons during `docker build` (exit 101 = "action forbidden").
cat >"$target/usr/sbin/policy-rc.d" <<'EOF'
#!/bin/sh
# Written by novadev's mkrootfs.sh: never start services while building images.
exit 101
EOF
chmod 755 "$target/usr/sbin/policy-rc.d"

# --- Slim the tree debootstrap left behind.
cd "$target"
# Docs: everything but the copyright files.
find usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
find usr/share/doc -mindepth 1 -type d -empty -delete
# Man pages and info: drop the files but keep the man section directories,
# because some maintainer scripts (openjdk's, famously) fail if they are absent.
find usr/share/man usr/share/groff usr/share/info usr/share/lintian \
    -mindepth 1 ! -type d -delete 2>/dev/null || true
find usr/share/man -mindepth 1 -maxdepth 1 -type d ! -name 'man*' -exec rm -rf {} +
# Locales: only C (built into libc) and C.UTF-8 stay.
rm -rf usr/share/locale/*
find usr/lib/locale -mindepth 1 -maxdepth 1 ! -name C.utf8 -exec rm -rf {} +
# apt/dpkg leftovers: package lists, binary caches, downloaded archives, backups.
rm -rf var/lib/apt/lists/*
rm -f var/cache/apt/*.bin var/cache/apt/archives/*.deb var/cache/apt/archives/partial/*.deb
rm -f var/cache/debconf/*-old var/lib/dpkg/*-old var/cache/ldconfig/aux-cache
# Logs of the bootstrap itself describe this build, not the image.
find var/log -type f -exec truncate -s 0 {} +
rm -rf tmp/* var/tmp/*
# debootstrap copies the host's resolv.conf and hostname into the target; they
# would leak host details and Docker provides its own at run time anyway.
: >etc/resolv.conf
: >etc/hostname
chmod 644 etc/resolv.conf etc/hostname
if [ -e etc/machine-id ]; then : >etc/machine-id; fi
# Docker mounts its own /dev; device nodes in the layer are only noise.
rm -rf dev/*
