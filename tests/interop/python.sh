#!/usr/bin/env bash
# Python with PyKCS11 against Keyward: examples/python/keyward_pykcs11.py
# logs in to a fresh token, generates an EC P-256 key pair, signs with
# CKM_ECDSA_SHA256 and verifies; its exported signature is then checked by
# OpenSSL, its key is found by pkcs11-tool, and a wrong PIN is refused.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
require openssl pkcs11-tool

SCRIPT="$(cd "$(dirname "$0")/../.." && pwd)/examples/python/keyward_pykcs11.py"
# Debian's python3-pykcs11 lives in the system interpreter's dist-packages;
# a python3 earlier on PATH (pyenv, a venv) does not see it.
PY=""
for candidate in /usr/bin/python3 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import PyKCS11' 2>/dev/null; then
        PY="$candidate"
        break
    fi
done
if [ -z "$PY" ]; then
    # The same rule as require: a failure under CI, a loud skip elsewhere.
    if [ "${CI:-}" = "true" ]; then
        echo "FAIL: no python3 imports PyKCS11 (Debian python3-pykcs11; CI=true)" >&2
        exit 1
    fi
    echo "SKIP: no python3 imports PyKCS11 (Debian python3-pykcs11)" >&2
    exit 77
fi

init_token python

mkdir -p "$WORK/out"
# The PIN goes through the environment, as the example recommends.
step "the PyKCS11 example: load, log in, generate, sign, verify" -- \
    env PYKCS11PIN="$USER_PIN" "$PY" "$SCRIPT" --module "$MODULE" --token python --export "$WORK/out"
expect_output "^library: Keyward"
expect_output "token 'python'"
expect_output "^logged in as user"
expect_output "^private key: sensitive=True, extractable=False"
expect_output "^signature \(64 bytes, r \|\| s\): [0-9a-f]{128}$"
expect_output "^signature valid"
expect_output "^tampered message rejected"
expect_output "^done"

step "OpenSSL reads the exported public key" -- \
    openssl pkey -pubin -inform DER -in "$WORK/out/pub.der" -out "$WORK/out/pub.pem"
step "OpenSSL verifies the token's ECDSA-SHA256 signature" -- \
    openssl dgst -sha256 -verify "$WORK/out/pub.pem" -signature "$WORK/out/sig.der" "$WORK/out/msg.bin"
expect_output "Verified OK"

step "the key pair is a token object that pkcs11-tool sees" -- \
    pkcs11-tool --module "$MODULE" --login --pin "$USER_PIN" --list-objects --type privkey
expect_output "label: +python-ec"
step "pkcs11-tool exports the same public key" -- \
    pkcs11-tool --module "$MODULE" --read-object --type pubkey --label python-ec -o "$WORK/out/pub-p11.der"
step "both exports are byte-identical" -- cmp "$WORK/out/pub.der" "$WORK/out/pub-p11.der"

printf '\n== a wrong PIN is refused with CKR_PIN_INCORRECT\n'
if out="$(env PYKCS11PIN=9999 timeout 60 "$PY" "$SCRIPT" --module "$MODULE" 2>&1)"; then
    printf '%s\n-- FAILED: the example succeeded with a wrong PIN\n' "$out"
    exit 1
fi
if ! grep -q "CKR_PIN_INCORRECT" <<<"$out"; then
    printf '%s\n-- FAILED: expected CKR_PIN_INCORRECT\n' "$out"
    exit 1
fi
printf '%s\n-- ok\n' "$out"

echo
echo "python.sh: all steps passed"
