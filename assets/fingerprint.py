"""What a delta step's kept results depend on besides its inputs: the code that computed them
and the libraries it ran on. A step that keeps last night's rows computes everything again when
this changes (staging, persons, clustering)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path


def code_fingerprint(files: Iterable[Path], packages: Iterable[str]) -> str:
    """16 hex characters over each file's name and bytes and each package's installed version."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for package in packages:
        digest.update(f"{package}=={version(package)}".encode())
    return digest.hexdigest()[:16]
