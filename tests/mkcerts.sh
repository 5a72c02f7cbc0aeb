#!/bin/sh
# Make a throwaway test CA and server certificates in DIR:
#   ca.crt            the CA the client is told to trust
#   server.{crt,key}  signed by it, for localhost, 127.0.0.1 and ::1
#   rogue-ca.crt, rogue.{crt,key}  a second CA and a server cert from it
#   client.{crt,key}  a client certificate signed by the CA
# EC P-256 keys: fast to make, accepted everywhere.
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() {	# name subject
	key "$1.key"
	openssl req -x509 -new -key "$1.key" -sha256 -days 30 -subj "/CN=$2" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$1.crt" 2>/dev/null
}

leaf() {	# name ca san days [start]
	key "$1.key"
	openssl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr" 2>/dev/null
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" > "$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" \
	    -CAcreateserial -sha256 -days "$4" -extfile "$1.ext" -out "$1.crt" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}

ca ca "ssmtp test CA"
ca rogue-ca "rogue test CA"
SAN="DNS:localhost,IP:127.0.0.1,IP:::1,IP:192.0.2.2"	# the last: bench/rttlink.py's hub
leaf server ca "$SAN" 30
leaf rogue rogue-ca "$SAN" 30
leaf wronghost ca "DNS:elsewhere.example,IP:192.0.2.1" 30
leaf client ca "DNS:client.test" 30

# An expired certificate from the trusted CA (valid for one day in 2020),
# made with `openssl ca`, which can set the dates.
cat > ca.cnf <<EOC
[ ca ]
default_ca = test
[ test ]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[ any ]
commonName = supplied
EOC
: > index.txt
echo 1000 > serial
key expired.key
openssl req -new -key expired.key -subj "/CN=expired" \
    -addext "subjectAltName=$SAN" -out expired.csr 2>/dev/null
openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -notext \
    -startdate 20200101000000Z -enddate 20200102000000Z \
    -in expired.csr -out expired.crt 2>/dev/null
rm -f expired.csr ./*.pem index.txt* serial* ca.cnf

# A self-signed certificate for the right names.
key selfsigned.key
openssl req -x509 -new -key selfsigned.key -sha256 -days 30 -subj "/CN=localhost" \
    -addext "subjectAltName=$SAN" -out selfsigned.crt 2>/dev/null
