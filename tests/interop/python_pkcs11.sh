#!/usr/bin/env bash
# python-pkcs11 0.10.1's own test suite (from its PyPI source
# distribution) against Keyward, as an evaluator would run it: a fresh
# token, the suite's environment variables, a virtualenv with the package
# and pytest. Twice: under the `compat` policy profile, where every test
# must pass except the ones python_pkcs11_known.txt names with a reason
# (and none of those may pass unnoticed), and under the default policy,
# where its refusals are expected (see the end) and the run must only end
# cleanly.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# The suite's multi-library test loads a second module beside ours in one
# process (PKCS11_MODULE2): SoftHSMv2, the peer, with an empty token dir.
SOFTHSM_LIB=/usr/lib/softhsm/libsofthsm2.so
require python3 "$KEYWARD_BIN" "$SOFTHSM_LIB"

VERSION=0.10.1
KNOWN="$(cd "$(dirname "$0")" && pwd)/python_pkcs11_known.txt"
VENV="$WORK/venv"
step "a virtualenv with python-pkcs11 $VERSION, pytest and the suite's helpers" -- \
    bash -c "python3 -m venv '$VENV' && '$VENV/bin/pip' install -q python-pkcs11==$VERSION pytest cryptography parameterized"
# The source distribution only for its tests/: --no-binary for it alone,
# so its build dependencies (Cython, setuptools) come as wheels instead of
# being compiled from source (minutes on a busy 2-core machine).
step "the suite from the source distribution" -- \
    bash -c "'$VENV/bin/pip' download -q --no-binary python-pkcs11 --no-deps python-pkcs11==$VERSION -d '$WORK/sdist' && tar -xzf '$WORK'/sdist/*.tar.gz -C '$WORK/sdist' && mkdir -p '$WORK/suite' && cp -r '$WORK'/sdist/python_pkcs11-$VERSION/tests '$WORK/suite/'"

mkdir -p "$WORK/softhsm-tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$WORK/softhsm-tokens" >"$WORK/softhsm2.conf"
export SOFTHSM2_CONF="$WORK/softhsm2.conf" PKCS11_MODULE2="$SOFTHSM_LIB"

# run_suite PROFILE: a fresh token under that policy, then the suite; the
# failing test ids land in $WORK/failed-PROFILE.
run_suite() {
    local profile="$1"
    export KEYWARD_STORE="$WORK/store-$profile"
    printf 'pin_kdf_iterations = 1000\n[policy]\nprofile = "%s"\n' "$profile" > "$KEYWARD_CONF"
    step "$profile: a fresh token" -- \
        env KEYWARD_NEW_SO_PIN="$SO_PIN" "$KEYWARD_BIN" token init --label TEST
    step "$profile: the user PIN" -- \
        env KEYWARD_SO_PIN="$SO_PIN" KEYWARD_NEW_PIN="$USER_PIN" "$KEYWARD_BIN" pin init
    local rc=0
    printf '\n== %s: python-pkcs11 %s test suite\n' "$profile" "$VERSION"
    (cd "$WORK/suite" && PKCS11_MODULE="$MODULE" PKCS11_TOKEN_LABEL=TEST \
        PKCS11_TOKEN_PIN="$USER_PIN" PKCS11_TOKEN_SO_PIN="$SO_PIN" \
        timeout 900 "$VENV/bin/python" -m pytest -q -p no:cacheprovider \
        --junitxml="$WORK/junit-$profile.xml" tests >"$WORK/pytest-$profile.log" 2>&1) || rc=$?
    tail -n 3 "$WORK/pytest-$profile.log"
    # pytest: 0 all passed, 1 some failed; anything else (an internal
    # error, a crash of the interpreter, the timeout) fails this script.
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
        cat "$WORK/pytest-$profile.log"
        echo "-- FAILED: the $profile run did not end cleanly (exit $rc)"
        exit 1
    fi
    "$VENV/bin/python" - "$WORK/junit-$profile.xml" >"$WORK/failed-$profile" <<'PY'
import sys, xml.etree.ElementTree as ET
for case in ET.parse(sys.argv[1]).iter("testcase"):
    if case.find("failure") is not None or case.find("error") is not None:
        module = case.get("classname", "").rsplit(".", 1)
        path = module[0].replace(".", "/") + ".py" if len(module) == 2 else "?"
        print(f"{path}::{module[-1]}::{case.get('name')}")
PY
}

run_suite compat
{ grep -v '^#' "$KNOWN" || true; } | sed 's/ *#.*//' | sed '/^$/d' | sort >"$WORK/known"
sort "$WORK/failed-compat" >"$WORK/failed"
unexpected="$(comm -23 "$WORK/failed" "$WORK/known")"
fixed="$(comm -13 "$WORK/failed" "$WORK/known")"
if [ -n "$unexpected" ]; then
    cat "$WORK/pytest-compat.log"
    printf -- '-- FAILED: under the compat profile these tests fail and are not known:\n%s\n' "$unexpected"
    exit 1
fi
if [ -n "$fixed" ]; then
    printf -- '-- FAILED: these now pass; remove them from %s:\n%s\n' "$KNOWN" "$fixed"
    exit 1
fi
# The issue's bar: fewer skips than SoftHSMv2 2.6 has on this suite (18).
# Skips left: DES/3DES (refused on purpose) and the tests the suite runs
# only when the module's file is named libsofthsm2.so.
skipped="$("$VENV/bin/python" - "$WORK/junit-compat.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
print(sum(1 for c in ET.parse(sys.argv[1]).iter("testcase") if c.find("skipped") is not None))
PY
)"
if [ "$skipped" -ge 18 ]; then
    grep -i skip "$WORK/pytest-compat.log" || true
    echo "-- FAILED: compat: $skipped tests skipped; SoftHSMv2 skips 18"
    exit 1
fi
echo "-- ok: compat: only the $(wc -l <"$WORK/known") known failures, $skipped skipped"

# The default policy refuses what the suite's era takes for granted (a
# key that both wraps and encrypts, 1024-bit RSA, SHA-1 signatures…), and
# the suite's TestCase leaves its session logged in when its setUp fails,
# so every later test of the run meets CKR_USER_ALREADY_LOGGED_IN: its
# per-test results say nothing more. What must hold: the run ends
# cleanly, and the first refusal is one of the policy's, audited with the
# rule that made it.
run_suite default
step "default: the refusals are the policy's, each audited with its rule" -- \
    env KEYWARD_PIN="$USER_PIN" "$KEYWARD_BIN" audit show --event policy_refusal
expect_output "wrap_separation"
echo "-- ok: default: $(wc -l <"$WORK/failed-default") tests refused or cascaded, as documented"
