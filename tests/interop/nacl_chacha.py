#!/usr/bin/env python3
"""libsodium (through PyNaCl) for tests/chacha20_raw.rs: prints the hex of
one operation. Arguments are hex ("-" for empty). Exit 77 when PyNaCl is
missing (the test skips, or fails under CI=true).

  aead KEY NONCE8 AAD MSG       crypto_aead_chacha20poly1305_encrypt (original)
  xaead KEY NONCE24 AAD MSG     crypto_aead_xchacha20poly1305_ietf_encrypt
  secretbox KEY NONCE24 MSG     crypto_secretbox (XSalsa20-Poly1305): tag || ct
"""
import sys

try:
    from nacl import bindings as b
except ImportError as e:  # pragma: no cover
    print(f"PyNaCl missing: {e}", file=sys.stderr)
    sys.exit(77)


def h(s):
    return b"" if s == "-" else bytes.fromhex(s)


op, *args = sys.argv[1:]
if op == "aead":
    key, nonce, aad, msg = map(h, args)
    out = b.crypto_aead_chacha20poly1305_encrypt(msg, aad, nonce, key)
elif op == "xaead":
    key, nonce, aad, msg = map(h, args)
    out = b.crypto_aead_xchacha20poly1305_ietf_encrypt(msg, aad, nonce, key)
elif op == "secretbox":
    key, nonce, msg = map(h, args)
    # crypto_secretbox_easy: the 16-byte tag, then the ciphertext.
    out = b.crypto_secretbox_easy(msg, nonce, key)
else:
    sys.exit(f"unknown op {op}")
print(out.hex())
