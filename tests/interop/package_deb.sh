# The Debian package (issue 16), end to end on this machine: build it with
# packaging/deb.sh, check what it holds (stripped binaries, debug symbols
# in the -dbgsym package, man pages, completions, the p11-kit
# registration, the conffile), install it with dpkg -i, run the README's
# "From dpkg -i to OpenSSL and NSS" block as written by a newcomer (fresh
# HOME, nothing on PATH but the system's), check the system layout the
# packaged units use (the keyward user, /var/lib/keyward 0700, doctor and
# metrics as that user), then purge it: nothing may stay but the data
# directory.
#
# It installs a package on the machine, so it runs as root under CI=true,
# or elsewhere only when KEYWARD_TEST_PACKAGE=1, and never replaces a
# keyward package that was installed before it.

source "$(dirname "$0")/lib.sh"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"

if [ "${CI:-}" != "true" ] && [ "${KEYWARD_TEST_PACKAGE:-}" != "1" ]; then
    echo "SKIP: installs a package on this machine; set KEYWARD_TEST_PACKAGE=1 (as root) to run it" >&2
    exit 77
fi
if [ "$(id -u)" != 0 ]; then
    echo "FAIL: installing the package needs root" >&2
    exit 1
fi
require dpkg dpkg-deb cargo-deb readelf p11-kit pkcs11-tool openssl certutil modutil man python3 runuser
if dpkg-query -W -f='${Status}' keyward 2>/dev/null | grep -q 'install ok'; then
    if [ "${CI:-}" != "true" ]; then
        echo "SKIP: a keyward package is installed here; this test does not replace it" >&2
        exit 77
    fi
fi
had_user=no
getent passwd keyward >/dev/null && had_user=yes
had_data=no
[ -e /var/lib/keyward ] && had_data=yes

TEXTFILE=
purge() {
    [ -z "$TEXTFILE" ] || rm -rf "$TEXTFILE"
    dpkg --purge keyward >/dev/null 2>&1 || true
    dpkg --purge keyward-dbgsym >/dev/null 2>&1 || true
    # What this test itself created outside the package.
    if [ "$had_data" = no ]; then rm -rf /var/lib/keyward; fi
    if [ "$had_user" = no ] && getent passwd keyward >/dev/null; then userdel keyward || true; fi
    cleanup
}
trap purge EXIT

# Not a step: a build that is not fresh takes longer than a step may.
echo "== build the package (packaging/deb.sh)"
"$REPO/packaging/deb.sh"
DEB="$(ls "$REPO"/target/debian/keyward_*.deb)"
DDEB="$(ls "$REPO"/target/debian/keyward-dbgsym_*.ddeb)"

step "the package's contents" -- dpkg-deb -c "$DEB"
arch_dir="usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$(uname -m)-linux-gnu")"
for path in ./usr/bin/keyward "./$arch_dir/pkcs11/libkeyward.so" \
    ./usr/share/p11-kit/modules/keyward.module ./etc/keyward/keyward.toml \
    ./usr/share/man/man1/keyward.1.gz ./usr/share/man/man1/keyward-doctor.1.gz \
    ./usr/share/bash-completion/completions/keyward ./usr/share/zsh/vendor-completions/_keyward \
    ./usr/share/fish/vendor_completions.d/keyward.fish \
    ./lib/systemd/system/keyward-metrics.timer ./lib/systemd/system/keyward-rotate.service \
    ./usr/share/doc/keyward/README.md ./usr/share/doc/keyward/copyright \
    ./usr/share/doc/keyward/examples/prometheus/keyward-alerts.yml \
    ./usr/share/doc/keyward/examples/openssl/openssl.cnf; do
    expect_output " $path\$"
done
step "the conffile and the maintainer scripts" -- dpkg-deb -I "$DEB"
expect_output "Multi-Arch: foreign"
dpkg-deb -e "$DEB" "$WORK/control"
grep -qx /etc/keyward/keyward.toml "$WORK/control/conffiles"

# Stripped binaries; their symbols in the -dbgsym package.
dpkg-deb -x "$DEB" "$WORK/deb"
dpkg-deb -x "$DDEB" "$WORK/dbgsym"
for bin in "$WORK/deb/usr/bin/keyward" "$WORK/deb/$arch_dir/pkcs11/libkeyward.so"; do
    step "no debug sections in $(basename "$bin")" -- readelf -S "$bin"
    if grep -q '\.debug_info' <<<"$LAST_OUTPUT"; then
        echo "-- FAILED: $bin is not stripped"; exit 1
    fi
    size=$(stat -c %s "$bin")
    echo "$(basename "$bin"): $size bytes"
    [ "$size" -lt 20000000 ] || { echo "-- FAILED: $bin is $size bytes"; exit 1; }
    id=$(readelf -n "$bin" | awk '/Build ID/ {print $3}')
    debug="$WORK/dbgsym/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
    [ -s "$debug" ] || { echo "-- FAILED: no $debug in the -dbgsym package"; exit 1; }
    step "debug symbols of $(basename "$bin")" -- readelf -S "$debug"
    expect_output '\.debug_info'
done

# The README's walk-through, as a newcomer: a fresh HOME, no KEYWARD_*
# variables, the installed keyward (never this build's) on PATH, in a
# directory where target/ is this checkout's.
awk '/<!-- install-walkthrough:start -->/{f=1; next} /<!-- install-walkthrough:end -->/{f=0} f' \
    "$REPO/README.md" | sed -e '1{/^```bash$/d}' -e '${/^```$/d}' > "$WORK/walk.sh"
grep -q 'dpkg -i' "$WORK/walk.sh"
mkdir -p "$WORK/newcomer" "$WORK/home"
ln -s "$REPO/target" "$WORK/newcomer/target"
{
    # Root needs no sudo; a machine without it gets a stand-in.
    echo 'command -v sudo >/dev/null || sudo() { "$@"; }'
    cat "$WORK/walk.sh"
} > "$WORK/walk-run.sh"
step "the README's install walk-through" -- env -i HOME="$WORK/home" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 CI="${CI:-}" bash -c "cd '$WORK/newcomer' && bash -euo pipefail '$WORK/walk-run.sh'"
expect_output 'library-manufacturer: Keyward'
expect_output 'Signature is valid'
expect_output 'subject=CN *= *web.example'
expect_output 'mytoken:nss-client'
expect_output 'healthy: no problem found'
expect_output 'loads module "keyward"'
expect_output 'keyward_keys_due\{slot="0",within_days="30"\} 0'

step "man keyward renders" -- env MANPAGER=cat MANWIDTH=80 man keyward
expect_output 'doctor'
step "man keyward-metrics renders" -- env MANPAGER=cat MANWIDTH=80 man keyward-metrics
expect_output 'OpenMetrics'
step "the bash completion loads and completes" -- bash -c \
    'source /usr/share/bash-completion/completions/keyward; complete -p keyward; COMP_WORDS=(keyward doc); COMP_CWORD=1; _keyward keyward doc keyward; echo "completes: ${COMPREPLY[*]}"'
expect_output 'completes: doctor'

# The system layout the packaged units use.
step "the keyward account and its store" -- stat -c '%U %G %a' /var/lib/keyward
expect_output '^keyward keyward 700$'
for unit in /lib/systemd/system/keyward-*.service; do
    exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
    [ "$exe" = /usr/bin/keyward ] || { echo "-- FAILED: $unit runs $exe"; exit 1; }
done
# As the units run: the keyward user, the system configuration.
AS_KEYWARD=(runuser -u keyward -- env -u KEYWARD_STORE KEYWARD_CONF=/etc/keyward/keyward.toml)
if [ ! -e /var/lib/keyward/slot-0.sqlite ]; then
    step "a system token, as the keyward user" -- "${AS_KEYWARD[@]}" \
        KEYWARD_NEW_SO_PIN=87654321 KEYWARD_NEW_PIN=4321 keyward token init --label system
fi
step "doctor as the units run it" -- "${AS_KEYWARD[@]}" keyward doctor
expect_output 'sqlite /var/lib/keyward/slot-0.sqlite'
# A collector directory the keyward user may write (the work directory is
# root's alone).
TEXTFILE="$(mktemp -d /tmp/keyward-textfile.XXXXXX)"
chown keyward "$TEXTFILE"
step "metrics as keyward-metrics.service writes them" -- "${AS_KEYWARD[@]}" keyward metrics --out "$TEXTFILE/keyward.prom"
step "the metrics parse as OpenMetrics" -- python3 "$REPO/tests/interop/openmetrics_check.py" "$TEXTFILE/keyward.prom"
expect_output '"keyward_up"'

# Purge: every file of the package goes; the data directory stays.
files=$(dpkg-query -L keyward | while read -r f; do [ -f "$f" ] && echo "$f"; done)
step "purge the package" -- dpkg --purge keyward
for f in $files; do
    if [ -e "$f" ]; then echo "-- FAILED: $f is left after the purge"; exit 1; fi
done
[ ! -e /etc/keyward ] || { echo "-- FAILED: /etc/keyward is left after the purge"; ls -la /etc/keyward; exit 1; }
[ -e /var/lib/keyward/slot-0.sqlite ] || { echo "-- FAILED: the purge removed the token store"; exit 1; }
step "p11-kit no longer lists the module" -- p11-kit list-modules
if grep -q '^keyward:' <<<"$LAST_OUTPUT"; then echo "-- FAILED: still registered"; exit 1; fi
echo "package_deb: OK"
