"""What made a stage's output, and the one test of "is this the same run?".

A stage records, beside its output, a JSON manifest: its *identity* (the settings and input hashes that
made the output, e.g. ``{"version", "input_hash", "options"}`` for build, ``{"config", "data_hash"}`` for
training, ``{"hash"}`` for a pipeline stage), counts and anything else it wants kept, and the fingerprint
of its output files. ``why_stale`` says why a manifest does not vouch for the output (other settings or
inputs, a file deleted or edited), or None: then the stage skips; otherwise it redoes the work or refuses
to mix. An evaluation's ``config.json`` and augment's per-line ``teacher``/``params`` are identities
compared the same way (``difference``), because those folders grow by resuming rather than being redone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from redistill.fingerprint import changed, fingerprint
from redistill.jsonl import write_json


def read_manifest(path: str | Path) -> dict | None:
    """The manifest at ``path``, or None when it is missing or unreadable (a stage then redoes its work)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _without(value: Any, ignore: frozenset[str]) -> Any:
    return {k: v for k, v in value.items() if k not in ignore} if isinstance(value, dict) and ignore else value


def difference(recorded: dict, identity: dict, ignore: frozenset[str] = frozenset(),
               missing_ok: bool = False) -> str | None:
    """The first key of ``identity`` whose recorded value differs (keys in ``ignore`` are skipped, also
    inside dict values); ``missing_ok``: a key the record lacks (a field added since) is no difference."""
    for key, value in identity.items():
        if key in ignore or (missing_ok and key not in recorded):
            continue
        if _without(recorded.get(key), ignore) != _without(value, ignore):
            return key
    return None


def why_stale(path: str | Path, identity: dict, outputs: list[Path] | None = None, root: Path | None = None,
              ignore: frozenset[str] = frozenset()) -> str | None:
    """Why the manifest at ``path`` does not vouch for ``outputs`` (under ``root``) made with ``identity``;
    None when it does. Without ``outputs`` only the identity is compared."""
    manifest = read_manifest(path)
    if manifest is None:
        return "no manifest"
    key = difference(manifest, identity, ignore)
    if key is not None:
        return f"made with another {key}"
    if outputs is None:
        return None
    if not isinstance(manifest.get("outputs"), dict):
        return "its outputs were not recorded"  # a manifest from before outputs were: redo once to be sure
    return changed(manifest["outputs"], outputs, root or Path(path).parent)


def write_manifest(path: str | Path, identity: dict, outputs: list[Path] | None = None, root: Path | None = None,
                   **extra: Any) -> dict:
    """Write the identity, the extra fields and the outputs' fingerprint (written last by the stage: its
    presence means the stage finished); returns what was written."""
    manifest = {**identity, **extra}
    if outputs is not None:
        manifest["outputs"] = fingerprint(outputs, root or Path(path).parent)
    write_json(path, manifest)
    return manifest
