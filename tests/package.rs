//! The Debian package (issue 16): tests/interop/package_deb.sh builds it,
//! installs it on this machine, runs the README's install walk-through as
//! written and purges it. Alone in its own test binary because it changes
//! the machine's p11-kit registration, which the interop scripts (run in
//! parallel threads of their own binary) must not see appear and vanish.

#[path = "common/script.rs"]
mod script;

#[test]
fn debian_package_installs_serves_p11kit_clients_and_purges() {
    let text = script::run("package_deb.sh", &[]);
    assert!(
        text.contains("package_deb: OK") || text.contains("SKIP"),
        "{text}"
    );
}
