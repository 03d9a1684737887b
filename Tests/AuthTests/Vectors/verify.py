#!/usr/bin/env python3
"""Verifies a compact JWS with Python's `cryptography`: verify.py PUBLIC_KEY_STRING TOKEN.

Prints the claims and exits 0 when the signature verifies under the key and the header's alg
matches the key type; exits 1 otherwise. Independent of the agent's implementation.
"""
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

def main():
    kind, der, *_ = sys.argv[1].split(":")
    key = serialization.load_der_public_key(base64.b64decode(der))
    header_b64, payload_b64, signature_b64 = sys.argv[2].split(".")
    header = json.loads(unb64url(header_b64))
    data, signature = f"{header_b64}.{payload_b64}".encode(), unb64url(signature_b64)
    expected = {"ed25519public": "EdDSA", "ecp256public": "ES256", "rsa2048public": "RS256"}[kind]
    if header.get("alg") != expected:
        sys.exit(1)
    if expected == "EdDSA":
        key.verify(signature, data)
    elif expected == "ES256":
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    else:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    print(json.dumps(json.loads(unb64url(payload_b64)), sort_keys=True))

if __name__ == "__main__":
    main()
