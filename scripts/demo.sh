#!/usr/bin/env bash
# The main job, end to end: ask p0f what it knows about a host.
# As root with Debian's p0f at hand: start p0f on the loopback interface,
# make some local TCP traffic, query the real daemon, stop it.
# Otherwise: the bundled fake daemon with sample hosts (`p0f-query --demo`).
set -euo pipefail
cd "$(dirname "$0")/.."
query=.venv/bin/p0f-query
p0f_bin=$(command -v p0f || echo /usr/sbin/p0f)

if [ "$(id -u)" != 0 ] || [ ! -x "$p0f_bin" ]; then
    echo "demo: no real p0f here (needs root and Debian's p0f); showing samples" >&2
    exec "$query" --demo
fi

dir=$(mktemp -d /tmp/p0f-demo.XXXXXX)
"$p0f_bin" -i lo -s "$dir/p0f.sock" -o "$dir/p0f.log" 'tcp' >"$dir/p0f.out" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
    [ -S "$dir/p0f.sock" ] && break
    sleep 0.05
done
sleep 0.2  # let p0f start capturing before the traffic

# Some local traffic for p0f to fingerprint: a TCP connection to ourselves.
.venv/bin/python - <<'PY'
import socket
server = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(server.getsockname(), timeout=2)
peer, _ = server.accept()
client.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
peer.recv(1024)
for s in (client, peer, server):
    s.close()
PY

echo "demo: querying a real p0f on lo through $dir/p0f.sock" >&2
"$query" -s "$dir/p0f.sock" 127.0.0.1
