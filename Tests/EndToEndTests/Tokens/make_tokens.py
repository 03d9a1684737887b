#!/usr/bin/env python3
"""Makes JWTs in the two formats Etcha builds, with an implementation independent of the agent.

The claims follow Etcha's documentation: its April 2024 release (etchaRunVars, time claims as
integers, `exp` from a pattern's expiresInSec) and its current docs (etchaRunEnv from runEnv_
build events, a pattern with runEnv). Each token is signed with the Ed25519 key of Etcha's own
tutorial and expires in 2099. Run once with Python's `cryptography`; the output is committed, and
EtchaTokenTests pushes each token to a live agent.
"""
import base64, json
from cryptography.hazmat.primitives import serialization

TUTORIAL_PRIVATE = "MC4CAQAwBQYDK2VwBCIEIBq+BhDRYk8OJv1ksMwKtf0td5p3FGwypXq96gHKefGS"
ISSUED = 1767225600  # 2026-01-01
EXPIRES = 4102444800  # 2100-01-01


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(claims: dict) -> str:
    key = serialization.load_der_private_key(base64.b64decode(TUTORIAL_PRIVATE), None)
    header = {"alg": "EdDSA", "kid": "reqYEklgP4", "typ": "JWT"}
    signing_input = b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + b64url(
        json.dumps(claims, separators=(",", ":")).encode())
    return signing_input + "." + b64url(key.sign(signing_input.encode()))


TOKENS = {
    "etcha-v2024.04.jwt": {
        "iat": ISSUED, "nbf": ISSUED, "exp": EXPIRES,
        "etchaBuildManifest": "abc123\n", "etchaVersion": "v2024.04",
        "etchaRunVars": {"greeting": "hello from 2024"},
        "etchaPattern": {
            "entrypoint": "/patterns/old.jsonnet",
            "files": {
                "/lib/say.libsonnet": "{ say(text):: 'echo \"%s\" >> \"$DIR/ran\"' % text }\n",
                "/patterns/old.jsonnet": (
                    "local say = import '../lib/say.libsonnet';\n"
                    "local vars = std.native('getConfig')().vars;\n"
                    "{run: [{id: 'old', always: true, change: say.say(vars.greeting + ' ' + vars.source)}],"
                    " runExec: {command: '/bin/sh -c'}}\n"),
            },
        },
    },
    "etcha-current.jwt": {
        "iat": ISSUED + 1, "nbf": ISSUED + 1, "exp": EXPIRES,
        "iss": "ci", "sub": "app", "aud": ["fleet"], "jti": "current-1",
        "etchaBuildManifest": "def456\n", "etchaVersion": "v2025.01",
        "etchaRunVars": {"greeting": "hello now"},
        "etchaRunEnv": {"BUILT": "at build"},
        "etchaPattern": {
            "entrypoint": "/main.jsonnet",
            "files": {
                "/main.jsonnet": (
                    "local vars = std.native('getConfig')().vars;\n"
                    "{run: [{id: 'new', always: true,"
                    " change: 'echo \"%s $BUILT $PATTERN\" >> \"$DIR/ran\"' % vars.greeting}],"
                    " runEnv: {PATTERN: 'from runEnv'}}\n"),
            },
        },
    },
}

if __name__ == "__main__":
    for name, claims in TOKENS.items():
        with open(name, "w") as out:
            out.write(sign(claims) + "\n")
