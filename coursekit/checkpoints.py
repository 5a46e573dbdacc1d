"""The model files that ship with coursekit (the digits diffusion models, unit 07's flow models, the DCGAN):
written atomically with float16 weights, read back only after their SHA-256 and their record are checked, so a
damaged or swapped file is one clear ValueError naming it, before torch reads any weight.

A file holds one dict, ``{"kind": KIND, "config": ..., "state_dict": ..., ...}``; ``kind`` says which loader it
belongs to (a DCGAN file given to the diffusion loader is refused by name, not by a shape mismatch).
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import torch
from torch import Tensor, nn


def half_state(module: nn.Module) -> dict[str, Tensor]:
    """The module's weights and buffers on the CPU, floating-point ones in float16 (half the file size; the
    course's small networks sample the same to within their seed-to-seed spread)."""
    return {k: (v.half() if v.is_floating_point() else v).cpu() for k, v in module.state_dict().items()}


def float_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A stored state dict back in float32 (integer buffers such as BatchNorm's step count stay as they are)."""
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def save_record(path: str | Path, record: dict) -> Path:
    """Write ``record`` to ``path`` atomically: a failed or interrupted write leaves an earlier file untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(record, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_record(path: str | Path, kind: str, what: str, sha256: str | None = None, missing: str = "") -> dict:
    """The dict stored at ``path`` by :func:`save_record`, checked: the file exists (else ``missing`` says where
    such files come from), its SHA-256 equals ``sha256`` (None skips the check), torch can read it with
    ``weights_only=True``, and its ``kind`` is ``kind``. Each failure is a ValueError naming the path and
    ``what`` the file should have been."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path {str(path)!r} is not a file" + (f" ({missing})" if missing else ""))
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None and digest != sha256:
        raise ValueError(f"path {str(path)!r} has SHA-256 {digest}, expected {sha256}: the file was changed or "
                         "damaged; restore it from git or reinstall coursekit")
    try:
        record = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:          # noqa: BLE001 — torch raises many types for a damaged file
        raise ValueError(f"path {str(path)!r} is not {what} (unreadable)") from err
    if not isinstance(record, dict) or record.get("kind") != kind:
        raise ValueError(f"path {str(path)!r} is not {what} (no {kind!r} record)")
    return record
