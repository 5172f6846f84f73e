# Shared helpers for the interop scripts: a fresh token in a temporary
# store, a step runner that prints each command and its outcome and stops
# at the first failure with the tool's output, bounded waits, and the
# CI rule that a missing tool is a failure, never a silent skip.
#
# Each script is run by tests/interop.rs with KEYWARD_MODULE set to the
# module built for the test run.

set -euo pipefail

: "${KEYWARD_MODULE:?KEYWARD_MODULE must name libkeyward.so}"
MODULE="$KEYWARD_MODULE"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/keyward-interop.XXXXXX")"
export KEYWARD_STORE="$WORK/store"
export KEYWARD_CONF="$WORK/keyward.toml"
# Low KDF cost keeps the suite quick; it changes nothing a client sees.
printf 'pin_kdf_iterations = 1000\n' > "$KEYWARD_CONF"
SO_PIN=12345678
USER_PIN=1234
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# require TOOL...: each must be installed; under CI=true a missing one fails
# the script, elsewhere the script stops with a loud SKIP (exit 77).
require() {
    local tool
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1 && [ ! -e "$tool" ]; then
            if [ "${CI:-}" = "true" ]; then
                echo "FAIL: $tool is not installed (CI=true: a missing tool is a failure)" >&2
                exit 1
            fi
            echo "SKIP: $tool is not installed" >&2
            exit 77
        fi
    done
}

# step DESCRIPTION -- COMMAND...: runs COMMAND (bounded to 120 s), prints
# it and whether it passed; on failure prints its output and exits.
step() {
    local desc="$1"
    shift
    [ "$1" = "--" ] && shift
    printf '\n== %s\n$ ' "$desc"
    printf '%q ' "$@"
    printf '\n'
    local out rc=0
    out="$(timeout 120 "$@" 2>&1)" || rc=$?
    if [ "$rc" -ne 0 ]; then
        printf '%s\n-- FAILED (exit %s): %s\n' "$out" "$rc" "$desc"
        exit 1
    fi
    printf '%s\n-- ok\n' "$out" | tail -n 40
    LAST_OUTPUT="$out"
}

# expect_output PATTERN: the last step's output must match (grep -E).
expect_output() {
    if ! grep -Eq -- "$1" <<<"$LAST_OUTPUT"; then
        # The step printed only its last lines: show all of it here.
        printf -- '-- whole output of the last step:\n%s\n' "$LAST_OUTPUT"
        printf -- '-- FAILED: output does not match /%s/\n' "$1"
        exit 1
    fi
}

# wait_for_port PORT: waits up to 20 s for a listener on 127.0.0.1:PORT.
wait_for_port() {
    local i
    for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    echo "-- FAILED: nothing listens on 127.0.0.1:$1 after 20 s"
    exit 1
}

# A free TCP port on loopback.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# init_token LABEL: a fresh token with the SO and user PINs above.
init_token() {
    require pkcs11-tool
    step "initialize the token" -- pkcs11-tool --module "$MODULE" --init-token --label "$1" --so-pin "$SO_PIN"
    step "set the user PIN" -- pkcs11-tool --module "$MODULE" --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
}

# p11 ARGS...: pkcs11-tool on our module, logged in as the user.
p11() {
    pkcs11-tool --module "$MODULE" --login --pin "$USER_PIN" "$@"
}
