#!/usr/bin/env python3
"""Makes JWT test vectors with an implementation independent of the agent (Python's `cryptography`).

Signs tokens with the Etcha tutorial Ed25519 key and with fresh ES256 and RS256 keys, and writes
them, with the public key strings, to vectors.json. Run once; the output is committed. The tests
also call `verify.py` to check tokens the agent signs.
"""
import base64, json, time
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

TUTORIAL_PRIVATE = "MC4CAQAwBQYDK2VwBCIEIBq+BhDRYk8OJv1ksMwKtf0td5p3FGwypXq96gHKefGS"

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def public_string(kind: str, key, kid: str) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"{kind}public:{base64.b64encode(der).decode()}:{kid}"

def sign(alg: str, key, kid: str, claims: dict) -> str:
    header = {"alg": alg, "kid": kid, "typ": "JWT"}
    signing_input = b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + b64url(
        json.dumps(claims, separators=(",", ":")).encode())
    data = signing_input.encode()
    if alg == "EdDSA":
        signature = key.sign(data)
    elif alg == "ES256":
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(signature)

def main():
    now = int(time.time())
    claims = {
        "iat": now, "nbf": now, "iss": "python", "sub": "vectors", "aud": ["fleet"], "jti": "vector-1",
        "etchaPattern": {"entrypoint": "/main.jsonnet", "files": {"/main.jsonnet": "{run: [{id: 'vector', always: true, change: 'echo python'}]}"}},
        "etchaRunVars": {}, "etchaBuildManifest": "", "etchaVersion": "python",
    }
    tutorial = serialization.load_der_private_key(base64.b64decode(TUTORIAL_PRIVATE), None)
    p256 = ec.generate_private_key(ec.SECP256R1())
    rsa2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    vectors = [
        {"alg": "EdDSA", "publicKey": public_string("ed25519", tutorial, "reqYEklgP4"), "token": sign("EdDSA", tutorial, "reqYEklgP4", claims)},
        {"alg": "ES256", "publicKey": public_string("ecp256", p256, "p256"), "token": sign("ES256", p256, "p256", claims)},
        {"alg": "RS256", "publicKey": public_string("rsa2048", rsa2048, "rsa"), "token": sign("RS256", rsa2048, "rsa", claims)},
    ]
    with open("vectors.json", "w") as out:
        json.dump(vectors, out, indent=2)

if __name__ == "__main__":
    main()
