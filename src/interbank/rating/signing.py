"""Ed25519 keys of the agency's raters: make, save, load, sign, check.

A rater keeps the private key in a file only they can read; the agency store keeps
only public keys. Keys are PEM (PKCS #8) so that standard tools read them too.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PUBLIC_KEY_HEX_CHARS = 64
_KEY_FILE_BYTES_MAX = 4096


class KeyFileError(ValueError):
    """A key file or public key that cannot be used."""


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def save_private_key(key: Ed25519PrivateKey, path: str | Path) -> None:
    """Write the key for its owner only (0600); refuse to overwrite a key file."""
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    file = Path(path)
    if file.stat().st_size > _KEY_FILE_BYTES_MAX:
        raise KeyFileError(f"{file}: too large for a key file")
    try:
        key = serialization.load_pem_private_key(file.read_bytes(), password=None)
    except (ValueError, TypeError) as error:
        raise KeyFileError(f"{file}: not an unencrypted PEM private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{file}: not an Ed25519 key")
    return key


def public_key_hex(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def check_public_key_hex(text: str) -> str:
    """The key in lower-case hex, or KeyFileError when it is not 32 bytes of hex."""
    if not isinstance(text, str) or len(text) != PUBLIC_KEY_HEX_CHARS:
        raise KeyFileError(f"a public key is {PUBLIC_KEY_HEX_CHARS} hex digits")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
    except ValueError:
        raise KeyFileError(f"{text!r} is not an Ed25519 public key in hex") from None
    return text.lower()


def signature_holds(public_hex: str, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
