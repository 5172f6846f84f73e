#!/usr/bin/env bash
# OpenSSH against Keyward: `ssh-keygen -D` prints the token's RSA and EC
# (P-256, P-384) public keys in authorized_keys form, equal to the same
# keys exported through pkcs11-tool and converted by ssh-keygen; then
# ssh-agent loads the token (`ssh-add -s`, the PIN from an askpass program)
# and signs with each key through OpenSSH's own PKCS#11 code (`ssh-keygen
# -Y sign`), checked by `ssh-keygen -Y verify`. No sshd is needed: the
# agent signs exactly as it would for `ssh` logging in.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
require ssh-keygen ssh-agent ssh-add pkcs11-tool openssl

init_token ssh
step "generate an RSA-2048 key pair (pkcs11-tool)" -- \
    pkcs11-tool --module "$MODULE" --login --pin "$USER_PIN" --keypairgen --key-type RSA:2048 --id 01 --label ssh-rsa
step "generate an EC P-256 key pair (pkcs11-tool)" -- \
    pkcs11-tool --module "$MODULE" --login --pin "$USER_PIN" --keypairgen --key-type EC:secp256r1 --id 02 --label ssh-ec
step "generate an EC P-384 key pair (pkcs11-tool)" -- \
    pkcs11-tool --module "$MODULE" --login --pin "$USER_PIN" --keypairgen --key-type EC:secp384r1 --id 03 --label ssh-p384
# OpenSSH 9.2's PKCS#11 code does not handle Ed25519 token keys: it must
# skip this one ("skipping unsupported key type") and still list the rest.
step "generate an Ed25519 key pair (pkcs11-tool)" -- \
    pkcs11-tool --module "$MODULE" --login --pin "$USER_PIN" --keypairgen --key-type EC:edwards25519 --id 04 --label ssh-ed

step "ssh-keygen -D lists the token's public keys" -- ssh-keygen -D "$MODULE"
expect_output "^ssh-rsa AAAA[^ ]+ ssh-rsa$"
expect_output "^ecdsa-sha2-nistp256 AAAA[^ ]+ ssh-ec$"
expect_output "^ecdsa-sha2-nistp384 AAAA[^ ]+ ssh-p384$"
LISTED="$LAST_OUTPUT"

# The same keys by another road: the public key object read as DER,
# turned into PEM by OpenSSL and into OpenSSH form by ssh-keygen -i.
# Not the P-384 key: pkcs11-tool 0.23 cannot export any P-384 public key
# ("cannot create EVP_PKEY", SoftHSM 2.6 the same); its -D line is proven
# instead by the agent's signature below verifying against it.
for pair in 01:ssh-rsa 02:ecdsa-sha2-nistp256; do
    id="${pair%%:*}"
    type="${pair#*:}"
    step "export public key $id (pkcs11-tool --read-object)" -- \
        pkcs11-tool --module "$MODULE" --read-object --type pubkey --id "$id" -o "$WORK/pub$id.der"
    step "public key $id to PEM (openssl)" -- \
        openssl pkey -pubin -inform DER -in "$WORK/pub$id.der" -out "$WORK/pub$id.pem"
    step "public key $id to OpenSSH form (ssh-keygen -i -m PKCS8)" -- \
        ssh-keygen -i -m PKCS8 -f "$WORK/pub$id.pem"
    expect_output "^$type "
    converted="$(awk '{print $1, $2}' <<<"$LAST_OUTPUT")"
    if ! awk '{print $1, $2}' <<<"$LISTED" | grep -qxF -- "$converted"; then
        printf -- '-- FAILED: ssh-keygen -D does not list key %s as exported:\n%s\n' "$id" "$converted"
        exit 1
    fi
    echo "-- ok: ssh-keygen -D and the exported key $id agree"
done

# ssh-keygen -Y needs the public key of the identity to use as a file, and
# the verifier an allowed_signers file: both from the -D listing.
for pair in 01:ssh-rsa 02:ecdsa-sha2-nistp256 03:ecdsa-sha2-nistp384; do
    id="${pair%%:*}"
    grep -E "^${pair#*:} " <<<"$LISTED" >"$WORK/key$id.pub"
    printf 'keyward %s\n' "$(cat "$WORK/key$id.pub")" >>"$WORK/allowed_signers"
done

# --- ssh-agent with the token, as `ssh-add -s` loads it for `ssh`.
# ssh-agent only loads providers matching its -P allowlist (by default
# /usr/lib*/* and /usr/local/lib*/*), compared after realpath().
MODULE_REAL="$(realpath "$MODULE")"
export SSH_AUTH_SOCK="$WORK/agent.sock"
ssh-agent -D -a "$SSH_AUTH_SOCK" -P "$MODULE_REAL" >"$WORK/agent.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 100); do
    [ -S "$SSH_AUTH_SOCK" ] && break
    sleep 0.1
done
if [ ! -S "$SSH_AUTH_SOCK" ]; then
    printf -- '-- FAILED: ssh-agent did not create its socket in 10 s\n%s\n' "$(cat "$WORK/agent.log")"
    exit 1
fi

# ssh-add reads the PIN through an askpass program when forced to: no tty.
printf '#!/bin/sh\necho %s\n' "$USER_PIN" >"$WORK/askpass"
chmod 700 "$WORK/askpass"
step "ssh-add -s loads the token's keys into the agent" -- \
    env SSH_ASKPASS="$WORK/askpass" SSH_ASKPASS_REQUIRE=force ssh-add -s "$MODULE_REAL"
expect_output "Card added"
step "the agent holds the RSA and ECDSA keys" -- ssh-add -L
expect_output "^ssh-rsa AAAA"
expect_output "^ecdsa-sha2-nistp256 AAAA"
expect_output "^ecdsa-sha2-nistp384 AAAA"

echo "a message signed by a key that never leaves the token" >"$WORK/msg"
for id in 01 02 03; do
    rm -f "$WORK/msg.sig"
    step "ssh-keygen -Y sign through the agent with key $id" -- \
        ssh-keygen -Y sign -f "$WORK/key$id.pub" -n file "$WORK/msg"
    # shellcheck disable=SC2016 # $1..$3 expand in the inner bash, on purpose
    step "ssh-keygen -Y verify accepts the signature of key $id" -- \
        bash -c 'ssh-keygen -Y verify -f "$1" -I keyward -n file -s "$2" <"$3"' \
        _ "$WORK/allowed_signers" "$WORK/msg.sig" "$WORK/msg"
    expect_output "Good \"file\" signature for keyward"
done

step "ssh-add -e removes the token's keys" -- ssh-add -e "$MODULE_REAL"
expect_output "Card removed"

echo
echo "ssh.sh: all steps passed"
