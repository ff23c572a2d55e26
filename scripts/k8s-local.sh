#!/usr/bin/env bash
# A real Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager) on loopback,
# for novadev's Kubernetes tests, on a machine with no container registry and no prebuilt
# Kubernetes. Everything comes from Debian bookworm's archive: the `kubernetes` source package,
# compiled with golang-1.19 in GOPATH mode, and etcd-server 3.4 from its .deb. Nothing is installed
# system-wide: apt runs with a private configuration and packages are unpacked with dpkg-deb.
#
# Usage: scripts/k8s-local.sh build [--node]   compile once (kube-apiserver, kube-controller-manager;
#                                               --node adds kube-scheduler and kubelet) and cache
#        scripts/k8s-local.sh start            start the control plane, wait for /readyz,
#                                               write a kubeconfig
#        scripts/k8s-local.sh stop             stop it and remove its state
#        scripts/k8s-local.sh env              print `export KUBECONFIG=…` for a started plane
#        scripts/k8s-local.sh status           what runs, and whether the API server is ready
#                                               (exit 0 only if everything runs and is ready)
#
# Environment:
#   NOVADEV_K8S_CACHE      build cache, outside the repo
#                          (default ${XDG_CACHE_HOME:-$HOME/.cache}/novadev/k8s); the binaries
#                          land in <cache>/v1.20.2/bin, so a second build takes seconds
#   NOVADEV_K8S_STATE_DIR  the running plane's state: certificates, etcd data, logs, pids,
#                          kubeconfig (default /tmp/novadev-k8s-<uid>)
#   NOVADEV_K8S_API_PORT   kube-apiserver's HTTPS port (default 16443)
#   NOVADEV_K8S_ETCD_PORT  etcd's client port (default 12379; the peer port is this + 1)
#   NOVADEV_K8S_CM_PORT    kube-controller-manager's HTTPS port (default 16257)
#   NOVADEV_DEBIAN_MIRROR  Debian mirror (default http://deb.debian.org/debian)
#   NOVADEV_DEBIAN_SECURITY_MIRROR  (default http://deb.debian.org/debian-security)
set -euo pipefail

readonly k8s_version=v1.20.2
# The Debian source package that carries upstream v1.20.2 (bookworm's security update).
readonly k8s_source_version=1.20.5+really1.20.2-1.1+deb12u1
readonly go_version=1.19
# What this script changes in the tree before compiling; binaries built otherwise are rebuilt.
readonly build_recipe=reflect2-1.0.2

me=$(basename -- "$0")
cache_dir=${NOVADEV_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/novadev/k8s}
state_dir=${NOVADEV_K8S_STATE_DIR:-/tmp/novadev-k8s-$(id -u)}
api_port=${NOVADEV_K8S_API_PORT:-16443}
etcd_port=${NOVADEV_K8S_ETCD_PORT:-12379}
etcd_peer_port=$((etcd_port + 1))
cm_port=${NOVADEV_K8S_CM_PORT:-16257}
debian_mirror=${NOVADEV_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${NOVADEV_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

bin_dir=$cache_dir/$k8s_version/bin
readonly control_plane_binaries=(kube-apiserver kube-controller-manager)
readonly node_binaries=(kube-scheduler kubelet)

die() {
    echo "$me: error: $*" >&2
    exit 1
}

say() {
    echo "$me: $*" >&2
}

usage() {
    sed -n '8,27p' "$0" | sed 's/^# \{0,1\}//'
}

now() {
    date +%s
}

# --- build ----------------------------------------------------------------------------------------

apt_dir=$cache_dir/apt
apt_opts=()

# A private apt: its own sources (with deb-src, which the host lacks), lists and archive cache, so
# nothing under /etc/apt or /var/lib/apt changes and no root is needed.
setup_apt() {
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -r "$keyring" ] || die "$keyring is missing (Debian's debian-archive-keyring package)"
    cat >"$apt_dir/sources.list" <<EOF
deb [signed-by=$keyring] $debian_mirror bookworm main
deb-src [signed-by=$keyring] $debian_mirror bookworm main
deb [signed-by=$keyring] $security_mirror bookworm-security main
deb-src [signed-by=$keyring] $security_mirror bookworm-security main
EOF
    apt_opts=(
        -o "Dir::Etc::SourceList=$apt_dir/sources.list"
        -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$apt_dir/lists"
        -o "Dir::Cache=$apt_dir/cache"
        -o "Debug::NoLocking=1"
        # apt drops to _apt for downloads, which cannot write into a private cache under $HOME.
        -o "APT::Sandbox::User=$(id -un)"
    )
    # Refresh at most daily; a failed refresh with old lists still lets a rebuild go on.
    local stamp=$apt_dir/updated
    if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 -print)" ]; then
        say "refreshing the package lists (private apt configuration in $apt_dir)"
        if apt-get "${apt_opts[@]}" -q update >"$apt_dir/update.log" 2>&1; then
            touch "$stamp"
        elif [ -e "$stamp" ]; then
            say "apt-get update failed (see $apt_dir/update.log); using the lists from before"
        else
            die "apt-get update failed, see $apt_dir/update.log"
        fi
    fi
}

# Downloads a binary package and unpacks it under $1 (a root directory), once per version.
unpack_deb() {
    local root=$1 package=$2 version
    version=$(apt-cache "${apt_opts[@]}" show --no-all-versions "$package" 2>/dev/null |
        awk '/^Version:/ { print $2; exit }')
    [ -n "$version" ] || die "package $package not found in bookworm (mirror $debian_mirror)"
    local stamp=$root/.unpacked-$package-$version
    [ -e "$stamp" ] && return 0
    say "downloading $package $version"
    local dl=$cache_dir/debs
    mkdir -p "$dl" "$root"
    (cd "$dl" && apt-get "${apt_opts[@]}" -q download "$package=$version" >/dev/null) ||
        die "apt-get download $package=$version failed"
    local deb
    deb=$(find "$dl" -maxdepth 1 -name "${package}_*.deb" -newer "$apt_dir/sources.list" -print -quit)
    [ -n "$deb" ] || deb=$(find "$dl" -maxdepth 1 -name "${package}_*.deb" -print -quit)
    [ -n "$deb" ] || die "the .deb of $package is not in $dl after apt-get download"
    dpkg-deb -x "$deb" "$root"
    touch "$stamp"
}

# The source tree, patched as Debian ships it (dpkg-source applies the quilt series).
fetch_source() {
    local src_root=$cache_dir/src
    local tree=$src_root/kubernetes-$k8s_source_version
    if [ ! -e "$tree/.unpacked" ]; then
        say "downloading the kubernetes source package $k8s_source_version (~30 MB, unpacks to ~400 MB)"
        rm -rf "$src_root"
        mkdir -p "$src_root"
        (cd "$src_root" && apt-get "${apt_opts[@]}" -q source --download-only \
            "kubernetes=$k8s_source_version" >"$src_root/download.log" 2>&1) ||
            die "apt-get source kubernetes=$k8s_source_version failed, see $src_root/download.log"
        local dsc
        dsc=$(find "$src_root" -maxdepth 1 -name 'kubernetes_*.dsc' -print -quit)
        [ -n "$dsc" ] || die "no kubernetes .dsc in $src_root"
        dpkg-source --no-check -x "$dsc" "$tree.tmp" >"$src_root/unpack.log" 2>&1 ||
            die "dpkg-source -x failed, see $src_root/unpack.log"
        mv "$tree.tmp" "$tree"
        touch "$tree/.unpacked"
    fi
    source_tree=$tree
}

go_env() {
    local toolchain=$cache_dir/toolchain
    unpack_deb "$toolchain" "golang-$go_version-src"
    unpack_deb "$toolchain" "golang-$go_version-go"
    export GOROOT=$toolchain/usr/lib/go-$go_version
    [ -x "$GOROOT/bin/go" ] || die "no go binary at $GOROOT/bin/go after unpacking"
    # GOPATH mode: the vendored tree resolves as k8s.io/kubernetes/vendor/…; module mode with
    # -mod=vendor fails on go1.19 ("updates to go.mod needed").
    export GOPATH=$cache_dir/gopath
    export GO111MODULE=off GOPROXY=off GOFLAGS= CGO_ENABLED=0
    export GOCACHE=$cache_dir/gocache
    export PATH=$GOROOT/bin:$PATH
    mkdir -p "$GOPATH/src/k8s.io"
    ln -sfn "$source_tree" "$GOPATH/src/k8s.io/kubernetes"
    pkg_root=$GOPATH/src/k8s.io/kubernetes
}

gobuild() {
    (cd "$pkg_root" && nice -n 10 go build -p 2 "$@")
}

# kube-apiserver needs pkg/generated/openapi, which the release tarball does not carry; it is
# generated from every package tagged `+k8s:openapi-gen=`, as upstream's Makefile does.
generate_openapi() {
    local out=$pkg_root/pkg/generated/openapi/zz_generated.openapi.go
    [ -s "$out" ] && return 0
    say "generating the OpenAPI definitions (openapi-gen)"
    local tools=$cache_dir/tools
    mkdir -p "$tools"
    gobuild -o "$tools/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
    local inputs
    inputs=$(cd "$pkg_root" &&
        grep -rl --include='*.go' -e '+k8s:openapi-gen=' . |
        xargs -n1 dirname |
        sed -e 's|^\./staging/src/||' -e 's|^\./vendor/||' -e 's|^\./|k8s.io/kubernetes/|' |
        grep -v -e '^k8s.io/code-generator/' -e '^k8s.io/sample-apiserver/' \
            -e '^k8s.io/kube-openapi/' -e '^k8s.io/kubernetes/_output/' \
            -e '^k8s.io/kubernetes/hack/' -e '^k8s.io/kubernetes/test/' |
        sort -u | paste -sd, -)
    [ -n "$inputs" ] || die "no package carries +k8s:openapi-gen= under $pkg_root"
    (cd "$pkg_root" && nice -n 10 "$tools/openapi-gen" \
        --input-dirs "$inputs" \
        --output-base "$GOPATH/src" \
        --output-package k8s.io/kubernetes/pkg/generated/openapi \
        --output-file-base zz_generated.openapi \
        --go-header-file hack/boilerplate/boilerplate.generatego.txt \
        --report-filename "$tools/openapi-violations.txt") >"$tools/openapi-gen.log" 2>&1 ||
        die "openapi-gen failed, see $tools/openapi-gen.log"
    [ -s "$out" ] || die "openapi-gen wrote no $out, see $tools/openapi-gen.log"
}

# Go 1.18 changed the map internals that reflect2 1.0.1 (vendored by v1.20) reads directly: with
# go1.19, encoding a map for a pretty-printed response (the API server pretty-prints for curl)
# kills kube-apiserver with "fatal error: fault" in reflect2's UnsafeIterate. reflect2 1.0.2, which
# Debian ships as golang-github-modern-go-reflect2-dev, fixed it; its API is the same.
fix_vendor() {
    local dst=$source_tree/vendor/github.com/modern-go/reflect2
    [ -e "$dst/.novadev-$build_recipe" ] && return 0
    local root=$cache_dir/gocode
    unpack_deb "$root" golang-github-modern-go-reflect2-dev
    local src=$root/usr/share/gocode/src/github.com/modern-go/reflect2
    [ -f "$src/reflect2.go" ] || die "golang-github-modern-go-reflect2-dev has no reflect2.go"
    rm -rf "$dst"
    cp -r "$src" "$dst"
    touch "$dst/.novadev-$build_recipe"
}

ldflags() {
    local major=${k8s_version#v}
    major=${major%%.*}
    local minor=${k8s_version#v*.}
    minor=${minor%%.*}
    local flags="-s -w" pkg
    # client-go carries its own copy of the version, which the kube crate and kubectl read.
    for pkg in k8s.io/kubernetes/vendor/k8s.io/component-base/version \
        k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
        flags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
        flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    echo "$flags"
}

build_binary() {
    local name=$1
    [ -x "$bin_dir/$name" ] && return 0
    local started
    started=$(now)
    say "compiling $name (minutes on 2 cores; log in $cache_dir/logs/$name.log)"
    mkdir -p "$cache_dir/logs" "$bin_dir"
    gobuild -ldflags "$(ldflags)" -o "$bin_dir/$name.tmp" "./cmd/$name" \
        >"$cache_dir/logs/$name.log" 2>&1 ||
        { tail -n 20 "$cache_dir/logs/$name.log" >&2; die "compiling $name failed"; }
    mv "$bin_dir/$name.tmp" "$bin_dir/$name"
    say "$name built in $(($(now) - started)) s"
}

install_etcd() {
    [ -x "$bin_dir/etcd" ] && return 0
    local root=$cache_dir/etcd-root
    unpack_deb "$root" etcd-server
    local etcd
    etcd=$(find "$root/usr/bin" -name etcd -type f -print -quit 2>/dev/null || true)
    [ -n "$etcd" ] || die "etcd-server's .deb has no usr/bin/etcd"
    mkdir -p "$bin_dir"
    cp "$etcd" "$bin_dir/etcd"
}

cmd_build() {
    local wanted=("${control_plane_binaries[@]}")
    while [ "$#" -gt 0 ]; do
        case $1 in
            --node) wanted+=("${node_binaries[@]}") ;;
            *) die "build: unknown option '$1'" ;;
        esac
        shift
    done
    local started missing=0 name
    started=$(now)
    if [ -d "$bin_dir" ] && [ "$(cat "$cache_dir/$k8s_version/recipe" 2>/dev/null)" != "$build_recipe" ]; then
        say "binaries in $bin_dir were built from an older recipe: rebuilding"
        rm -rf "$bin_dir"
    fi
    for name in etcd "${wanted[@]}"; do
        [ -x "$bin_dir/$name" ] || missing=1
    done
    if [ "$missing" = 0 ]; then
        say "cached: ${wanted[*]} etcd in $bin_dir"
        return 0
    fi
    command -v dpkg-source >/dev/null || die "dpkg-source is missing (Debian's dpkg-dev package)"
    setup_apt
    install_etcd
    fetch_source
    fix_vendor
    go_env
    for name in "${wanted[@]}"; do
        [ "$name" = kube-apiserver ] && [ ! -x "$bin_dir/$name" ] && generate_openapi
        build_binary "$name"
    done
    echo "$k8s_source_version" >"$cache_dir/$k8s_version/debian-source-version"
    echo "$build_recipe" >"$cache_dir/$k8s_version/recipe"
    say "built in $(($(now) - started)) s: $bin_dir"
}

# --- start / stop / status -----------------------------------------------------------------------

pid_dir=$state_dir/pids
log_dir=$state_dir/logs
pki=$state_dir/pki
kubeconfig=$state_dir/kubeconfig
# Written into the state directory, so that stop only ever deletes a directory this script made.
readonly state_marker=.novadev-k8s-local
readonly components=(etcd kube-apiserver kube-controller-manager)
readonly context_name=novadev-local

# The pid of a running component, if the pid file names a live process running our binary (a pid
# can be reused once a process has gone; a stale file must not make us signal someone else).
component_pid() {
    local name=$1 pid exe
    [ -r "$pid_dir/$name.pid" ] || return 1
    pid=$(cat "$pid_dir/$name.pid")
    case $pid in '' | *[!0-9]*) return 1 ;; esac
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
    [ "${exe% (deleted)}" = "$(started_bin_dir)/$name" ] || return 1
    echo "$pid"
}

# The binaries a running plane was started from (the cache may have moved since).
started_bin_dir() {
    if [ -r "$state_dir/bin_dir" ]; then cat "$state_dir/bin_dir"; else echo "$bin_dir"; fi
}

admin_token() {
    cat "$state_dir/admin.token"
}

api_get() {
    # A user agent of our own: the API server pretty-prints for curl's.
    curl -fsS -A novadev-k8s-local --max-time 5 --cacert "$pki/ca.crt" -H "Authorization: Bearer $(admin_token)" \
        "https://127.0.0.1:$api_port$1"
}

api_ready() {
    [ "$(api_get /readyz 2>/dev/null)" = ok ]
}

etcd_healthy() {
    curl -fsS --max-time 5 "http://127.0.0.1:$etcd_port/health" 2>/dev/null | grep -q '"health":"true"'
}

# The controller-manager is doing its job once the token controller gave the default service
# account its token secret; before that, pods of a ReplicaSet or Job are rejected on 1.20.
controllers_working() {
    api_get /api/v1/namespaces/default/serviceaccounts/default 2>/dev/null | grep -q '"secrets"'
}

# Waits for a condition, at most $1 seconds, failing early with the log if the component exits.
wait_for() {
    local timeout=$1 what=$2 name=$3
    shift 3
    local deadline=$(($(now) + timeout))
    until "$@"; do
        if ! component_pid "$name" >/dev/null; then
            tail -n 25 "$log_dir/$name.log" >&2 || true
            die "$name exited before $what (log: $log_dir/$name.log)"
        fi
        if [ "$(now)" -ge "$deadline" ]; then
            tail -n 25 "$log_dir/$name.log" >&2 || true
            die "$what: not reached within ${timeout}s (log: $log_dir/$name.log)"
        fi
        sleep 0.3
    done
}

port_free() {
    [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

launch() {
    local name=$1
    shift
    # setsid: the plane outlives this script and the terminal it ran in; stop ends it by pid.
    setsid "$bin_dir/$name" "$@" </dev/null >>"$log_dir/$name.log" 2>&1 &
    echo "$!" >"$pid_dir/$name.pid"
}

make_pki() {
    mkdir -p "$pki"
    local ossl_log=$pki/openssl.log
    # 10.0.0.1 is the `kubernetes` Service's address in --service-cluster-ip-range.
    printf '%s\n' \
        'basicConstraints=critical,CA:FALSE' \
        'keyUsage=critical,digitalSignature,keyEncipherment' \
        'extendedKeyUsage=serverAuth' \
        'subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.0.0.1' \
        >"$pki/apiserver.ext"
    {
        openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=novadev-local-ca" \
            -keyout "$pki/ca.key" -out "$pki/ca.crt" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" &&
            openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
                -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" &&
            openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
                -CAcreateserial -days 365 -extfile "$pki/apiserver.ext" -out "$pki/apiserver.crt" &&
            openssl genrsa -out "$pki/sa.key" 2048 &&
            openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
    } >"$ossl_log" 2>&1 || die "making the certificates failed, see $ossl_log"
    chmod 600 "$pki"/*.key
}

# A kubeconfig with the CA inline and a bearer token, so it works from any directory.
write_kubeconfig() {
    local file=$1 user=$2 token=$3
    {
        echo "apiVersion: v1"
        echo "kind: Config"
        echo "clusters:"
        echo "- name: $context_name"
        echo "  cluster:"
        echo "    server: https://127.0.0.1:$api_port"
        echo "    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")"
        echo "users:"
        echo "- name: $user"
        echo "  user:"
        echo "    token: $token"
        echo "contexts:"
        echo "- name: $context_name"
        echo "  context:"
        echo "    cluster: $context_name"
        echo "    user: $user"
        echo "current-context: $context_name"
    } >"$file"
    chmod 600 "$file"
}

all_running() {
    local name
    for name in "${components[@]}"; do
        component_pid "$name" >/dev/null || return 1
    done
}

cmd_start() {
    local started
    started=$(now)
    if all_running && api_ready; then
        say "already running"
        cmd_env
        return 0
    fi
    if [ -e "$state_dir" ]; then
        say "a stopped or partly running plane is in $state_dir: stopping it first"
        cmd_stop
    fi
    # Seconds when the binaries are cached; the whole build when they are not (or are stale).
    cmd_build
    local port
    for port in "$api_port" "$etcd_port" "$etcd_peer_port" "$cm_port"; do
        port_free "$port" ||
            die "port $port on 127.0.0.1 is taken; choose others with NOVADEV_K8S_*_PORT (see --help)"
    done

    mkdir -p "$state_dir"
    chmod 700 "$state_dir"
    touch "$state_dir/$state_marker"
    echo "$bin_dir" >"$state_dir/bin_dir"
    mkdir -p "$pid_dir" "$log_dir" "$state_dir/etcd"
    make_pki
    local admin cm
    admin=$(openssl rand -hex 24)
    cm=$(openssl rand -hex 24)
    (umask 077 && echo "$admin" >"$state_dir/admin.token")
    # token,user,uid,"groups": system:masters is cluster-admin; the controller-manager gets its
    # own identity, to which the default RBAC policy already grants what it needs.
    (umask 077 && printf '%s\n' \
        "$admin,novadev-admin,novadev-admin,\"system:masters\"" \
        "$cm,system:kube-controller-manager,system:kube-controller-manager" \
        >"$state_dir/tokens.csv")
    write_kubeconfig "$kubeconfig" novadev-admin "$admin"
    write_kubeconfig "$state_dir/controller-manager.kubeconfig" system:kube-controller-manager "$cm"

    launch etcd --name novadev --data-dir "$state_dir/etcd" \
        --listen-client-urls "http://127.0.0.1:$etcd_port" \
        --advertise-client-urls "http://127.0.0.1:$etcd_port" \
        --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
        --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
        --initial-cluster "novadev=http://127.0.0.1:$etcd_peer_port" \
        --logger zap --log-level warn
    wait_for 30 "etcd healthy" etcd etcd_healthy

    launch kube-apiserver \
        --advertise-address 127.0.0.1 --bind-address 127.0.0.1 \
        --secure-port "$api_port" --insecure-port 0 \
        --etcd-servers "http://127.0.0.1:$etcd_port" \
        --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
        --client-ca-file "$pki/ca.crt" \
        --token-auth-file "$state_dir/tokens.csv" \
        --service-account-key-file "$pki/sa.pub" \
        --service-account-signing-key-file "$pki/sa.key" \
        --service-account-issuer https://kubernetes.default.svc.cluster.local \
        --authorization-mode Node,RBAC \
        --service-cluster-ip-range 10.0.0.0/24 \
        --allow-privileged=true \
        --cert-dir "$pki/apiserver-generated" \
        --profiling=false
    wait_for 90 "kube-apiserver /readyz" kube-apiserver api_ready

    launch kube-controller-manager \
        --kubeconfig "$state_dir/controller-manager.kubeconfig" \
        --bind-address 127.0.0.1 --secure-port "$cm_port" --port 0 \
        --cert-dir "$pki/controller-manager-generated" \
        --service-account-private-key-file "$pki/sa.key" \
        --root-ca-file "$pki/ca.crt" \
        --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
        --use-service-account-credentials=true \
        --leader-elect=false \
        --profiling=false
    wait_for 60 "kube-controller-manager reconciling (the default service account's token)" \
        kube-controller-manager controllers_working

    say "control plane $k8s_version ready in $(($(now) - started)) s on https://127.0.0.1:$api_port"
    cmd_env
}

cmd_stop() {
    if [ ! -e "$state_dir" ]; then
        say "not running (no $state_dir)"
        return 0
    fi
    [ -e "$state_dir/$state_marker" ] ||
        die "$state_dir exists but was not made by $me; not touching it"
    local i name pid deadline
    # Reverse order: the controllers first, etcd last, so nothing waits on a peer already gone.
    for ((i = ${#components[@]} - 1; i >= 0; i--)); do
        name=${components[i]}
        pid=$(component_pid "$name") || continue
        kill -TERM "$pid" 2>/dev/null || continue
        deadline=$(($(now) + 15))
        while [ -d "/proc/$pid" ] && [ "$(now)" -lt "$deadline" ]; do
            sleep 0.2
        done
        if [ -d "/proc/$pid" ]; then
            say "$name (pid $pid) did not stop within 15 s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        say "stopped $name"
    done
    rm -rf -- "$state_dir"
    say "removed $state_dir"
}

cmd_env() {
    [ -r "$kubeconfig" ] || die "not started (no $kubeconfig); run: $0 start"
    echo "export KUBECONFIG=$kubeconfig"
}

cmd_status() {
    local name pid ok=0
    for name in "${components[@]}"; do
        if pid=$(component_pid "$name"); then
            echo "$name: running (pid $pid)"
        else
            echo "$name: not running"
            ok=1
        fi
    done
    if [ -r "$state_dir/admin.token" ] && api_ready; then
        echo "api: ready on https://127.0.0.1:$api_port (kubeconfig $kubeconfig)"
    else
        echo "api: not ready"
        ok=1
    fi
    return "$ok"
}

case ${1:-} in
    build) shift; cmd_build "$@" ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    env) cmd_env ;;
    status) cmd_status ;;
    -h | --help | help) usage ;;
    "") usage >&2; exit 2 ;;
    *) echo "$me: unknown command '$1'" >&2; usage >&2; exit 2 ;;
esac
