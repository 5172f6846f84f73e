#!/usr/bin/env python3
"""The independent side of tests/ed448.rs's interop test: Ed448 and X448
from pyca/cryptography (OpenSSL's implementations).

  verify PK MSG SIG     exit 0 if the Ed448 SIG (pure, no context)
                        verifies under PK, 1 if not
  x448 PEER             make an X448 key; print its public key and the
                        secret shared with PEER, one hex line each

Byte strings are hex. Exit 77 when the package is missing, so the caller
can skip outside CI."""

import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ed448, x448
except ImportError as e:
    print(f"SKIP: pyca/cryptography is not importable: {e}", file=sys.stderr)
    sys.exit(77)


def main(argv):
    op, *rest = argv
    raw = [bytes.fromhex(a) for a in rest]
    if op == "verify":
        pk, msg, sig = raw
        try:
            ed448.Ed448PublicKey.from_public_bytes(pk).verify(sig, msg)
        except InvalidSignature:
            print("invalid signature", file=sys.stderr)
            return 1
        return 0
    if op == "x448":
        (peer,) = raw
        key = x448.X448PrivateKey.generate()
        print(key.public_key().public_bytes_raw().hex())
        print(key.exchange(x448.X448PublicKey.from_public_bytes(peer)).hex())
        return 0
    print(f"unknown operation {op}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
