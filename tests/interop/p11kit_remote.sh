#!/usr/bin/env bash
# Remote use without the PIN (issue 14): a Keyward token served to another
# "host" through p11-kit's remoting. The token host makes a token with the
# keyward CLI, keeps the user PIN in a user_pin_file (so the token has a
# protected authentication path) and runs `p11-kit server --provider
# libkeyward.so` on a unix socket; the client host, a separate environment
# with no Keyward configuration, store or PIN, loads p11-kit-client.so and
# with pkcs11-tool lists the key, logs in without a PIN and signs (ECDSA
# P-256); OpenSSL verifies the signature against the public key the token
# host exported. Also: the client cannot read the PIN file or the store,
# another uid cannot use the socket, SO login and signing after logout
# fail with the right codes.
#
# Usage: p11kit_remote.sh [unix|ssh]. `ssh` does all of the above, then
# also forwards a socket over OpenSSH (sshd on loopback as a child, a
# throw-away host key and client key) and signs through the forwarded one.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
: "${KEYWARD_BIN:?KEYWARD_BIN must name the keyward binary}"
MODE="${1:-unix}"
require p11-kit pkcs11-tool openssl setpriv "$KEYWARD_BIN"

CLIENT_MODULE=""
for dir in /usr/lib/x86_64-linux-gnu/pkcs11 /usr/lib64/pkcs11 /usr/lib/pkcs11; do
    if [ -e "$dir/p11-kit-client.so" ]; then
        CLIENT_MODULE="$dir/p11-kit-client.so"
        break
    fi
done
# Debian: p11-kit-client.so is in p11-kit-modules, `p11-kit server` in p11-kit.
require "${CLIENT_MODULE:-p11-kit-client.so}"
if ! p11-kit server --help >/dev/null 2>&1; then
    require p11-kit-server
fi
# PyKCS11 drives the calls pkcs11-tool cannot be made to get wrong.
PY=/usr/bin/python3
if ! "$PY" -c 'import PyKCS11' 2>/dev/null; then
    require python3-pykcs11
fi
if [ "$MODE" = ssh ]; then
    require /usr/sbin/sshd ssh ssh-keygen
fi

# refused DESCRIPTION -- COMMAND...: COMMAND must fail (bounded to 60 s);
# its output is kept in LAST_OUTPUT for expect_output.
refused() {
    local desc="$1"
    shift
    [ "$1" = "--" ] && shift
    printf '\n== %s (must fail)\n$ ' "$desc"
    printf '%q ' "$@"
    printf '\n'
    local rc=0
    LAST_OUTPUT="$(timeout 60 "$@" 2>&1)" || rc=$?
    printf '%s\n' "$LAST_OUTPUT" | tail -n 20
    if [ "$rc" -eq 0 ]; then
        printf -- '-- FAILED: succeeded, must not: %s\n' "$desc"
        exit 1
    fi
    printf -- '-- refused as it must be (exit %s)\n' "$rc"
}

# wait_for_socket PATH: up to 20 s for a unix socket to appear.
wait_for_socket() {
    local i
    for i in $(seq 1 100); do
        [ -S "$1" ] && return 0
        sleep 0.2
    done
    echo "-- FAILED: no socket at $1 after 20 s"
    exit 1
}

# ------------------------------------------------------------ token host
TOKEN=remote
LABEL=remote-signer
HOST_DIR="$WORK/token-host"
mkdir -p "$HOST_DIR"
chmod 700 "$HOST_DIR"
PIN_FILE="$HOST_DIR/user.pin"
(umask 077 && printf '%s\n' "$USER_PIN" >"$PIN_FILE")
cat >>"$KEYWARD_CONF" <<EOF
[[slot]]
id = 0
user_pin_file = "$PIN_FILE"
EOF

step "token host: initialize the token" -- \
    env KEYWARD_NEW_SO_PIN="$SO_PIN" "$KEYWARD_BIN" token init --label "$TOKEN"
step "token host: set the user PIN" -- \
    env KEYWARD_SO_PIN="$SO_PIN" KEYWARD_NEW_PIN="$USER_PIN" "$KEYWARD_BIN" pin init
# The CLI reads the same file (--pin-file: one PIN a line, mode 0600).
step "token host: generate an EC P-256 key pair" -- \
    "$KEYWARD_BIN" --pin-file "$PIN_FILE" keys generate --type ec-p256 --label "$LABEL"
step "token host: export its public key" -- \
    "$KEYWARD_BIN" --pin-file "$PIN_FILE" keys export "$LABEL" --out "$HOST_DIR/signer.pub"
step "the exported key is a P-256 public key" -- openssl pkey -pubin -in "$HOST_DIR/signer.pub" -noout -text
expect_output "NIST CURVE: P-256|prime256v1"
step "the token has a protected authentication path" -- pkcs11-tool --module "$MODULE" -L
expect_output "PIN pad present"

# The socket's directory must be reachable by the client's uid; the rest
# of $WORK (the store, the PIN file) stays closed to it.
chmod 711 "$WORK"
RUN_DIR="$WORK/run"
mkdir -p "$RUN_DIR"
chmod 755 "$RUN_DIR"
SOCK="$RUN_DIR/keyward.sock"
SERVER=(p11-kit server -f --provider "$MODULE" -n "$SOCK")
AS_CLIENT=()
CLIENT_HOME="$WORK/client-host"
mkdir -p "$CLIENT_HOME"
if [ "$(id -u)" = 0 ]; then
    # The client host is another uid: the server hands the socket to it
    # (-u and -g both: p11-kit chowns only with both) and refuses peers
    # with other credentials.
    CLIENT_GROUP="$(id -gn nobody)"
    SERVER+=(-u nobody -g "$CLIENT_GROUP")
    chown 65534:65534 "$CLIENT_HOME"
    AS_CLIENT=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
"${SERVER[@]}" "pkcs11:token=$TOKEN" >"$WORK/server.log" 2>&1 &
PIDS+=($!)
wait_for_socket "$SOCK"
echo "-- p11-kit server (pid ${PIDS[-1]}) serves pkcs11:token=$TOKEN on $SOCK"

# ----------------------------------------------------------- client host
# A fresh environment: no KEYWARD_CONF/KEYWARD_STORE, no PIN variable.
client_env() {
    CLIENT=("${AS_CLIENT[@]}" env -i PATH=/usr/bin:/bin HOME="$CLIENT_HOME"
        P11_KIT_SERVER_ADDRESS="unix:path=$1")
    P11=("${CLIENT[@]}" pkcs11-tool --module "$CLIENT_MODULE")
}
client_env "$SOCK"

step "client host: its environment" -- "${CLIENT[@]}" env
if grep -Eq "KEYWARD|$USER_PIN" <<<"$LAST_OUTPUT"; then
    echo "-- FAILED: the client environment names Keyward's config or the PIN"
    exit 1
fi
if [ ${#AS_CLIENT[@]} -gt 0 ]; then
    refused "client host cannot read the PIN file" -- "${CLIENT[@]}" cat "$PIN_FILE"
    expect_output "Permission denied"
    refused "client host cannot read the token store" -- \
        "${CLIENT[@]}" ls "$KEYWARD_STORE"
    expect_output "Permission denied"
    # Root is not the uid the socket was handed to: refused by p11-kit.
    refused "another uid cannot use the socket" -- \
        env -i PATH=/usr/bin:/bin P11_KIT_SERVER_ADDRESS="unix:path=$SOCK" \
        pkcs11-tool --module "$CLIENT_MODULE" -L
    step "the server says why" -- cat "$WORK/server.log"
    expect_output "connecting uid \(0\) doesn't match expected \(65534\)"
fi

# sign_round_trip WHAT: the client lists, logs in without a PIN, signs,
# and OpenSSL verifies.
sign_round_trip() {
    local what="$1" out="$CLIENT_HOME/$1"
    step "$what: the token through p11-kit-client" -- "${P11[@]}" -L
    expect_output "token label +: $TOKEN"
    expect_output "token manufacturer +: Keyward"
    expect_output "PIN pad present"

    step "$what: objects without login (public only)" -- "${P11[@]}" -O
    expect_output "Public Key Object; EC"
    expect_output "label: +$LABEL"
    if grep -q "Private Key Object" <<<"$LAST_OUTPUT"; then
        echo "-- FAILED: a private key is visible before login"
        exit 1
    fi
    step "$what: log in without a PIN (protected path) and list" -- "${P11[@]}" --login -O
    expect_output "Private Key Object; EC"
    expect_output "Access: +sensitive, always sensitive, never extractable"

    step "$what: read the public key" -- \
        "${P11[@]}" --read-object --type pubkey --label "$LABEL" -o "$out.pub.der"
    # shellcheck disable=SC2016 # $1/$2 expand in the inner bash, on purpose
    step "$what: it is the key the token host exported" -- \
        bash -c 'cmp <(openssl pkey -pubin -inform DER -in "$1") "$2"' _ "$out.pub.der" "$HOST_DIR/signer.pub"

    "${CLIENT[@]}" sh -c "printf 'signed on the token host for %s\n' '$what' >'$out.txt'"
    # p11-kit 0.24 forwards only mechanisms its RPC knows (CKM_ECDSA, not
    # CKM_ECDSA_SHA256): the client hashes, the token signs the digest.
    step "$what: SHA-256 of the data" -- \
        "${CLIENT[@]}" sh -c "openssl dgst -sha256 -binary '$out.txt' >'$out.sha256'"
    step "$what: sign with ECDSA, logged in without a PIN" -- \
        "${P11[@]}" --login --sign --mechanism ECDSA --label "$LABEL" \
        --signature-format openssl -i "$out.sha256" -o "$out.sig"
    step "$what: OpenSSL verifies the signature (ecdsa-with-SHA256)" -- \
        openssl dgst -sha256 -verify "$HOST_DIR/signer.pub" -signature "$out.sig" "$out.txt"
    expect_output "Verified OK"
    printf 'tampered\n' >>"$out.txt"
    refused "$what: the signature does not verify other data" -- \
        openssl dgst -sha256 -verify "$HOST_DIR/signer.pub" -signature "$out.sig" "$out.txt"
    expect_output "Verification failure"
}

sign_round_trip unix-socket

# What the client host cannot do.
refused "client host: SO login (no SO PIN here, and NULL is no SO PIN)" -- \
    "${P11[@]}" --login --login-type so -O
expect_output "CKR_ARGUMENTS_BAD"
refused "client host: a typed wrong PIN" -- "${P11[@]}" --login --pin 9999 -O
expect_output "CKR_PIN_INCORRECT"
cat >"$WORK/wrong_ops.py" <<'EOF'
# Through p11-kit-client: no private key before login; C_Login(NULL) finds
# it; after C_Logout signing with its handle is CKR_USER_NOT_LOGGED_IN;
# an SO login with a NULL PIN is CKR_ARGUMENTS_BAD.
import sys
import PyKCS11

lib = PyKCS11.PyKCS11Lib()
lib.load(sys.argv[1])
slot = lib.getSlotList(tokenPresent=True)[0]
s = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
priv = [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY)]
print("private keys before login:", len(s.findObjects(priv)))
s.login(None)
keys = s.findObjects(priv)
print("private keys after NULL-PIN login:", len(keys))
s.logout()
try:
    s.sign(keys[0], b"\x5a" * 32, PyKCS11.Mechanism(PyKCS11.CKM_ECDSA, None))
    print("sign after logout: CKR_OK")
except PyKCS11.PyKCS11Error as e:
    print("sign after logout:", e)
try:
    s.login(None, PyKCS11.CKU_SO)
    print("SO login with NULL PIN: CKR_OK")
except PyKCS11.PyKCS11Error as e:
    print("SO login with NULL PIN:", e)
EOF
chmod 644 "$WORK/wrong_ops.py"
step "client host: wrong operations fail the right way (PyKCS11)" -- \
    "${CLIENT[@]}" "$PY" "$WORK/wrong_ops.py" "$CLIENT_MODULE"
expect_output "private keys before login: 0"
expect_output "private keys after NULL-PIN login: 1"
expect_output "sign after logout: CKR_USER_NOT_LOGGED_IN"
expect_output "SO login with NULL PIN: CKR_ARGUMENTS_BAD"

# The token host's audit trail has the remote logins, by p11-kit-remote.
step "token host: the audit trail records the remote logins" -- \
    "$KEYWARD_BIN" --pin-file "$PIN_FILE" audit show --event login
expect_output "login +CKR_OK +user .*p11-kit-remote .*protected authentication path \(user_pin_file\)"

# ------------------------------------------------- over ssh (optional part)
if [ "$MODE" = ssh ]; then
    SSH_DIR="$WORK/ssh"
    mkdir -p "$SSH_DIR"
    chmod 700 "$SSH_DIR"
    step "throw-away host and client keys" -- bash -c \
        "ssh-keygen -q -t ed25519 -N '' -f '$SSH_DIR/host_key' && ssh-keygen -q -t ed25519 -N '' -f '$SSH_DIR/client_key'"
    cp "$SSH_DIR/client_key.pub" "$SSH_DIR/authorized_keys"
    PORT="$(free_port)"
    printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$SSH_DIR/host_key.pub")" >"$SSH_DIR/known_hosts"
    # No AllowTcpForwarding no: OpenSSH 9.2 then refuses unix-socket
    # forwarding too ("the request was denied").
    cat >"$SSH_DIR/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $SSH_DIR/host_key
AuthorizedKeysFile $SSH_DIR/authorized_keys
PidFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowUsers $(id -un)
AllowStreamLocalForwarding yes
X11Forwarding no
PermitTTY no
EOF
    # sshd run by root wants its privilege separation directory (made by
    # the openssh-server package at boot; a container may lack it).
    if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then
        mkdir -p /run/sshd
        chmod 755 /run/sshd
    fi
    step "sshd configuration is valid" -- /usr/sbin/sshd -t -f "$SSH_DIR/sshd_config"
    /usr/sbin/sshd -D -e -f "$SSH_DIR/sshd_config" >"$WORK/sshd.log" 2>&1 &
    PIDS+=($!)
    wait_for_port "$PORT"
    # The token host's socket is handed to nobody in unix mode; over ssh
    # sshd connects as the ssh user, so a second server serves that uid.
    SSH_SOCK="$RUN_DIR/keyward-ssh.sock"
    p11-kit server -f --provider "$MODULE" -n "$SSH_SOCK" "pkcs11:token=$TOKEN" \
        >"$WORK/server-ssh.log" 2>&1 &
    PIDS+=($!)
    wait_for_socket "$SSH_SOCK"
    FWD="$CLIENT_HOME/forwarded.sock"
    # On a real client host: ssh -N -L LOCAL.sock:REMOTE.sock tokenhost.
    ssh -N -F /dev/null -i "$SSH_DIR/client_key" -o IdentitiesOnly=yes -o BatchMode=yes \
        -o UserKnownHostsFile="$SSH_DIR/known_hosts" -o StrictHostKeyChecking=yes \
        -o ExitOnForwardFailure=yes -o StreamLocalBindUnlink=yes \
        -p "$PORT" -L "$FWD:$SSH_SOCK" "$(id -un)@127.0.0.1" >"$WORK/ssh.log" 2>&1 &
    SSH_PID=$!
    PIDS+=("$SSH_PID")
    wait_for_socket "$FWD"
    echo "-- ssh forwards $FWD to $SSH_SOCK"
    AS_CLIENT=()
    client_env "$FWD"
    sign_round_trip ssh-forwarded
    # The client goes first, so sshd's session ends before sshd does.
    kill "$SSH_PID"
    wait "$SSH_PID" 2>/dev/null || true
fi

echo
echo "p11kit_remote.sh ($MODE): all steps passed"
