#!/usr/bin/env bash
# The entrypoint of the one-node cluster's container (scripts/k8s-node.sh starts it): etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and a kubelet on containerd, all in
# this container. Writes /var/lib/novadev/ready once the node is Ready. Logs: /var/log/novadev.
set -euo pipefail

bin=/opt/k8s/bin
state=/var/lib/novadev
logs=/var/log/novadev
pki=$state/pki
node_name=novadev-node
mkdir -p "$state" "$logs" "$pki"
node_ip=$(ip -4 -o addr show dev eth0 | awk '{ split($4, a, "/"); print a[1]; exit }')
[ -n "$node_ip" ] || { echo "node.sh: no IPv4 address on eth0" >&2; exit 1; }

# Docker mounts the cgroup hierarchies read-only into an unprivileged container; the kubelet and
# runc need to create cgroups.
# needs a bind remount (a plain remount of a cgroup mount is refused as busy).
awk '$2 ~ "^/sys/fs/cgroup/" { print $2 }' /proc/mounts | while read -r d; do
    mount -o remount,bind,rw "$d"
done

# --- certificates and credentials -------------------------------------------------------------
printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' \
    'extendedKeyUsage=serverAuth' \
    "subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$node_ip,IP:10.0.0.1" \
    >"$pki/apiserver.ext"
{
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=novadev-node-ca \
        -keyout "$pki/ca.key" -out "$pki/ca.crt" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver \
        -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr"
    openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
        -CAcreateserial -days 30 -extfile "$pki/apiserver.ext" -out "$pki/apiserver.crt"
    openssl genrsa -out "$pki/sa.key" 2048
    openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
} >"$logs/openssl.log" 2>&1

token() { openssl rand -hex 24; }
admin=$(token) cm=$(token) sched=$(token) kubelet=$(token)
printf '%s\n' "$admin,novadev-admin,novadev-admin,\"system:masters\"" \
    "$cm,system:kube-controller-manager,system:kube-controller-manager" \
    "$sched,system:kube-scheduler,system:kube-scheduler" \
    "$kubelet,system:node:$node_name,system:node:$node_name,\"system:nodes\"" >"$state/tokens.csv"
echo "$admin" >"$state/admin.token"

kubeconfig() {
    local user=$1 tok=$2
    cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: node
  cluster: {server: "https://127.0.0.1:6443", certificate-authority: "$pki/ca.crt"}
users:
- name: $user
  user: {token: "$tok"}
contexts:
- name: node
  context: {cluster: node, user: $user}
current-context: node
EOF
}
kubeconfig system:kube-controller-manager "$cm" >"$state/cm.kubeconfig"
kubeconfig system:kube-scheduler "$sched" >"$state/scheduler.kubeconfig"
kubeconfig "system:node:$node_name" "$kubelet" >"$state/kubelet.kubeconfig"

# --- containerd, with a bridge network for pods -------------------------------------------------
mkdir -p /etc/containerd /etc/cni/net.d
cat >/etc/containerd/config.toml <<'EOF'
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "novadev/pause:3.2"
  # The container cannot lower OOM scores below its own (no CAP_SYS_RESOURCE).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
EOF
cat >/etc/cni/net.d/10-novadev.conflist <<'EOF'
{
  "cniVersion": "0.4.0",
  "name": "novadev",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
containerd >"$logs/containerd.log" 2>&1 &
for _ in $(seq 1 100); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.1; done

# --- the control plane ------------------------------------------------------------------------
"$bin/etcd" --name node --data-dir "$state/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster node=http://127.0.0.1:2380 --logger zap --log-level warn \
    >"$logs/etcd.log" 2>&1 &
for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:2379/health >/dev/null 2>&1 && break; sleep 0.2; done

"$bin/kube-apiserver" --advertise-address "$node_ip" --bind-address 0.0.0.0 --secure-port 6443 \
    --insecure-port 0 --etcd-servers http://127.0.0.1:2379 \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --token-auth-file "$state/tokens.csv" \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --authorization-mode Node,RBAC --service-cluster-ip-range 10.0.0.0/24 \
    --allow-privileged=true --kubelet-preferred-address-types InternalIP --profiling=false \
    >"$logs/kube-apiserver.log" 2>&1 &
# A user agent of our own: the API server pretty-prints for curl's.
api() { curl -fsS -A novadev-node --max-time 5 --cacert "$pki/ca.crt" -H "Authorization: Bearer $admin" "https://127.0.0.1:6443$1"; }
for _ in $(seq 1 300); do [ "$(api /readyz 2>/dev/null)" = ok ] && break; sleep 0.3; done

"$bin/kube-controller-manager" --kubeconfig "$state/cm.kubeconfig" --bind-address 127.0.0.1 \
    --port 0 --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --use-service-account-credentials=true --leader-elect=false --profiling=false \
    >"$logs/kube-controller-manager.log" 2>&1 &
"$bin/kube-scheduler" --kubeconfig "$state/scheduler.kubeconfig" --bind-address 127.0.0.1 \
    --port 0 --leader-elect=false --profiling=false >"$logs/kube-scheduler.log" 2>&1 &

# Pods reach the API server at the `kubernetes` Service's address (their in-cluster config);
# there is no kube-proxy, so one DNAT rule stands in for it, for that one Service.
iptables -t nat -A PREROUTING -d 10.0.0.1/32 -p tcp --dport 443 -j DNAT --to-destination "$node_ip:6443"

# --- names for pods ---------------------------------------------------------------------------
# Debian has no CoreDNS and kube-proxy is not built, so Service addresses do not route here. A
# stand-in: dnsmasq answers `<service>[.<namespace>.svc.cluster.local]` with the ready pod
# addresses of the Service's Endpoints, refreshed four times a second. Services novadev renders
# use the container port as the Service port, so a pod address is as good as the Service's.
hosts=$state/cluster-hosts
: >"$hosts"
# --local: cluster.local is answered here only, so a known name without an IPv6 address gets an
# empty answer rather than REFUSED (which clients asking A and AAAA together take as a failure).
dnsmasq --keep-in-foreground --no-resolv --no-hosts --addn-hosts="$hosts" --local=/cluster.local/ \
    --listen-address="$node_ip" --bind-interfaces --user=root --local-ttl=1 \
    --log-facility="$logs/dnsmasq.log" &
dnsmasq_pid=$!
(
    while sleep 0.25; do
        api /api/v1/endpoints 2>/dev/null | jq -r '
            .items[] | .metadata as $m | (.subsets // [])[] | (.addresses // [])[]
            | "\(.ip) \($m.name).\($m.namespace).svc.cluster.local \($m.name).\($m.namespace).svc"' \
            | sort >"$hosts.new" || continue
        if ! cmp -s "$hosts.new" "$hosts"; then
            mv "$hosts.new" "$hosts"
            kill -HUP "$dnsmasq_pid"
        fi
    done
) &

# --- the kubelet ------------------------------------------------------------------------------
"$bin/kubelet" --kubeconfig "$state/kubelet.kubeconfig" --hostname-override "$node_name" \
    --node-ip "$node_ip" --container-runtime remote \
    --container-runtime-endpoint unix:///run/containerd/containerd.sock \
    --pod-infra-container-image novadev/pause:3.2 \
    --cgroup-driver cgroupfs --cgroups-per-qos=false --enforce-node-allocatable= \
    --fail-swap-on=false --anonymous-auth=true --authorization-mode AlwaysAllow \
    --eviction-hard 'nodefs.available<1%,imagefs.available<1%' --image-gc-high-threshold 100 \
    --image-gc-low-threshold 99 --serialize-image-pulls=false --root-dir /var/lib/kubelet \
    --cluster-domain cluster.local --cluster-dns "$node_ip" --v 1 >"$logs/kubelet.log" 2>&1 &

for _ in $(seq 1 600); do
    if api "/api/v1/nodes/$node_name" 2>/dev/null | tr -d ' \n' | grep -q '"type":"Ready","status":"True"'; then
        touch "$state/ready"
        break
    fi
    sleep 0.5
done
[ -e "$state/ready" ] || echo "node.sh: the node did not become Ready (see $logs/kubelet.log)" >&2
# Runs until one of the components exits (the container then stops, and says which in its log).
wait -n
echo "node.sh: a component exited; see $logs" >&2
exit 1
