#!/usr/bin/env python3
"""Forks a process after OpenSSL's pkcs11-provider has loaded Keyward.

Drives libcrypto.so.3 directly through ctypes (no Python OpenSSL binding
involved): loads the configuration named by OPENSSL_CONF, opens a private
key from a pkcs11: URI through OSSL_STORE, signs once in the parent (so the
module is initialised, logged in and holds sessions), forks, then signs in
the child and again in the parent. pkcs11-provider notices the fork in the
child and re-initialises the module (C_Finalize then C_Initialize) before
its first call, so every signature must succeed and verify.

usage: openssl_fork.py PKCS11_URI OUT_PREFIX
writes OUT_PREFIX.{before,child,parent}.sig (SHA-256 digest signatures
over OUT_PREFIX.data) for the caller to verify with the default provider.
"""

import ctypes
import os
import sys

OPENSSL_INIT_LOAD_CONFIG = 0x40
OSSL_STORE_INFO_PKEY = 4

crypto = ctypes.CDLL("libcrypto.so.3")


def fn(name, restype, *argtypes):
    f = getattr(crypto, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


VP = ctypes.c_void_p
init_crypto = fn("OPENSSL_init_crypto", ctypes.c_int, ctypes.c_uint64, VP)
store_open = fn("OSSL_STORE_open", VP, ctypes.c_char_p, VP, VP, VP, VP)
store_expect = fn("OSSL_STORE_expect", ctypes.c_int, VP, ctypes.c_int)
store_load = fn("OSSL_STORE_load", VP, VP)
store_eof = fn("OSSL_STORE_eof", ctypes.c_int, VP)
store_close = fn("OSSL_STORE_close", ctypes.c_int, VP)
info_type = fn("OSSL_STORE_INFO_get_type", ctypes.c_int, VP)
info_pkey = fn("OSSL_STORE_INFO_get1_PKEY", VP, VP)
info_free = fn("OSSL_STORE_INFO_free", None, VP)
md_ctx_new = fn("EVP_MD_CTX_new", VP)
md_ctx_free = fn("EVP_MD_CTX_free", None, VP)
sign_init = fn(
    "EVP_DigestSignInit_ex", ctypes.c_int, VP, VP, ctypes.c_char_p, VP, VP, VP, VP
)
digest_sign = fn(
    "EVP_DigestSign",
    ctypes.c_int,
    VP,
    VP,
    ctypes.POINTER(ctypes.c_size_t),
    ctypes.c_char_p,
    ctypes.c_size_t,
)
sign_update = fn("EVP_DigestSignUpdate", ctypes.c_int, VP, ctypes.c_char_p, ctypes.c_size_t)
sign_final = fn(
    "EVP_DigestSignFinal", ctypes.c_int, VP, VP, ctypes.POINTER(ctypes.c_size_t)
)
err_get = fn("ERR_get_error", ctypes.c_ulong)
err_string = fn("ERR_error_string_n", None, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_size_t)


def fail(what):
    """Prints OpenSSL's error queue and exits non-zero."""
    print(f"[pid {os.getpid()}] FAILED: {what}", file=sys.stderr)
    while True:
        code = err_get()
        if code == 0:
            break
        buf = ctypes.create_string_buffer(256)
        err_string(code, buf, len(buf))
        print("  " + buf.value.decode(), file=sys.stderr)
    sys.stderr.flush()
    os._exit(1)


def load_key(uri):
    store = store_open(uri.encode(), None, None, None, None)
    if not store:
        fail(f"OSSL_STORE_open {uri}")
    store_expect(store, OSSL_STORE_INFO_PKEY)
    pkey = None
    while not pkey and not store_eof(store):
        info = store_load(store)
        if info and info_type(info) == OSSL_STORE_INFO_PKEY:
            pkey = info_pkey(info)
        if info:
            info_free(info)
    store_close(store)
    if not pkey:
        fail(f"no private key at {uri}")
    return pkey


def sign(pkey, data, path):
    ctx = md_ctx_new()
    if sign_init(ctx, None, b"SHA256", None, None, pkey, None) != 1:
        fail("EVP_DigestSignInit_ex")
    size = ctypes.c_size_t(0)
    if digest_sign(ctx, None, ctypes.byref(size), data, len(data)) != 1:
        fail("EVP_DigestSign (length)")
    sig = ctypes.create_string_buffer(size.value)
    if digest_sign(ctx, sig, ctypes.byref(size), data, len(data)) != 1:
        fail("EVP_DigestSign")
    md_ctx_free(ctx)
    write(path, sig.raw[: size.value])


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    print(f"[pid {os.getpid()}] signed -> {path}")
    sys.stdout.flush()


def fork_mid_operation(pkey, data, prefix):
    """Forks between SignUpdate and SignFinal, as pkcs11-provider's own
    tfork test does. The child's copy of the operation lives in sessions
    the re-initialised module no longer has, so its final call may fail,
    but it must fail cleanly (no crash, no hang); the parent's operation
    must complete untouched."""
    ctx = md_ctx_new()
    if sign_init(ctx, None, b"SHA256", None, None, pkey, None) != 1:
        fail("EVP_DigestSignInit_ex (mid-operation)")
    if sign_update(ctx, data, len(data)) != 1:
        fail("EVP_DigestSignUpdate (mid-operation)")
    size = ctypes.c_size_t(0)
    if sign_final(ctx, None, ctypes.byref(size)) != 1:
        fail("EVP_DigestSignFinal (length)")
    sig = ctypes.create_string_buffer(size.value)
    pid = os.fork()
    ok = sign_final(ctx, sig, ctypes.byref(size)) == 1
    if pid == 0:
        if ok:
            write(prefix + ".midop-child.sig", sig.raw[: size.value])
        else:
            print(f"[pid {os.getpid()}] child: operation from before the fork refused (expected)")
        sys.stdout.flush()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        fail(f"mid-operation child {pid} ended with status {status}")
    if not ok:
        fail("EVP_DigestSignFinal in the parent after a fork mid-operation")
    write(prefix + ".midop-parent.sig", sig.raw[: size.value])
    md_ctx_free(ctx)


def main():
    uri, prefix = sys.argv[1], sys.argv[2]
    # Loads OPENSSL_CONF, which activates pkcs11-provider with our module.
    if init_crypto(OPENSSL_INIT_LOAD_CONFIG, None) != 1:
        fail("OPENSSL_init_crypto(LOAD_CONFIG)")
    data = b"keyward fork test\n" * 64
    with open(prefix + ".data", "wb") as f:
        f.write(data)
    pkey = load_key(uri)
    sign(pkey, data, prefix + ".before.sig")

    pid = os.fork()
    if pid == 0:
        # The child reuses the parent's EVP_PKEY: the provider must
        # re-initialise the module and log in again on its own.
        sign(pkey, data, prefix + ".child.sig")
        sys.stdout.flush()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        fail(f"child {pid} ended with status {status}")
    # The parent's own sessions must have survived the child's re-init.
    sign(pkey, data, prefix + ".parent.sig")
    fork_mid_operation(pkey, data, prefix)
    print("fork test: parent and child both signed")


if __name__ == "__main__":
    main()
