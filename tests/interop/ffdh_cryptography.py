#!/usr/bin/env python3
"""The independent side of tests/dsa.rs and tests/dh.rs: DSA and PKCS #3
Diffie-Hellman from pyca/cryptography (OpenSSL).

  dsa-verify HASH P Q G Y MSG SIG   exit 0 if SIG (r||s) verifies, 1 if not
  dsa-sign L HASH MSG               a fresh L-bit key signs MSG: print P, Q,
                                    G, Y, X and the signature r||s, one hex
                                    line each
  dh P G PEER                       a fresh key on (P, G): print its public
                                    value and the shared secret with PEER
                                    (p's length), one hex line each

HASH is sha1, sha224, sha256, sha384, sha512 or raw (MSG is then the hash,
Prehashed as SHA-1..512 by its length); numbers and byte strings are hex.
Exit 77 when the package is missing, so the caller can skip outside CI."""

import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import dh, dsa
    from cryptography.hazmat.primitives.asymmetric.utils import (
        Prehashed,
        decode_dss_signature,
        encode_dss_signature,
    )
except ImportError as e:
    print(f"SKIP: pyca/cryptography is not importable: {e}", file=sys.stderr)
    sys.exit(77)

HASHES = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
BY_LEN = {20: hashes.SHA1, 28: hashes.SHA224, 32: hashes.SHA256, 48: hashes.SHA384, 64: hashes.SHA512}


def num(h):
    return int(h, 16)


def algorithm(name, msg):
    if name == "raw":
        return Prehashed(BY_LEN[len(msg)]())
    return HASHES[name]()


def main(argv):
    op, *rest = argv
    if op == "dsa-verify":
        name, p, q, g, y, msg, sig = rest
        msg, sig = bytes.fromhex(msg), bytes.fromhex(sig)
        params = dsa.DSAParameterNumbers(num(p), num(q), num(g))
        key = dsa.DSAPublicNumbers(num(y), params).public_key()
        n = len(sig) // 2
        der = encode_dss_signature(int.from_bytes(sig[:n], "big"), int.from_bytes(sig[n:], "big"))
        try:
            key.verify(der, msg, algorithm(name, msg))
        except InvalidSignature:
            return 1
        return 0
    if op == "dsa-sign":
        bits, name, msg = rest
        msg = bytes.fromhex(msg)
        key = dsa.generate_private_key(int(bits))
        nums = key.private_numbers()
        pn = nums.public_numbers.parameter_numbers
        r, s = decode_dss_signature(key.sign(msg, algorithm(name, msg)))
        qlen = (pn.q.bit_length() + 7) // 8
        sig = r.to_bytes(qlen, "big") + s.to_bytes(qlen, "big")
        for v in (pn.p, pn.q, pn.g, nums.public_numbers.y, nums.x):
            print(format(v, "x"))
        print(sig.hex())
        return 0
    if op == "dh":
        p, g, peer = rest
        pn = dh.DHParameterNumbers(num(p), num(g))
        key = pn.parameters().generate_private_key()
        other = dh.DHPublicNumbers(num(peer), pn).public_key()
        print(format(key.public_key().public_numbers().y, "x"))
        print(key.exchange(other).hex())
        return 0
    print(f"unknown op {op}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
