#!/usr/bin/env bash
# Key rotation that real clients survive (issue 10): `keyward keys rotate
# web-tls` makes version 2 of the key with the same CKA_LABEL and CKA_ID,
# and the clients that name the key by label (pkcs11-tool --label, an
# OpenSSL pkcs11-provider `pkcs11:object=web-tls;type=private` URI) sign
# with the new version without any change on their side. Every signature
# is checked by OpenSSL's default provider alone, against the public key
# of the version that must have made it.
#
# Java SunPKCS11 (when keytool is installed; required under CI=true) shows
# a key as an alias only with a certificate: the certificate follows its
# version, so after the rotation the alias comes back once a certificate
# for the new version is stored (here self-signed by the new key through
# the same URI, written with pkcs11-tool), and then signs by alias with the
# new version.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
require openssl pkcs11-tool cmp
: "${KEYWARD_BIN:?KEYWARD_BIN must name the keyward binary}"
MODULESDIR="$(openssl version -m | sed -e 's/^MODULESDIR: "\(.*\)"$/\1/')"
require "$MODULESDIR/pkcs11.so"
unset PKCS11_PROVIDER_MODULE

TOKEN=keyward-rotation
W="$WORK"
P11=(pkcs11-tool --module "$MODULE" --login --pin "$USER_PIN")
PLAIN=(env OPENSSL_CONF=/dev/null openssl)
KW=(env KEYWARD_PIN="$USER_PIN" "$KEYWARD_BIN")
URI="pkcs11:token=$TOKEN;object=web-tls;type=private"
# keytool asks for missing passwords on the terminal; never wait for one.
exec </dev/null
JAVA=no
if command -v keytool >/dev/null 2>&1 || [ "${CI:-}" = "true" ]; then
    require keytool
    JAVA=yes
    CFG="$W/keyward.cfg"
    sed "s|^library = .*|library = $MODULE|" "$ROOT/examples/java/keyward.cfg" >"$CFG"
    export KEYWARD_PIN="$USER_PIN"
    KT=(keytool -keystore NONE -storetype PKCS11 -storepass:env KEYWARD_PIN
        -providerClass sun.security.pkcs11.SunPKCS11 -providerArg "$CFG")
else
    echo "SKIP (Java part only): keytool is not installed"
fi

# cert_of NAME: a self-signed certificate made by the primary version of
# web-tls (through the URI), stored with the key's label and id.
cert_of() {
    step "self-signed certificate $1 by $URI" -- \
        "${OSSL[@]}" req -new -x509 -key "$URI" -subj "/CN=$1" -days 2 -out "$W/$1.crt"
    "${PLAIN[@]}" x509 -in "$W/$1.crt" -outform DER -out "$W/$1.der"
    step "store certificate $1 (pkcs11-tool --write-object)" -- \
        "${P11[@]}" --write-object "$W/$1.der" --type cert --id 0a --label web-tls
}

init_token "$TOKEN"
printf '%s\n' "$USER_PIN" >"$W/pin.txt"
chmod 600 "$W/pin.txt"
sed -e "s|^pkcs11-module-path = .*|pkcs11-module-path = $MODULE|" \
    -e "s|^pkcs11-module-token-pin = .*|pkcs11-module-token-pin = file:$W/pin.txt|" \
    "$ROOT/examples/openssl/openssl.cnf" >"$W/openssl.cnf"
step "configuration generated from examples/openssl/openssl.cnf" -- \
    grep -E "^pkcs11-module-(path = $MODULE|token-pin = file:$W/pin.txt)$" "$W/openssl.cnf"
OSSL=(env OPENSSL_CONF="$W/openssl.cnf" openssl)

printf 'issue 10: rotate web-tls\n' >"$W/data"
"${PLAIN[@]}" dgst -sha256 -binary -out "$W/data.sha256" "$W/data"

# pub_of VERSION: the public key of that version, exported by the CLI
# (web-tls names the primary version, web-tls@N version N).
pub_of() {
    step "keyward keys export $1" -- "${KW[@]}" keys export "$1" --out "$W/$1.pem"
}

# ------------------------------------------------------------ version 1
step "EC P-256 key pair web-tls (pkcs11-tool)" -- \
    "${P11[@]}" --keypairgen --key-type EC:secp256r1 --id 0a --label web-tls
pub_of web-tls@1
step "pkcs11-tool --sign --label web-tls (version 1)" -- \
    "${P11[@]}" --sign --label web-tls -m ECDSA-SHA256 --signature-format openssl \
    -i "$W/data" -o "$W/v1.sig"
step "the version 1 signature verifies with version 1's public key" -- \
    "${PLAIN[@]}" dgst -sha256 -verify "$W/web-tls@1.pem" -signature "$W/v1.sig" "$W/data"
cert_of web-tls-v1
if [ "$JAVA" = yes ]; then
    step "keytool lists the alias web-tls (version 1 and its certificate)" -- "${KT[@]}" -list
    expect_output "^web-tls, PrivateKeyEntry"
fi

# ------------------------------------------------------------ rotation
step "keyward keys rotate web-tls" -- "${KW[@]}" keys rotate web-tls
expect_output "\(web-tls: version 1 → 2\)"
pub_of web-tls@2
step "the new version has a new public key" -- \
    bash -c "! cmp -s '$W/web-tls@1.pem' '$W/web-tls@2.pem'"
pub_of web-tls
step "web-tls names version 2" -- cmp "$W/web-tls.pem" "$W/web-tls@2.pem"
step "keyward keys list shows one primary version" -- "${KW[@]}" keys list --class private
expect_output "web-tls"
step "keyward keys rotate web-tls@1 is refused (exit 6)" -- bash -c \
    "out=\$(KEYWARD_PIN=$USER_PIN '$KEYWARD_BIN' keys rotate web-tls@1 2>&1); rc=\$?; echo \"\$out\"; [ \$rc -eq 6 ]"
expect_output "the primary is version 2 \(web-tls@2\)"

# ------------------------------------------------------------ pkcs11-tool
step "pkcs11-tool finds one private key labelled web-tls" -- \
    "${P11[@]}" --list-objects --type privkey --label web-tls
step "pkcs11-tool --sign --label web-tls (now version 2)" -- \
    "${P11[@]}" --sign --label web-tls -m ECDSA-SHA256 --signature-format openssl \
    -i "$W/data" -o "$W/v2.sig"
step "the pkcs11-tool signature verifies with version 2's public key" -- \
    "${PLAIN[@]}" dgst -sha256 -verify "$W/web-tls@2.pem" -signature "$W/v2.sig" "$W/data"
step "... and not with version 1's" -- \
    bash -c "! ${PLAIN[*]} dgst -sha256 -verify '$W/web-tls@1.pem' -signature '$W/v2.sig' '$W/data'"
step "the old signature still verifies with version 1's public key" -- \
    "${PLAIN[@]}" dgst -sha256 -verify "$W/web-tls@1.pem" -signature "$W/v1.sig" "$W/data"
step "pkcs11-tool reads version 2's public key by label" -- \
    "${P11[@]}" --read-object --type pubkey --label web-tls -o "$W/by-label.der"
"${PLAIN[@]}" pkey -pubin -inform DER -in "$W/by-label.der" -out "$W/by-label.pem"
step "... the same key keyward exports as web-tls@2" -- cmp "$W/by-label.pem" "$W/web-tls@2.pem"

# ------------------------------------------------------------ OpenSSL URI
step "openssl pkeyutl -sign with $URI" -- \
    "${OSSL[@]}" pkeyutl -sign -inkey "$URI" -in "$W/data.sha256" -out "$W/ossl.sig"
step "the OpenSSL signature verifies with version 2's public key" -- \
    "${PLAIN[@]}" pkeyutl -verify -pubin -inkey "$W/web-tls@2.pem" \
    -in "$W/data.sha256" -sigfile "$W/ossl.sig"
step "the public key of the same URI (type=public) is version 2's" -- \
    "${OSSL[@]}" pkey -pubin -in "pkcs11:token=$TOKEN;object=web-tls;type=public" \
    -pubout -out "$W/uri.pem"
step "... byte for byte" -- cmp "$W/uri.pem" "$W/web-tls@2.pem"

# ------------------------------------------------------------ certificate
step "the version 1 certificate followed its key: no certificate is primary" -- \
    "${P11[@]}" --list-objects --type cert
if grep -q "web-tls" <<<"$LAST_OUTPUT"; then
    echo "-- FAILED: a certificate of version 1 is still found by label"
    exit 1
fi
if [ "$JAVA" = yes ]; then
    step "keytool: no alias until version 2 has a certificate" -- "${KT[@]}" -list
    expect_output "Your keystore contains 0 entries"
fi
cert_of web-tls-v2
if [ "$JAVA" = yes ]; then
    step "keytool lists the alias web-tls again, with version 2's certificate" -- \
        "${KT[@]}" -list -v -alias web-tls
    expect_output "CN=web-tls-v2"
    step "Java signs by alias (keytool -certreq -alias web-tls)" -- \
        "${KT[@]}" -certreq -alias web-tls -file "$W/java.csr"
    step "OpenSSL verifies the Java signature" -- \
        "${PLAIN[@]}" req -in "$W/java.csr" -verify -noout
    expect_output "verify OK"
    "${PLAIN[@]}" req -in "$W/java.csr" -pubkey -noout -out "$W/java.pub.pem"
    step "... made by version 2 (the request's public key)" -- cmp "$W/java.pub.pem" "$W/web-tls@2.pem"
fi

# ------------------------------------------------------------ again
step "keyward keys rotate web-tls (version 3)" -- "${KW[@]}" keys rotate web-tls
expect_output "\(web-tls: version 2 → 3\)"
pub_of web-tls@3
step "the same URI signs with version 3" -- \
    "${OSSL[@]}" pkeyutl -sign -inkey "$URI" -in "$W/data.sha256" -out "$W/v3.sig"
step "... checked with version 3's public key" -- \
    "${PLAIN[@]}" pkeyutl -verify -pubin -inkey "$W/web-tls@3.pem" \
    -in "$W/data.sha256" -sigfile "$W/v3.sig"
echo "rotation.sh: all steps passed"
