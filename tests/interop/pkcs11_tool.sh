#!/usr/bin/env bash
# OpenSC's pkcs11-tool against Keyward: the whole administrative cycle as a
# user types it. Token and PIN set-up (init-token, init-pin, user and SO PIN
# changes, old PINs refused), key generation (RSA 2048/3072, P-256, P-384,
# P-521, Ed25519, AES), import of OpenSSL-made objects (certificate, RSA and
# EC private and public keys in DER and PEM, a secret key, a data object),
# read-back compared byte for byte, sign/verify, encrypt/decrypt, AES key
# wrap/unwrap, ECDH, deletion, the listings, and the tool's own --test and
# --test-threads. Wherever possible the result is checked by OpenSSL with
# the software copy of the key (and the P-384 key that pkcs11-tool 0.23
# cannot export goes out through GnuTLS's p11tool), so a flow proves the
# module computes the right thing, not only that the tool is satisfied.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require pkcs11-tool openssl cmp p11tool

TOOL=(pkcs11-tool --module "$MODULE")
AS_USER=("${TOOL[@]}" --login --pin "$USER_PIN")
NEW_USER_PIN=246810
NEW_SO_PIN=87654321
IV=000102030405060708090a0b0c0d0e0f
W="$WORK"

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
        printf -- '-- FAILED: output matches /%s/:\n%s\n' "$1" "$(grep -E -- "$1" <<<"$LAST_OUTPUT")"
        exit 1
    fi
}

# ---------------------------------------------------------------- discovery
step "list slots before initialization (-L)" -- "${TOOL[@]}" -L
expect_output "Keyward slot 0"
expect_output "token state: +uninitialized"
step "list the PKCS#11 interfaces (--list-interfaces)" -- "${TOOL[@]}" --list-interfaces
expect_output "Interface 'PKCS 11'"
expect_output "version: 3\.0"
step "library information (-I)" -- "${TOOL[@]}" -I
expect_output "Cryptoki version 3\.2"
expect_output "Manufacturer +Keyward"

# ------------------------------------------------------ token and PIN cycle
step "initialize the token (--init-token)" -- \
    "${TOOL[@]}" --init-token --label keyward-tool --so-pin "$SO_PIN"
expect_output "Token successfully initialized"
step "list token slots (-T): initialized, no user PIN yet" -- "${TOOL[@]}" -T
expect_output "token label +: keyward-tool"
expect_output "token initialized"
reject_output "PIN initialized"
step "set the user PIN as SO (--init-pin)" -- \
    "${TOOL[@]}" --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
expect_output "User PIN successfully initialized"
step "list token slots (-T): user PIN initialized" -- "${TOOL[@]}" -T
expect_output "PIN initialized"

step "change the user PIN, logged in (--change-pin)" -- \
    "${AS_USER[@]}" --change-pin --new-pin "$NEW_USER_PIN"
expect_output "PIN successfully changed"
refuse "the old user PIN is refused" "CKR_PIN_INCORRECT" -- "${AS_USER[@]}" -O
# Without --login the tool calls C_SetPIN in a public session, which per the
# spec changes the user PIN: old PIN given with --pin.
step "change the user PIN back, not logged in (--change-pin)" -- \
    "${TOOL[@]}" --change-pin --pin "$NEW_USER_PIN" --new-pin "$USER_PIN"
expect_output "PIN successfully changed"

# The SO PIN: C_SetPIN in a session logged in as SO changes the SO PIN;
# the tool takes the old one from --so-pin when --login-type is so.
step "change the SO PIN (--login --login-type so --change-pin)" -- \
    "${TOOL[@]}" --login --login-type so --so-pin "$SO_PIN" --change-pin --new-pin "$NEW_SO_PIN"
expect_output "PIN successfully changed"
refuse "the old SO PIN is refused" "CKR_PIN_INCORRECT" -- \
    "${TOOL[@]}" --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
# The "user forgot the PIN" path: the SO sets a user PIN again.
step "the new SO PIN resets the user PIN (--init-pin)" -- \
    "${TOOL[@]}" --login --login-type so --so-pin "$NEW_SO_PIN" --init-pin --pin "$USER_PIN"
expect_output "User PIN successfully initialized"
step "log in with the user PIN (-O)" -- "${AS_USER[@]}" -O
# The token holds nothing the user made yet: its CKO_PROFILE object is
# found only by a search for that class, which -O does not make.
expect_output "Using slot"
if grep -q "Profile object" <<<"$LAST_OUTPUT"; then
    echo "-- FAILED: an empty-template search listed the profile object"
    exit 1
fi

step "list mechanisms (-M): software, so no hw flag" -- "${TOOL[@]}" -M
for mech in RSA-PKCS-KEY-PAIR-GEN SHA256-RSA-PKCS-PSS RSA-PKCS-OAEP ECDSA-SHA256 EDDSA \
    ECDH1-DERIVE AES-CBC-PAD AES-KEY-WRAP AES-KEY-GEN; do
    expect_output "^  $mech,"
done
reject_output ", hw[,]"

# ------------------------------------------------------------ key generation
keypair() { # ID LABEL TYPE [usage flags...]
    local id="$1" label="$2" type="$3"
    shift 3
    step "generate $type key pair $id (--keypairgen)" -- \
        "${AS_USER[@]}" --keypairgen --key-type "$type" --id "$id" --label "$label" "$@"
    expect_output "Key pair generated"
    expect_output "label: +$label"
}
keypair 01 rsa2048 RSA:2048 --usage-sign --usage-decrypt
keypair 02 rsa3072 RSA:3072
keypair 03 p256 EC:secp256r1 --usage-sign --usage-derive
keypair 04 p384 EC:secp384r1
keypair 05 ed25519 EC:edwards25519
expect_output "EC_EDWARDS"
keypair 06 p521 EC:secp521r1

step "generate AES-256 key 10 (--keygen)" -- \
    "${AS_USER[@]}" --keygen --key-type AES:32 --id 10 --label aes256
expect_output "Key generated"
expect_output "Secret Key Object; AES length 32"
step "generate AES-256 wrapping key 11 (--keygen --usage-wrap)" -- \
    "${AS_USER[@]}" --keygen --key-type AES:32 --id 11 --label kek --usage-wrap
expect_output "Key generated"
step "generate extractable AES-128 key 12 (--keygen --extractable)" -- \
    "${AS_USER[@]}" --keygen --key-type AES:16 --id 12 --label movable --extractable
expect_output "Access: +extractable"

# --------------------------------------------- objects made by OpenSSL, imported
step "software RSA key, PKCS#8 DER (openssl genpkey)" -- \
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -outform DER -out "$W/rsa.p8.der"
step "its public key, DER (openssl pkey)" -- \
    openssl pkey -inform DER -in "$W/rsa.p8.der" -pubout -outform DER -out "$W/rsa.pub.der"
step "software EC P-256 key, PEM (openssl genpkey)" -- \
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/ec.pem"
step "its public key, PEM and DER (openssl pkey)" -- \
    openssl pkey -in "$W/ec.pem" -pubout -out "$W/ec.pub.pem"
step "public key to DER" -- openssl pkey -pubin -in "$W/ec.pub.pem" -outform DER -out "$W/ec.pub.der"
step "self-signed certificate for the EC key, DER (openssl req -x509)" -- \
    openssl req -x509 -new -key "$W/ec.pem" -subj /CN=keyward-tool-test -days 30 \
    -outform DER -out "$W/cert.der"
step "a data blob and a message" -- \
    openssl rand -out "$W/blob.bin" 300
printf 'pkcs11-tool drives Keyward, 43 bytes long.\n' >"$W/msg.txt"

step "import the RSA private key (--write-object, DER)" -- \
    "${AS_USER[@]}" --write-object "$W/rsa.p8.der" --type privkey --id 21 --label sw-rsa \
    --usage-sign --usage-decrypt
expect_output "Created private key"
# Imported, not generated: sensitive, but neither "always sensitive" nor "local".
expect_output "Access: +sensitive$"
step "import the RSA public key (--write-object, DER)" -- \
    "${AS_USER[@]}" --write-object "$W/rsa.pub.der" --type pubkey --id 21 --label sw-rsa
expect_output "Public Key Object; RSA 2048 bits"
step "import the EC private key (--write-object, PEM)" -- \
    "${AS_USER[@]}" --write-object "$W/ec.pem" --type privkey --id 22 --label sw-ec
expect_output "Private Key Object; EC"
step "import the EC public key (--write-object, PEM)" -- \
    "${AS_USER[@]}" --write-object "$W/ec.pub.pem" --type pubkey --id 22 --label sw-ec
expect_output "EC_PARAMS: +06082a8648ce3d030107"
step "import the certificate of the EC key (--write-object, DER)" -- \
    "${AS_USER[@]}" --write-object "$W/cert.der" --type cert --id 22 --label sw-ec
expect_output "subject: +DN: CN=keyward-tool-test"
step "import a data object (--write-object --type data)" -- \
    "${AS_USER[@]}" --write-object "$W/blob.bin" --type data --application-label keyward-demo \
    --label notes
expect_output "application: +'keyward-demo'"
step "a known AES-256 key (openssl rand)" -- openssl rand -out "$W/known.key" 32
KNOWN_HEX="$(od -An -tx1 -v "$W/known.key" | tr -d ' \n')"
# Not --extractable: the tool's echo of the new key then warns that
# CKA_VALUE is sensitive, which is the point.
step "import it as secret key 14 (--write-object --type secrkey)" -- \
    "${AS_USER[@]}" --write-object "$W/known.key" --type secrkey --key-type AES:32 --id 14 \
    --label known-aes --usage-decrypt
expect_output "Secret Key Object; AES length 32"
# One key may not both decrypt and wrap (docs/KEY-SEPARATION.md): the same
# known value again, as a wrap-only key.
step "import it again as wrapping key 16 (--write-object --usage-wrap)" -- \
    "${AS_USER[@]}" --write-object "$W/known.key" --type secrkey --key-type AES:32 --id 16 \
    --label known-kek --usage-wrap
expect_output "Secret Key Object; AES length 32"

# ------------------------------------------------ read back, byte for byte
step "read the certificate (--read-object --type cert)" -- \
    "${TOOL[@]}" --read-object --type cert --id 22 -o "$W/cert.back"
step "the certificate read back is the one written" -- cmp "$W/cert.der" "$W/cert.back"
step "read the RSA public key (--read-object --type pubkey)" -- \
    "${TOOL[@]}" --read-object --type pubkey --id 21 -o "$W/rsa.pub.back"
step "the RSA public key read back is OpenSSL's" -- cmp "$W/rsa.pub.der" "$W/rsa.pub.back"
step "read the EC public key (--read-object --type pubkey)" -- \
    "${TOOL[@]}" --read-object --type pubkey --id 22 -o "$W/ec.pub.back"
step "the EC public key read back is OpenSSL's" -- cmp "$W/ec.pub.der" "$W/ec.pub.back"
step "read the data object (--read-object --type data)" -- \
    "${TOOL[@]}" --read-object --type data --application-label keyward-demo -o "$W/blob.back"
step "the data object read back is the one written" -- cmp "$W/blob.bin" "$W/blob.back"
# The generated keys' public halves, for OpenSSL to verify with. P-384 is
# left out: pkcs11-tool 0.23 loses the point on its way into OpenSSL for
# that curve whatever the module (docs/CLIENTS.md).
for id in 01 02 03 06; do
    step "export generated public key $id (--read-object)" -- \
        "${TOOL[@]}" --read-object --type pubkey --id "$id" -o "$W/pub$id.der"
done
# pkcs11-tool 0.23 writes Ed25519 public keys as PEM.
step "export the Ed25519 public key (--read-object, PEM)" -- \
    "${TOOL[@]}" --read-object --type pubkey --id 05 -o "$W/pub05.pem"
step "OpenSSL reads it as an Ed25519 key" -- openssl pkey -pubin -in "$W/pub05.pem" -noout -text
expect_output "ED25519 Public-Key"

# ------------------------------------------------------------- sign / verify
# sign ID MECH OUT [extra...]: sign msg.txt, then --verify it on the token.
sign() {
    local id="$1" mech="$2" out="$3"
    shift 3
    step "sign with key $id, $mech (--sign)" -- \
        "${AS_USER[@]}" --sign --id "$id" -m "$mech" -i "$W/msg.txt" -o "$out" "$@"
    step "verify on the token, key $id, $mech (--verify)" -- \
        "${TOOL[@]}" --verify --id "$id" -m "$mech" -i "$W/msg.txt" --signature-file "$out" "$@"
    expect_output "Signature is valid"
}
sign 01 SHA256-RSA-PKCS "$W/s01"
step "OpenSSL verifies the RSA-2048 signature" -- \
    openssl dgst -sha256 -verify "$W/pub01.der" -signature "$W/s01" "$W/msg.txt"
expect_output "Verified OK"
sign 02 SHA384-RSA-PKCS-PSS "$W/s02"
step "OpenSSL verifies the RSA-3072 PSS signature" -- \
    openssl dgst -sha384 -verify "$W/pub02.der" -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:-1 -signature "$W/s02" "$W/msg.txt"
expect_output "Verified OK"
# -f openssl: a DER ECDSA-Sig-Value rather than r||s, what OpenSSL reads.
sign 03 ECDSA-SHA256 "$W/s03" -f openssl
step "OpenSSL verifies the P-256 signature" -- \
    openssl dgst -sha256 -verify "$W/pub03.der" -signature "$W/s03" "$W/msg.txt"
expect_output "Verified OK"
sign 04 ECDSA-SHA384 "$W/s04" -f openssl
# pkcs11-tool 0.23 cannot export this P-384 key (see above): GnuTLS can.
step "export the P-384 public key (p11tool --export-pubkey)" -- \
    p11tool --provider "$MODULE" --set-pin "$USER_PIN" --export-pubkey \
    "pkcs11:token=keyward-tool;id=%04;type=public" --outfile "$W/pub04.pem"
step "OpenSSL verifies the P-384 signature" -- \
    openssl dgst -sha384 -verify "$W/pub04.pem" -signature "$W/s04" "$W/msg.txt"
expect_output "Verified OK"
sign 05 EDDSA "$W/s05"
step "OpenSSL verifies the Ed25519 signature" -- \
    openssl pkeyutl -verify -pubin -inkey "$W/pub05.pem" -rawin -in "$W/msg.txt" -sigfile "$W/s05"
expect_output "Signature Verified Successfully"
sign 06 ECDSA-SHA512 "$W/s06" -f openssl
step "OpenSSL verifies the P-521 signature" -- \
    openssl dgst -sha512 -verify "$W/pub06.der" -signature "$W/s06" "$W/msg.txt"
expect_output "Verified OK"
# The imported keys sign, and the software originals verify: the import
# kept the key material intact.
sign 21 SHA256-RSA-PKCS "$W/s21"
step "OpenSSL verifies with the software RSA public key" -- \
    openssl dgst -sha256 -verify "$W/rsa.pub.der" -signature "$W/s21" "$W/msg.txt"
expect_output "Verified OK"
sign 22 ECDSA-SHA256 "$W/s22" -f openssl
step "OpenSSL verifies with the software EC public key" -- \
    openssl dgst -sha256 -verify "$W/ec.pub.pem" -signature "$W/s22" "$W/msg.txt"
expect_output "Verified OK"

# Without -m the tool picks a mechanism itself, and only one flagged
# CKF_HW unless --allow-sw is given: Keyward is software and says so.
refuse "no -m and no --allow-sw: the tool finds no hardware mechanism" \
    "mechanism not supported" -- "${AS_USER[@]}" --sign --id 01 -i "$W/msg.txt" -o "$W/never"
step "no -m, with --allow-sw: the tool picks RSA-PKCS itself" -- \
    "${AS_USER[@]}" --sign --allow-sw --id 01 -i "$W/msg.txt" -o "$W/s01raw"
expect_output "Using signature algorithm RSA-PKCS"
step "OpenSSL recovers the signed data (RSA-PKCS)" -- \
    openssl pkeyutl -verifyrecover -pubin -inkey "$W/pub01.der" -in "$W/s01raw" -out "$W/s01raw.data"
step "the recovered data is the message" -- cmp "$W/msg.txt" "$W/s01raw.data"

# ----------------------------------------------------------- encrypt / decrypt
cbc() { # OP ID IN OUT
    step "AES-CBC-PAD $1 with key $2 (--$1 --iv)" -- \
        "${AS_USER[@]}" "--$1" --id "$2" -m AES-CBC-PAD --iv "$IV" -i "$3" -o "$4"
}
cbc encrypt 10 "$W/msg.txt" "$W/c10"
cbc decrypt 10 "$W/c10" "$W/c10.plain"
step "AES-CBC-PAD round trip on key 10" -- cmp "$W/msg.txt" "$W/c10.plain"
step "the 43-byte message padded to 48" -- test "$(stat -c %s "$W/c10")" -eq 48
cbc encrypt 14 "$W/msg.txt" "$W/c14"
step "OpenSSL encrypts the same with the known key" -- \
    openssl enc -aes-256-cbc -K "$KNOWN_HEX" -iv "$IV" -in "$W/msg.txt" -out "$W/c14.ossl"
step "the token's AES-CBC-PAD ciphertext is OpenSSL's" -- cmp "$W/c14" "$W/c14.ossl"

step "OpenSSL encrypts to RSA key 01 with OAEP (SHA-256, MGF1-SHA-256)" -- \
    openssl pkeyutl -encrypt -pubin -keyform DER -inkey "$W/pub01.der" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 \
    -in "$W/msg.txt" -out "$W/oaep.bin"
step "decrypt it on the token (--decrypt -m RSA-PKCS-OAEP)" -- \
    "${AS_USER[@]}" --decrypt --id 01 -m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 \
    -i "$W/oaep.bin" -o "$W/oaep.plain"
step "the OAEP plaintext is the message" -- cmp "$W/msg.txt" "$W/oaep.plain"

# ---------------------------------------------------------- wrap / unwrap
step "wrap extractable key 12 under key 11 (--wrap -m AES-KEY-WRAP)" -- \
    "${AS_USER[@]}" --wrap -m AES-KEY-WRAP --id 11 --application-id 12 -o "$W/w12"
expect_output "Key wrapped"
step "a 16-byte key wraps to 24 bytes (RFC 3394)" -- test "$(stat -c %s "$W/w12")" -eq 24
step "unwrap it as key 13 (--unwrap)" -- \
    "${AS_USER[@]}" --unwrap -m AES-KEY-WRAP --id 11 -i "$W/w12" --key-type AES: \
    --application-id 13 --application-label unwrapped --sensitive
expect_output "Key unwrapped"
cbc encrypt 13 "$W/msg.txt" "$W/c13"
cbc decrypt 12 "$W/c13" "$W/c13.plain"
step "key 13 is key 12" -- cmp "$W/msg.txt" "$W/c13.plain"

# Against OpenSSL's RFC 3394: unwrap what OpenSSL wrapped. pkcs11-tool
# asks for CKA_SENSITIVE=false unless given --sensitive; an unwrapped key
# is always sensitive here (docs/KEY-SEPARATION.md rule 4).
step "a known AES-128 key (openssl rand)" -- openssl rand -out "$W/k16" 16
K16_HEX="$(od -An -tx1 -v "$W/k16" | tr -d ' \n')"
step "OpenSSL wraps it under the known key (id-aes256-wrap)" -- \
    openssl enc -id-aes256-wrap -K "$KNOWN_HEX" -iv A6A6A6A6A6A6A6A6 -in "$W/k16" -out "$W/k16.w"
step "unwrap OpenSSL's blob under key 16 as key 15 (--unwrap)" -- \
    "${AS_USER[@]}" --unwrap -m AES-KEY-WRAP --id 16 -i "$W/k16.w" --key-type AES: \
    --application-id 15 --application-label from-openssl --extractable --sensitive
expect_output "Key unwrapped"
cbc encrypt 15 "$W/msg.txt" "$W/c15"
step "OpenSSL encrypts the same with the AES-128 key" -- \
    openssl enc -aes-128-cbc -K "$K16_HEX" -iv "$IV" -in "$W/msg.txt" -out "$W/c15.ossl"
step "the unwrapped key is OpenSSL's key" -- cmp "$W/c15" "$W/c15.ossl"
# Key 15 is sensitive (every unwrapped key is) and key 16 is not trusted:
# the token will not wrap it (docs/KEY-SEPARATION.md rule 3).
step "wrapping sensitive key 15 under the untrusted key 16 is refused" -- \
    bash -c '! "$@"' _ "${AS_USER[@]}" --wrap -m AES-KEY-WRAP --id 16 --application-id 15 \
    -o "$W/k16.w.back"

# ------------------------------------------------------------------ derive
# ECDH between two token keys: the generated key 03 and the imported key
# 22, each given the other's public key; OpenSSL with the software copy of
# key 22 must find the same secret.
step "derive with key 03 and the public key of 22 (--derive -m ECDH1-DERIVE)" -- \
    "${AS_USER[@]}" --derive -m ECDH1-DERIVE --id 03 -i "$W/ec.pub.der" -o "$W/z03"
step "derive with key 22 and the public key of 03 (--derive)" -- \
    "${AS_USER[@]}" --derive -m ECDH1-DERIVE --id 22 -i "$W/pub03.der" -o "$W/z22"
step "both token keys agree" -- cmp "$W/z03" "$W/z22"
step "OpenSSL derives with the software key" -- \
    openssl pkeyutl -derive -inkey "$W/ec.pem" -peerkey "$W/pub03.der" -out "$W/z.ossl"
step "the token's shared secret is OpenSSL's" -- cmp "$W/z03" "$W/z.ossl"
step "a P-256 shared secret is 32 bytes" -- test "$(stat -c %s "$W/z03")" -eq 32

# ---------------------------------------------------------------- listings
# Listings are read from stdout alone: pkcs11-tool warns on stderr when it
# cannot read a sensitive key's CKA_VALUE, and with both streams in one
# capture that warning can land inside a "label:" line (seen in CI).
step "list objects (-O), logged in" -- sh -c 'exec "$@" 2>/dev/null' _ "${AS_USER[@]}" -O
for label in rsa2048 rsa3072 p256 p384 ed25519 p521 aes256 kek movable unwrapped \
    from-openssl known-aes known-kek sw-rsa sw-ec; do
    expect_output "label: +$label"
done
expect_output "Certificate Object; type = X\.509 cert"
expect_output "Data object"
step "random bytes (--generate-random)" -- "${TOOL[@]}" --generate-random 32 -o "$W/rnd"
step "32 random bytes" -- test "$(stat -c %s "$W/rnd")" -eq 32

# ------------------------------------------------------------------ delete
step "delete the data object (--delete-object --type data)" -- \
    "${AS_USER[@]}" --delete-object --type data --application-label keyward-demo
step "delete the certificate (--delete-object --type cert)" -- \
    "${AS_USER[@]}" --delete-object --type cert --id 22
step "delete the unwrapped key 13 (--delete-object --type secrkey)" -- \
    "${AS_USER[@]}" --delete-object --type secrkey --id 13
step "delete the P-384 private key (--delete-object --type privkey)" -- \
    "${AS_USER[@]}" --delete-object --type privkey --id 04
step "delete the P-384 public key (--delete-object --type pubkey)" -- \
    "${AS_USER[@]}" --delete-object --type pubkey --id 04
step "list objects (-O): the deleted objects are gone" -- \
    sh -c 'exec "$@" 2>/dev/null' _ "${AS_USER[@]}" -O
reject_output "Data object|Certificate Object|label: +(unwrapped|p384)$"
expect_output "label: +movable"

# -------------------------------------------------- the tool's own tests
step "pkcs11-tool's self test (--test --allow-sw)" -- "${AS_USER[@]}" --test --allow-sw
expect_output "^No errors"
# CKM_RSA_PKCS is single-part only (PKCS#11 3.0 mechanism table), so the
# tool's multi-part probe is answered CKR_FUNCTION_NOT_SUPPORTED, which the
# tool itself counts as a warning; anything else is an error.
LAST_OUTPUT="$(grep -v 'C_SignUpdate failed: rv = CKR_FUNCTION_NOT_SUPPORTED' <<<"$LAST_OUTPUT")"
LAST_OUTPUT="$(grep -v "^No errors$" <<<"$LAST_OUTPUT")"
reject_output "ERR|[Ff]ailed|[Ee]rror"

# Two threads race the main thread to C_Initialize (one with NULL args, one
# with CKF_OS_LOCKING_OK: the losers get CKR_CRYPTOKI_ALREADY_INITIALIZED),
# then call C_GetInfo, C_GetSlotList and C_GetTokenInfo while the main
# thread logs in and runs --test. GI after IN makes the first thread end on
# a call that must succeed whoever won the race. The main thread has real
# work so that the threads end first: pkcs11-tool 0.23 sleeps 30 s at
# cleanup when they have not.
step "threads beside --test (--test-threads INGI --test-threads ILGISLT0)" -- \
    "${AS_USER[@]}" --test-threads INGI --test-threads ILGISLT0 --test --allow-sw
expect_output "^No errors"
expect_output "all threads have ended with CKR_OK"
expect_output "thread:0 state:-1, rv:CKR_OK"
expect_output "thread:1 state:-1, rv:CKR_OK"
expect_output "token label +: keyward-tool"
# Every C_* a thread called returned CKR_OK, but for the C_Initialize calls
# that lost the race.
unexpected="$(grep 'returned CKR_' <<<"$LAST_OUTPUT" | grep -v 'CKR_OK$' |
    grep -Ev 'C_Initialize +returned CKR_CRYPTOKI_ALREADY_INITIALIZED$' || true)"
if [ -n "$unexpected" ]; then
    printf -- '-- FAILED: a thread got an unexpected return code:\n%s\n' "$unexpected"
    exit 1
fi

echo
echo "pkcs11-tool: all flows passed"
