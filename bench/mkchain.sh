#!/bin/sh
# A hub's certificate chain as real hubs have one, for the benchmark:
#   ca.crt      the root, which the client trusts
#   server.crt  the leaf and the intermediate (what the hub sends)
#   server.key  the leaf's key
# usage: mkchain.sh DIR rsa2048|rsa4096|p256
set -eu
dir=$1
alg=$2
mkdir -p "$dir"
cd "$dir"

key() {
	case "$alg" in
	rsa2048) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" ;;
	rsa4096) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$1" ;;
	p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" ;;
	*) echo "mkchain.sh: unknown algorithm $alg" >&2; exit 64 ;;
	esac 2>/dev/null
}

key root.key
openssl req -x509 -new -key root.key -sha256 -days 30 -subj "/CN=bench root $alg" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt 2>/dev/null
key int.key
openssl req -new -key int.key -subj "/CN=bench intermediate $alg" -out int.csr 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >int.ext
openssl x509 -req -in int.csr -CA ca.crt -CAkey root.key -CAcreateserial -sha256 \
    -days 30 -extfile int.ext -out int.crt 2>/dev/null
key server.key
openssl req -new -key server.key -subj "/CN=localhost" -out leaf.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:192.0.2.2\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >leaf.ext
openssl x509 -req -in leaf.csr -CA int.crt -CAkey int.key -CAcreateserial -sha256 \
    -days 30 -extfile leaf.ext -out leaf.crt 2>/dev/null
cat leaf.crt int.crt >server.crt
rm -f ./*.csr ./*.ext ./*.srl
