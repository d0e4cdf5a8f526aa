"""Writing small hand-made deliveries into a landing folder, for the ingest tests."""

from __future__ import annotations

from pathlib import Path


def delivery(landing: Path, source: str, day: str, files: dict[str, bytes], complete: bool = True) -> Path:
    folder = landing / source / day
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    if complete:
        (folder / "_SUCCESS").write_bytes(b"")
    return folder
