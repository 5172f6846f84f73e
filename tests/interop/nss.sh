#!/usr/bin/env bash
# NSS (the library inside Firefox, Thunderbird and Chromium on Linux)
# against Keyward, driven with NSS's own tools the way Firefox uses a
# token: the module registered in an NSS database with modutil, the token
# listed, an RSA and an EC key pair generated *in the token* by certutil
# with self-signed certificates stored next to them, keys matched to their
# certificates by CKA_ID, certificate requests signed by the token keys
# (checked by OpenSSL), a client certificate issued by the token's EC CA
# key and stored in the token, certificates validated, the public/private
# split checked (certificates readable before login, private keys not), and
# TLS 1.3 and 1.2 client authentication by NSS with the token key against
# an OpenSSL server on loopback.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
require certutil modutil tstclnt pkcs11-tool openssl setsid

# certutil reads prompts (entropy, extensions) from stdin; nothing here may
# ever wait for a keyboard.
exec </dev/null

# A label with a space, as users name tokens: NSS nicknames are
# "<token label>:<nickname>" and every command below must quote it.
TOKEN="Keyward NSS"
DB="sql:$WORK/nssdb"
mkdir "$WORK/nssdb"
PINFILE="$WORK/pin.txt"
NOISE="$WORK/noise.bin"
printf '%s\n' "$USER_PIN" > "$PINFILE"
# certutil -S/-R otherwise asks for keyboard entropy.
head -c 64 /dev/urandom > "$NOISE"
CU=(certutil -d "$DB")
P11=(pkcs11-tool --module "$MODULE")

# NSS asks for a PIN on /dev/tty, not stdin. setsid runs a command without
# a controlling terminal so such a prompt fails at once instead of waiting
# for a human when this script is run by hand in a terminal.
NO_TTY=(setsid -w)

# refuse DESCRIPTION PATTERN -- COMMAND...: COMMAND must fail, and its output
# must match PATTERN (so it fails for the reason we expect, not any reason).
refuse() {
    local desc="$1" pattern="$2"
    shift 2
    [ "$1" = "--" ] && shift
    printf '\n== %s\n$ %s\n' "$desc" "$*"
    local out rc=0
    out="$(timeout 120 "$@" 2>&1)" || rc=$?
    printf '%s\n' "$out" | tail -n 20
    if [ "$rc" -eq 0 ] || ! grep -Eq -- "$pattern" <<<"$out"; then
        printf -- '-- FAILED (exit %s, wanted a failure matching /%s/): %s\n' "$rc" "$pattern" "$desc"
        exit 1
    fi
    printf -- '-- ok (refused as expected)\n'
}

# reject_output PATTERN: the last step's output must NOT match (grep -E).
reject_output() {
    if grep -Eq -- "$1" <<<"$LAST_OUTPUT"; then
        printf -- '-- FAILED: output matches /%s/\n' "$1"
        exit 1
    fi
}

# key_id NICKNAME: the CKA_ID (hex) that the last `certutil -K` printed for
# the key matched to certificate NICKNAME; its lines read
# "< 0> rsa      90d75b47…   Keyward NSS:rsa-cert".
key_id() {
    sed -nE "s/.* ([0-9a-f]{40}) +$TOKEN:$1\$/\1/p" <<<"$LAST_OUTPUT"
}

init_token "$TOKEN"

# --- registration: what Firefox's "Load" button and `modutil -add` do ----

step "create an NSS database" -- certutil -N -d "$DB" --empty-password
# -force: modutil otherwise asks for confirmation (it warns that a browser
# should not be running while the database changes).
step "register the module" -- modutil -add keyward -libfile "$MODULE" -dbdir "$DB" -force
step "modutil lists the module and its token" -- modutil -list keyward -dbdir "$DB"
expect_output "PKCS #11 Version 3\.2"
expect_output "Token Name: $TOKEN"
expect_output "Status: Enabled"
expect_output "User Pin: Initialized"
step "certutil lists the token" -- "${CU[@]}" -U
expect_output "token: $TOKEN"
expect_output "uri: pkcs11:token=Keyward%20NSS;manufacturer=Keyward;serial=[0-9A-F]+;model="

# --- keys and certificates made in the token --------------------------------

# -h puts the key pair (C_GenerateKeyPair, then C_SetAttributeValue of
# CKA_ID) and the self-signed certificate (C_CreateObject, signed with the
# new key by C_Sign) in the token; -t gives it trust as a CA.
step "RSA-2048 key pair and self-signed certificate in the token" -- \
    "${CU[@]}" -S -h "$TOKEN" -f "$PINFILE" -z "$NOISE" -k rsa -g 2048 \
    -n rsa-cert -s "CN=Keyward NSS RSA,O=Keyward interop" -x -t "CT,C,C" -v 12
# The EC certificate is also a CA (it issues a client certificate below):
# -2 asks on stdin for its basic constraints (CA: yes, no path length,
# critical).
printf 'y\n\ny\n' > "$WORK/ca-answers"
step "EC P-256 key pair and self-signed CA certificate in the token" -- \
    "${CU[@]}" -S -h "$TOKEN" -f "$PINFILE" -z "$NOISE" -k ec -q nistp256 \
    -n ec-cert -s "CN=Keyward NSS EC,O=Keyward interop" -x -t "CT,C,C" -v 12 \
    -2 --keyUsage certSigning,crlSigning,digitalSignature <"$WORK/ca-answers"

step "list certificates of every token" -- "${CU[@]}" -L -h all -f "$PINFILE"
expect_output "^$TOKEN:rsa-cert +CTu,Cu,Cu"
expect_output "^$TOKEN:ec-cert +CTu,Cu,Cu"

# NSS matches a key to its certificate by CKA_ID: the nickname in the last
# column comes from the certificate, "(orphan)" would mean no match.
step "list the token's keys, each matched to its certificate" -- \
    "${CU[@]}" -K -h "$TOKEN" -f "$PINFILE"
expect_output "rsa +[0-9a-f]{40} +$TOKEN:rsa-cert"
expect_output "ec +[0-9a-f]{40} +$TOKEN:ec-cert"
reject_output "orphan"
RSA_ID="$(key_id rsa-cert)"
EC_ID="$(key_id ec-cert)"

# The CKA_ID NSS wrote with C_SetAttributeValue must be on the private key,
# the public key and the certificate alike (three objects per ID).
step "the same CKA_ID on key pair and certificate (pkcs11-tool view)" -- \
    "${P11[@]}" --login --pin "$USER_PIN" --list-objects
for id in "$RSA_ID" "$EC_ID"; do
    n="$(grep -Ec "ID: +$id\$" <<<"$LAST_OUTPUT" || true)"
    if [ "$n" -ne 3 ]; then
        echo "-- FAILED: CKA_ID $id is on $n objects, wanted 3 (private key, public key, certificate)"
        exit 1
    fi
done

# --- signing with the token keys --------------------------------------------

# -k takes the key by its CKA_ID as listed by certutil -K; the request is
# signed in the token (C_SignInit/C_Sign) and checked by OpenSSL in software.
for alg in rsa ec; do
    id="$RSA_ID"
    [ "$alg" = ec ] && id="$EC_ID"
    step "certificate request signed by the token's $alg key (key by id)" -- \
        "${CU[@]}" -R -h "$TOKEN" -f "$PINFILE" -z "$NOISE" -k "$id" \
        -s "CN=Keyward NSS $alg request" -a -o "$WORK/$alg.csr"
    step "OpenSSL verifies the $alg request's signature" -- \
        openssl req -provider default -in "$WORK/$alg.csr" -verify -noout -subject
    expect_output "verify OK"
    expect_output "CN ?= ?Keyward NSS $alg request"
done

# --- what a session that has not logged in can see --------------------------

# Private keys are CKA_PRIVATE=true: without the PIN certutil cannot list
# them (and NSS cannot prompt: no terminal).
refuse "no key listing without the PIN" "could not authenticate|no keys found" -- \
    "${NO_TTY[@]}" "${CU[@]}" -K -h "$TOKEN"
# Certificates are CKA_PRIVATE=false: a public session finds them, never a
# private key.
step "before login: certificates visible, private keys not" -- \
    "${P11[@]}" --list-objects
expect_output "Certificate Object.*"
expect_output "label: +rsa-cert"
expect_output "label: +ec-cert"
reject_output "Private Key Object"

# NSS itself: with no PIN (its prompt fails for want of a terminal) it still
# lists the token's certificates, read from a public session.
step "NSS lists every token's certificates without a PIN" -- "${NO_TTY[@]}" "${CU[@]}" -L -h all
expect_output "^$TOKEN:rsa-cert"
expect_output "^$TOKEN:ec-cert"

# NSS logs in before it looks a certificate up by "token:nickname" unless the
# token is marked as having publicly readable certificates (the FRIENDLY
# default flag, "PublicCerts" in pkcs11.txt). Keyward's certificates are
# public, so the flag is right for it; certutil -V needs it because it
# passes no PIN to that lookup.
step "mark the token's certificates as publicly readable" -- \
    modutil -default keyward -mechanisms FRIENDLY -dbdir "$DB" -force
step "NSS lists this token's certificates without a PIN" -- \
    "${NO_TTY[@]}" "${CU[@]}" -L -h "$TOKEN"
expect_output "^$TOKEN:rsa-cert"
expect_output "^$TOKEN:ec-cert"

# The way a user gets a CA-issued certificate for a token key: a request
# signed by the key (named by its certificate's nickname this time), a
# certificate issued by a CA whose key is also in the token (the EC one
# signs, through C_Sign), imported into the token next to its key.
step "certificate request signed by the RSA key (key by nickname)" -- \
    "${CU[@]}" -R -h "$TOKEN" -f "$PINFILE" -z "$NOISE" -k "$TOKEN:rsa-cert" \
    -s "CN=Keyward NSS client,O=Keyward interop" -a -o "$WORK/client.csr"
step "OpenSSL verifies it" -- openssl req -provider default -in "$WORK/client.csr" -verify -noout
expect_output "verify OK"
# -a: PEM request in, PEM certificate out.
step "issue a TLS client certificate with the token's EC CA key" -- \
    "${CU[@]}" -C -f "$PINFILE" -c "$TOKEN:ec-cert" -a -i "$WORK/client.csr" \
    -o "$WORK/client.pem" -m 1001 -v 12 --extKeyUsage clientAuth
step "export the EC CA certificate" -- "${CU[@]}" -L -n "$TOKEN:ec-cert" -a -o "$WORK/ca.pem"
step "OpenSSL verifies the chain (ECDSA signature made in the token)" -- \
    openssl verify -provider default -purpose sslclient -CAfile "$WORK/ca.pem" "$WORK/client.pem"
expect_output "client.pem: OK"
step "import the issued certificate into the token" -- \
    "${CU[@]}" -A -h "$TOKEN" -f "$PINFILE" -n client-cert -t ",," -a -i "$WORK/client.pem"
# "u": NSS found the private key for it (same CKA_ID as the RSA key pair).
step "the token holds it as a user certificate" -- "${NO_TTY[@]}" "${CU[@]}" -L -h "$TOKEN"
expect_output "^$TOKEN:client-cert +u,u,u"

# -e also checks each certificate's signature, made by a token key.
for nick in rsa-cert ec-cert client-cert; do
    step "validate $nick as a TLS client certificate" -- \
        "${NO_TTY[@]}" "${CU[@]}" -V -n "$TOKEN:$nick" -u C -e
    expect_output "certificate is valid"
done
for nick in rsa-cert ec-cert; do
    step "validate $nick as a TLS server certificate" -- \
        "${NO_TTY[@]}" "${CU[@]}" -V -n "$TOKEN:$nick" -u V -e
    expect_output "certificate is valid"
done
refuse "the client certificate is not valid for a TLS server (extended key usage)" \
    "not approved for application" -- \
    "${NO_TTY[@]}" "${CU[@]}" -V -n "$TOKEN:client-cert" -u V -e

# --- TLS client authentication, as Firefox does it -------------------------

# NSS's test client presents the token's client certificate to an OpenSSL
# server that demands one chained to the token's EC CA (-Verify). The
# CertificateVerify signature is made in the token (RSA-PSS in TLS 1.3).
# The server's own key is an ordinary software key, trusted as a peer.
step "a software key and certificate for the test server" -- \
    openssl req -provider default -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$WORK/server.key" -out "$WORK/server.pem" -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1
step "NSS trusts the test server's certificate" -- \
    "${CU[@]}" -A -n keyward-test-server -t "P,," -a -i "$WORK/server.pem"
PORT="$(free_port)"
timeout 60 openssl s_server -provider default -accept "127.0.0.1:$PORT" \
    -cert "$WORK/server.pem" -key "$WORK/server.key" -Verify 1 -CAfile "$WORK/ca.pem" -www \
    >"$WORK/server.log" 2>&1 &
PIDS+=("$!")
wait_for_port "$PORT"
printf 'GET / HTTP/1.0\r\n\r\n' > "$WORK/request.txt"
for version in tls1.3 tls1.2; do
    step "$version handshake with the token's client certificate (tstclnt)" -- \
        "${NO_TTY[@]}" tstclnt -h 127.0.0.1 -p "$PORT" -d "$DB" -W "$PINFILE" \
        -n "$TOKEN:client-cert" -V "$version:$version" -A "$WORK/request.txt"
    # s_server -www answers with the session it saw, client certificate included.
    expect_output "Protocol +: ${version/tls/TLSv}"
    expect_output "Subject: ?O ?= ?Keyward interop, ?CN ?= ?Keyward NSS client"
done

printf '\nNSS: all flows passed\n'
