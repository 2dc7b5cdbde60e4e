"""A content hash of each checkpoint's weights file, for the run's identity (a resume must use the same weights).

Hashing a multi-GB file takes seconds, so the SHA-256 is cached by (absolute path, size, mtime in ns) in
``$HENS_CACHE_DIR/weights-sha256.json`` (default ``~/.cache/hens``); replacing the file — even by one of the
same size — changes its mtime and so its hash is computed again.  An unwritable cache only costs the re-hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

_BLOCK = 1 << 24  # bytes read at a time (16 MiB)


def _cache_file() -> Path:
    return Path(os.environ.get("HENS_CACHE_DIR") or Path.home() / ".cache" / "hens") / "weights-sha256.json"


def _read_cache(path: Path) -> dict[str, str]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return {}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_sha256(path: Path) -> str:
    """SHA-256 of a weights file, from the cache when its path, size and mtime are unchanged."""
    path = Path(path).resolve()
    stat = path.stat()
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    cache_path = _cache_file()
    cache = _read_cache(cache_path)
    if key in cache:
        return cache[key]
    value = file_sha256(path)
    cache = {k: v for k, v in cache.items() if not k.startswith(f"{path}|")}
    cache[key] = value
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_name(f".{cache_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=1, sort_keys=True))
        os.replace(tmp, cache_path)
    except OSError:
        pass  # no cache: hashed again next time
    return value
