#!/usr/bin/env bash
# Makes development TLS material with openssl into certs/out/ (git-ignored; OUT=DIR to choose):
#   ca.crt/ca.key          a development CA
#   server.crt/server.key  for the agent: SANs localhost, 127.0.0.1, ::1 (and $EXTRA_SAN if set, e.g. DNS:node1)
#   client.crt/client.key  for mTLS clients (Prometheus, etcha push), signed by the same CA
# Keys are ECDSA P-256; certificates last 825 days. Re-running replaces everything.
set -euo pipefail
out="${OUT:-$(cd "$(dirname "$0")" && pwd)/out}"
mkdir -p "$out"
cd "$out"
san="DNS:localhost,IP:127.0.0.1,IP:::1${EXTRA_SAN:+,$EXTRA_SAN}"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
  -subj "/CN=etcha development CA" -keyout ca.key -out ca.crt \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

issue() { # name, subject, extended key usage, extra extensions
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$2" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\n%s\n' "$3" "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -sha256 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
issue server "localhost" serverAuth "subjectAltName=$san"
issue client "etcha client" clientAuth ""
chmod 600 ./*.key
echo "wrote $out: ca.crt server.crt server.key client.crt client.key"
