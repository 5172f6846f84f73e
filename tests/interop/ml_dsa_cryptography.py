#!/usr/bin/env python3
"""The independent side of tests/ml_dsa.rs's interop test: ML-DSA from
pyca/cryptography (48 or later: cryptography.hazmat.primitives.asymmetric.mldsa).

  verify SET PK MSG CTX SIG   exit 0 if SIG verifies, 1 if not
  sign SET SEED MSG CTX       print the public key and a (hedged) signature
                              of the key built from SEED, one hex line each

SET is 44, 65 or 87; byte strings are hex. Exit 77 when the package (or
its ML-DSA) is missing, so the caller can skip outside CI."""

import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import mldsa
except ImportError as e:
    print(f"SKIP: pyca/cryptography with ML-DSA is not importable: {e}", file=sys.stderr)
    sys.exit(77)

KEYS = {
    "44": (mldsa.MLDSA44PrivateKey, mldsa.MLDSA44PublicKey),
    "65": (mldsa.MLDSA65PrivateKey, mldsa.MLDSA65PublicKey),
    "87": (mldsa.MLDSA87PrivateKey, mldsa.MLDSA87PublicKey),
}


def main(argv):
    op, level, *rest = argv
    private_cls, public_cls = KEYS[level]
    raw = [bytes.fromhex(a) for a in rest]
    if op == "verify":
        pk, msg, ctx, sig = raw
        try:
            public_cls.from_public_bytes(pk).verify(sig, msg, ctx)
        except InvalidSignature:
            print("invalid signature", file=sys.stderr)
            return 1
        return 0
    if op == "sign":
        seed, msg, ctx = raw
        key = private_cls.from_seed_bytes(seed)
        print(key.public_key().public_bytes_raw().hex())
        print(key.sign(msg, ctx).hex())
        return 0
    print(f"unknown operation {op}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
