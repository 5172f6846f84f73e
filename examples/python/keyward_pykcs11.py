#!/usr/bin/env python3
"""Keyward from Python with PyKCS11 (Debian: python3-pykcs11).

Loads the module, logs in as the user, generates an EC P-256 key pair in
the token, signs a message with CKM_ECDSA_SHA256 inside the token and
verifies the signature (and that a tampered message fails), printing each
step. The private key never leaves the token: it is CKA_SENSITIVE and not
extractable.

    python3 keyward_pykcs11.py --module /path/to/libkeyward.so --pin 1234

--module and --pin default to $PYKCS11LIB and $PYKCS11PIN (the variables
PyKCS11's own samples use), which keeps the PIN off the command line.
--export DIR also writes the public key (pub.der, SubjectPublicKeyInfo),
the message (msg.bin) and the signature (sig.der, X9.62 DER) so that
another program can check it: openssl dgst -sha256 -verify ...
"""

import argparse
import os
import sys

import PyKCS11
from PyKCS11 import (
    CKA_CLASS, CKA_EC_PARAMS, CKA_EC_POINT, CKA_EXTRACTABLE, CKA_ID,
    CKA_KEY_TYPE, CKA_LABEL, CKA_PRIVATE, CKA_SENSITIVE, CKA_SIGN,
    CKA_TOKEN, CKA_VERIFY, CKF_RW_SESSION, CKK_EC, CKM_ECDSA_SHA256,
    CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CK_FALSE, CK_TRUE,
    MechanismECGENERATEKEYPAIR, PyKCS11Error,
)

# DER of the OID prime256v1 (1.2.840.10045.3.1.7), the value of CKA_EC_PARAMS.
P256_PARAMS = bytes.fromhex("06082a8648ce3d030107")
# SubjectPublicKeyInfo header for an uncompressed P-256 point (65 bytes).
P256_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")


def step(text):
    print(f"== {text}", flush=True)


def ec_point(attr):
    """The raw uncompressed point from CKA_EC_POINT (a DER OCTET STRING)."""
    data = bytes(attr)
    if len(data) == 67 and data[0] == 0x04 and data[1] == 0x41:
        return data[2:]
    raise ValueError(f"CKA_EC_POINT is not a DER OCTET STRING of a P-256 point: {data.hex()}")


def der_signature(raw):
    """PKCS#11 ECDSA signatures are r || s; X.509 tools want DER."""
    def der_int(b):
        b = b.lstrip(b"\x00") or b"\x00"
        if b[0] & 0x80:
            b = b"\x00" + b
        return bytes([0x02, len(b)]) + b
    half = len(raw) // 2
    body = der_int(raw[:half]) + der_int(raw[half:])
    return bytes([0x30, len(body)]) + body


def find_slot(lib, label):
    for slot in lib.getSlotList(tokenPresent=True):
        info = lib.getTokenInfo(slot)
        if label is None or info.label.strip() == label:
            return slot, info
    sys.exit(f"FAILED: no token{'' if label is None else ' labelled ' + repr(label)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", default=os.environ.get("PYKCS11LIB"),
                        help="path of libkeyward.so (default: $PYKCS11LIB)")
    parser.add_argument("--pin", default=os.environ.get("PYKCS11PIN"),
                        help="user PIN (default: $PYKCS11PIN)")
    parser.add_argument("--token", help="token label (default: the first token)")
    parser.add_argument("--label", default="python-ec", help="label of the new key pair")
    parser.add_argument("--export", metavar="DIR",
                        help="write pub.der, msg.bin and sig.der into DIR")
    args = parser.parse_args()
    if not args.module or not args.pin:
        parser.error("--module and --pin are required (or $PYKCS11LIB and $PYKCS11PIN)")

    step(f"load {args.module}")
    lib = PyKCS11.PyKCS11Lib()
    lib.load(args.module)
    info = lib.getInfo()
    print(f"library: {info.manufacturerID.strip()} / {info.libraryDescription.strip()}, "
          f"Cryptoki {info.cryptokiVersion[0]}.{info.cryptokiVersion[1]}")

    slot, token = find_slot(lib, args.token)
    print(f"slot {slot}: token {token.label.strip()!r}, serial {token.serialNumber.strip()}")

    step("open a read-write session and log in")
    session = lib.openSession(slot, CKF_RW_SESSION)
    session.login(args.pin)
    print("logged in as user")

    step("generate an EC P-256 key pair in the token (CKM_EC_KEY_PAIR_GEN)")
    key_id = os.urandom(8)
    common = [(CKA_TOKEN, CK_TRUE), (CKA_LABEL, args.label), (CKA_ID, key_id),
              (CKA_KEY_TYPE, CKK_EC)]
    public_template = common + [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_VERIFY, CK_TRUE),
                                (CKA_EC_PARAMS, P256_PARAMS)]
    private_template = common + [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_SIGN, CK_TRUE),
                                 (CKA_PRIVATE, CK_TRUE), (CKA_SENSITIVE, CK_TRUE),
                                 (CKA_EXTRACTABLE, CK_FALSE)]
    pub, priv = session.generateKeyPair(public_template, private_template,
                                        mecha=MechanismECGENERATEKEYPAIR)
    point = ec_point(session.getAttributeValue(pub, [CKA_EC_POINT])[0])
    print(f"key {args.label!r}, id {key_id.hex()}, public point {point.hex()}")
    sensitive, extractable = session.getAttributeValue(priv, [CKA_SENSITIVE, CKA_EXTRACTABLE])
    print(f"private key: sensitive={bool(sensitive)}, extractable={bool(extractable)}")
    if not sensitive or extractable:
        sys.exit("FAILED: the private key could leave the token")

    message = b"signed by a key that never leaves Keyward"
    mechanism = PyKCS11.Mechanism(CKM_ECDSA_SHA256, None)
    step("sign with CKM_ECDSA_SHA256")
    signature = bytes(session.sign(priv, message, mechanism))
    print(f"signature ({len(signature)} bytes, r || s): {signature.hex()}")

    step("verify the signature with the token's public key")
    if not session.verify(pub, message, signature, mechanism):
        sys.exit("FAILED: the token rejects its own signature")
    print("signature valid")
    if session.verify(pub, message + b"!", signature, mechanism):
        sys.exit("FAILED: a tampered message verifies")
    print("tampered message rejected")

    if args.export:
        step(f"export public key, message and signature to {args.export}")
        for name, data in (("pub.der", P256_SPKI_PREFIX + point), ("msg.bin", message),
                           ("sig.der", der_signature(signature))):
            with open(os.path.join(args.export, name), "wb") as out:
                out.write(data)
        print("wrote pub.der, msg.bin, sig.der")

    step("log out and close the session")
    session.logout()
    session.closeSession()
    print("done")


if __name__ == "__main__":
    try:
        main()
    except PyKCS11Error as err:
        sys.exit(f"FAILED: PKCS#11 error: {err}")
    except ValueError as err:
        sys.exit(f"FAILED: {err}")
