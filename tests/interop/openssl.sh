#!/usr/bin/env bash
# OpenSSL 3 + pkcs11-provider against Keyward, with keys that never leave
# the token and are named by RFC 7512 pkcs11: URIs: public-key export,
# sign (RSA PKCS#1 v1.5, RSA-PSS, ECDSA P-256/P-384, Ed25519), key
# generation through OpenSSL, self-signed certificates and CSRs, RSA-OAEP
# decryption, ECDH, TLS 1.3 and 1.2 servers on loopback, and a process that
# forks after the provider loaded the module.
#
# The configuration is examples/openssl/openssl.cnf with only its module
# path and PIN lines replaced, so the file users copy is the file tested.
# Every result the token produces is checked by OpenSSL's default provider
# alone (OPENSSL_CONF=/dev/null, no pkcs11-provider loaded), so a flow
# proves the module computed the right thing, not only that the provider
# is satisfied with it.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
require openssl pkcs11-tool python3 cmp
# pkcs11-provider is found in OpenSSL's modules directory, as the example
# configuration relies on.
MODULESDIR="$(openssl version -m | sed -e 's/^MODULESDIR: "\(.*\)"$/\1/')"
require "$MODULESDIR/pkcs11.so"

TOKEN=keyward-openssl
W="$WORK"
# pkcs11-tool logged in as the user (lib.sh's p11, as a command `step` can
# run under `timeout`).
P11=(pkcs11-tool --module "$MODULE" --login --pin "$USER_PIN")
# The software side: OpenSSL with nothing but its default provider.
PLAIN=(env OPENSSL_CONF=/dev/null openssl)
# A PKCS11_PROVIDER_MODULE left in the caller's environment would override
# the configuration's module path.
unset PKCS11_PROVIDER_MODULE

# uri OBJECT TYPE: the RFC 7512 URI of a key in our token.
uri() {
    printf 'pkcs11:token=%s;object=%s;type=%s' "$TOKEN" "$1" "$2"
}

init_token "$TOKEN"

printf '%s\n' "$USER_PIN" >"$W/pin.txt"
chmod 600 "$W/pin.txt"
sed -e "s|^pkcs11-module-path = .*|pkcs11-module-path = $MODULE|" \
    -e "s|^pkcs11-module-token-pin = .*|pkcs11-module-token-pin = file:$W/pin.txt|" \
    "$ROOT/examples/openssl/openssl.cnf" >"$W/openssl.cnf"
export OPENSSL_CONF="$W/openssl.cnf"
# If the example's lines changed shape, the sed above silently did nothing.
step "configuration generated from examples/openssl/openssl.cnf" -- \
    grep -E "^pkcs11-module-(path = $MODULE|token-pin = file:$W/pin.txt)$" "$OPENSSL_CONF"
expect_output "module-path"
expect_output "token-pin"

# ---------------------------------------------------------------- keys
step "RSA-2048 key pair in the token (pkcs11-tool)" -- \
    "${P11[@]}" --keypairgen --key-type RSA:2048 --id 01 --label rsa
step "EC P-256 key pair in the token (pkcs11-tool)" -- \
    "${P11[@]}" --keypairgen --key-type EC:secp256r1 --id 02 --label p256
step "EC P-384 key pair in the token (pkcs11-tool)" -- \
    "${P11[@]}" --keypairgen --key-type EC:secp384r1 --id 03 --label p384
step "Ed25519 key pair in the token (pkcs11-tool)" -- \
    "${P11[@]}" --keypairgen --key-type EC:edwards25519 --id 04 --label ed25519

step "the provider lists the token's keys by URI" -- openssl storeutl -keys -noout -text "pkcs11:token=$TOKEN"
for k in rsa p256 p384 ed25519; do
    expect_output "object=$k;type=private"
done

# ------------------------------------------------- public-key export
# Each public key is exported through the provider from its type=public
# object, then parsed by the default provider alone (size or curve).
for spec in "rsa:Public-Key: \(2048 bit\)" "p256:ASN1 OID: prime256v1" \
    "p384:ASN1 OID: secp384r1" "ed25519:ED25519 Public-Key"; do
    k="${spec%%:*}"
    step "export the $k public key" -- \
        openssl pkey -in "$(uri "$k" public)" -pubin -pubout -out "$W/$k.pub.pem"
    step "the default provider reads the exported $k key" -- \
        "${PLAIN[@]}" pkey -pubin -in "$W/$k.pub.pem" -noout -text
    expect_output "${spec#*:}"
done

# ------------------------------------------------------ sign / verify
head -c 3000 /dev/urandom >"$W/data.bin"
"${PLAIN[@]}" dgst -sha256 -binary -out "$W/data.sha256" "$W/data.bin"
"${PLAIN[@]}" dgst -sha384 -binary -out "$W/data.sha384" "$W/data.bin"

# sign_verify NAME KEY DGST_OPTS...: `openssl dgst -sign` with the token key,
# `openssl dgst -verify` with the exported public key and no provider.
sign_verify() {
    local name="$1" key="$2"
    shift 2
    step "dgst -sign, $name" -- \
        openssl dgst "$@" -sign "$(uri "$key" private)" -out "$W/$name.sig" "$W/data.bin"
    step "dgst -verify (default provider), $name" -- \
        "${PLAIN[@]}" dgst "$@" -verify "$W/$key.pub.pem" -signature "$W/$name.sig" "$W/data.bin"
    expect_output "Verified OK"
}
sign_verify rsa-pkcs1-sha256 rsa -sha256
sign_verify rsa-pss-sha256 rsa -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest
sign_verify rsa-pss-sha384 rsa -sha384 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:max
sign_verify ecdsa-p256-sha256 p256 -sha256
sign_verify ecdsa-p384-sha384 p384 -sha384

# pkeyutl_sign_verify NAME KEY INPUT PKEYUTL_OPTS...: `openssl pkeyutl
# -sign` of a precomputed digest (or of the message, with -rawin).
pkeyutl_sign_verify() {
    local name="$1" key="$2" input="$3"
    shift 3
    step "pkeyutl -sign, $name" -- \
        openssl pkeyutl -sign -inkey "$(uri "$key" private)" "$@" -in "$input" -out "$W/$name.sig"
    step "pkeyutl -verify (default provider), $name" -- \
        "${PLAIN[@]}" pkeyutl -verify -pubin -inkey "$W/$key.pub.pem" "$@" \
        -in "$input" -sigfile "$W/$name.sig"
    expect_output "Signature Verified Successfully"
}
pkeyutl_sign_verify pkeyutl-rsa-pkcs1 rsa "$W/data.sha256" -pkeyopt digest:sha256
pkeyutl_sign_verify pkeyutl-rsa-pss rsa "$W/data.sha256" -pkeyopt digest:sha256 \
    -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32
pkeyutl_sign_verify pkeyutl-ecdsa-p256 p256 "$W/data.sha256"
pkeyutl_sign_verify pkeyutl-ecdsa-p384 p384 "$W/data.sha384"
pkeyutl_sign_verify pkeyutl-ed25519 ed25519 "$W/data.bin" -rawin

# The calls the provider is known to make (INTEROP.md): discovery through
# C_GetInterface, token keys cached as session objects with C_CopyObject,
# and context duplication with C_GetOperationState.
step "module call trace of one signature" -- env KEYWARD_TRACE=1 \
    openssl dgst -sha256 -sign "$(uri p256 private)" -out "$W/trace.sig" "$W/data.bin"
expect_output "C_GetInterface -> CKR_OK"
expect_output "C_Initialize -> CKR_OK"
expect_output "C_CopyObject -> CKR_OK"
expect_output "C_GetOperationState -> CKR_OK"
expect_output "C_SignFinal -> CKR_OK"

# ------------------------------------------- key generation by OpenSSL
# -propquery (not -provider) routes the key generation to pkcs11-provider:
# the configuration already loads it next to the default provider, which
# would otherwise answer and not know the pkcs11_uri parameter.
step "genpkey EC P-256 in the token" -- \
    openssl genpkey -propquery provider=pkcs11 -algorithm EC \
    -pkeyopt ec_paramgen_curve:P-256 \
    -pkeyopt "pkcs11_uri:pkcs11:token=$TOKEN;object=gen-ec;id=%10" \
    -out "$W/gen-ec.uri.pem"
step "genpkey wrote a URI reference, not a private key" -- cat "$W/gen-ec.uri.pem"
expect_output "BEGIN PKCS#11 PROVIDER URI"
step "the new key pair is in the token" -- "${P11[@]}" --list-objects --type privkey
expect_output "label: +gen-ec"
step "export the generated public key" -- \
    openssl pkey -in "$(uri gen-ec public)" -pubin -pubout -out "$W/gen-ec.pub.pem"
sign_verify gen-ec-by-uri gen-ec -sha256
step "sign through the genpkey URI PEM file" -- \
    openssl dgst -sha256 -sign "$W/gen-ec.uri.pem" -out "$W/gen-ec-pem.sig" "$W/data.bin"
step "verify it (default provider)" -- "${PLAIN[@]}" dgst -sha256 \
    -verify "$W/gen-ec.pub.pem" -signature "$W/gen-ec-pem.sig" "$W/data.bin"
expect_output "Verified OK"

# RSA-PSS keys make the provider restrict CKA_ALLOWED_MECHANISMS to PSS.
step "genpkey RSA-PSS 2048 in the token" -- \
    openssl genpkey -propquery provider=pkcs11 -algorithm RSA-PSS \
    -pkeyopt rsa_keygen_bits:2048 \
    -pkeyopt "pkcs11_uri:pkcs11:token=$TOKEN;object=gen-pss;id=%11" \
    -out "$W/gen-pss.uri.pem"
step "export the generated RSA-PSS public key" -- \
    openssl pkey -in "$(uri gen-pss public)" -pubin -pubout -out "$W/gen-pss.pub.pem"
sign_verify gen-pss gen-pss -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest

# ------------------------------------------ certificates and requests
for k in rsa p256 p384 ed25519; do
    step "self-signed certificate with the $k token key (req -x509)" -- \
        openssl req -new -x509 -key "$(uri "$k" private)" -subj "/CN=keyward-$k" \
        -addext "subjectAltName=IP:127.0.0.1" -days 2 -out "$W/$k.crt"
    step "the default provider verifies the $k certificate" -- \
        "${PLAIN[@]}" verify -CAfile "$W/$k.crt" "$W/$k.crt"
    expect_output "$k.crt: OK"
    "${PLAIN[@]}" x509 -in "$W/$k.crt" -noout -pubkey -out "$W/$k.crt.pub.pem"
    step "the $k certificate holds the token's public key" -- \
        cmp "$W/$k.crt.pub.pem" "$W/$k.pub.pem"
    step "certificate request with the $k token key" -- \
        openssl req -new -key "$(uri "$k" private)" -subj "/CN=csr-$k" -out "$W/$k.csr"
    step "the default provider verifies the $k request" -- \
        "${PLAIN[@]}" req -in "$W/$k.csr" -verify -noout -subject
    expect_output "verify OK"
done

# ------------------------------------------------------------ RSA-OAEP
# pkcs11-provider 1.0 sends CK_RSA_PKCS_OAEP_PARAMS with hashAlg and mgf
# left at 0 unless both digests are given (docs/CLIENTS.md), so every
# decryption names them, as the README tells users to.
head -c 64 /dev/urandom >"$W/secret.bin"
for md in sha256 sha1; do
    step "OAEP-$md encrypt with the public key (default provider)" -- \
        "${PLAIN[@]}" pkeyutl -encrypt -pubin -inkey "$W/rsa.pub.pem" \
        -pkeyopt rsa_padding_mode:oaep -pkeyopt "rsa_oaep_md:$md" -pkeyopt "rsa_mgf1_md:$md" \
        -in "$W/secret.bin" -out "$W/secret.$md.enc"
    step "OAEP-$md decrypt with the token key" -- \
        openssl pkeyutl -decrypt -inkey "$(uri rsa private)" \
        -pkeyopt rsa_padding_mode:oaep -pkeyopt "rsa_oaep_md:$md" -pkeyopt "rsa_mgf1_md:$md" \
        -in "$W/secret.$md.enc" -out "$W/secret.$md.dec"
    step "OAEP-$md round trip gives the plaintext back" -- cmp "$W/secret.bin" "$W/secret.$md.dec"
done
step "OAEP-SHA256 with a label, encrypt (default provider)" -- \
    "${PLAIN[@]}" pkeyutl -encrypt -pubin -inkey "$W/rsa.pub.pem" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 \
    -pkeyopt rsa_oaep_label:6b6579776172640a -in "$W/secret.bin" -out "$W/secret.label.enc"
step "OAEP-SHA256 with a label, decrypt with the token key" -- \
    openssl pkeyutl -decrypt -inkey "$(uri rsa private)" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 \
    -pkeyopt rsa_oaep_label:6b6579776172640a -in "$W/secret.label.enc" -out "$W/secret.label.dec"
step "labelled OAEP round trip gives the plaintext back" -- cmp "$W/secret.bin" "$W/secret.label.dec"

# ---------------------------------------------------------------- ECDH
for spec in p256:P-256 p384:P-384; do
    k="${spec%%:*}"
    step "software peer key on $k" -- "${PLAIN[@]}" genpkey -algorithm EC \
        -pkeyopt "ec_paramgen_curve:${spec#*:}" -out "$W/peer-$k.key"
    "${PLAIN[@]}" pkey -in "$W/peer-$k.key" -pubout -out "$W/peer-$k.pub.pem"
    step "ECDH derive with the $k token key" -- \
        openssl pkeyutl -derive -inkey "$(uri "$k" private)" -peerkey "$W/peer-$k.pub.pem" \
        -out "$W/ecdh-$k.token"
    step "ECDH derive on the software side" -- \
        "${PLAIN[@]}" pkeyutl -derive -inkey "$W/peer-$k.key" -peerkey "$W/$k.pub.pem" \
        -out "$W/ecdh-$k.soft"
    step "both sides of the $k ECDH agree" -- cmp "$W/ecdh-$k.token" "$W/ecdh-$k.soft"
done

# ----------------------------------------------------------------- TLS
# tls KEY VERSION PEER_SIGNATURE: an s_server whose private key is the
# token key, and an s_client (default provider only) that must verify the
# server's certificate against the expected one, for IP 127.0.0.1.
tls() {
    local key="$1" version="$2" peer_sig="$3" port log pid i
    port="$(free_port)"
    log="$W/s_server-$key-$version.log"
    # -naccept 2: wait_for_port's probe connection is the first accepted
    # one. -www keeps the server from reading its (closed) stdin, which
    # would end it after that probe.
    printf '\n== start a %s s_server with the %s token key\n$ %s\n' "$version" "$key" \
        "openssl s_server -key '$(uri "$key" private)' -cert $W/$key.crt -accept 127.0.0.1:$port -naccept 2 -www -$version &"
    openssl s_server -key "$(uri "$key" private)" -cert "$W/$key.crt" \
        -accept "127.0.0.1:$port" -naccept 2 -www "-$version" >"$log" 2>&1 </dev/null &
    pid=$!
    PIDS+=("$pid")
    if ! (wait_for_port "$port"); then
        cat "$log"
        exit 1
    fi
    step "$version handshake with the $key server key" -- \
        timeout 30 "${PLAIN[@]}" s_client -connect "127.0.0.1:$port" -CAfile "$W/$key.crt" \
        -verify_return_error -verify_ip 127.0.0.1 "-$version" </dev/null
    expect_output "Verify return code: 0 \(ok\)"
    expect_output "subject=CN = keyward-$key"
    expect_output "New, TLSv1\.${version#tls1_}, Cipher is"
    expect_output "Peer signature type: $peer_sig"
    # The server ends by itself after its second connection; bounded wait.
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! wait "$pid"; then
        printf -- '-- FAILED: s_server (%s, %s) did not end cleanly:\n' "$key" "$version"
        cat "$log"
        exit 1
    fi
}
tls rsa tls1_3 RSA-PSS
tls rsa tls1_2 RSA-PSS
tls p256 tls1_3 ECDSA
tls p256 tls1_2 ECDSA

# ---------------------------------------------------------------- fork
# A process that forks after pkcs11-provider loaded and used the module;
# the child and the parent both sign with the same EVP_PKEY afterwards.
for k in rsa p256; do
    step "fork after loading the module ($k key)" -- \
        python3 "$ROOT/tests/interop/openssl_fork.py" "$(uri "$k" private)" "$W/fork-$k"
    expect_output "\[pid [0-9]+\] signed -> .*fork-$k\.child\.sig"
    expect_output "fork test: parent and child both signed"
    for sig in before child parent midop-parent; do
        step "verify the $sig-fork signature ($k, default provider)" -- \
            "${PLAIN[@]}" dgst -sha256 -verify "$W/$k.pub.pem" \
            -signature "$W/fork-$k.$sig.sig" "$W/fork-$k.data"
        expect_output "Verified OK"
    done
done

# ------------------------------------------------ duplicated contexts
# OpenSSL duplicates signature contexts mid-operation (EVP_MD_CTX_copy_ex,
# EVP_DigestSignFinal on a copy); pkcs11-provider clones the token's
# operation with C_GetOperationState/C_SetOperationState and leaves the
# clone's session in its pool unfinished. Every signature of the process,
# the copies' and the fresh ones drawn after them, must verify
# (docs/CLIENTS.md, "pkcs11-provider").
require gcc
step "build the duplicated-context client" -- \
    gcc -Wall -o "$W/openssl_dup" "$ROOT/tests/interop/openssl_dup.c" -lcrypto
for k in rsa p256; do
    step "signatures through duplicated contexts ($k key)" -- \
        "$W/openssl_dup" "$(uri "$k" private)" 8 "$W/dup-$k"
    expect_output "16 signatures"
    printf 'the first part, then the second' >"$W/dup.data"
    for n in 0 7 15; do
        step "verify duplicated-context signature $n ($k, default provider)" -- \
            "${PLAIN[@]}" dgst -sha256 -verify "$W/$k.pub.pem" \
            -signature "$W/dup-$k.$n.sig" "$W/dup.data"
        expect_output "Verified OK"
    done
done

printf '\nopenssl.sh: all OpenSSL + pkcs11-provider flows passed\n'
