"""What the studio is handed: uploaded files and drawings, checked before any job uses them.

An upload is checked by the library's own reader (:func:`~neuroplay.vision.image.load_image`:
a non-image, a decompression bomb or a truncated file is a one-line
:class:`~neuroplay.common.errors.UserError`) after a size limit, then copied into the job's
folder, so the job reads its own copy and the folder records what it was made from.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from neuroplay.common.errors import UserError
from neuroplay.common.outputs import DEMO_PREFIX

MAX_UPLOAD_MB = 25  # a 24-megapixel JPEG is ~10 MB; the server refuses bigger requests (launch's max_file_size)
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 2**20
BUILTIN = "built-in: "  # how a dropdown names a built-in input ("built-in: chelsea" -> "demo:chelsea")


def upload_path(upload: Any) -> Path | None:
    """The file a Gradio upload component hands over (a path, or an object with ``.name``/``.path``)."""
    if upload is None or upload == "":
        return None
    for attr in ("path", "name"):
        if isinstance(getattr(upload, attr, None), str):
            return Path(getattr(upload, attr))
    if isinstance(upload, dict) and upload.get("path"):
        return Path(upload["path"])
    return Path(upload)


def check_upload(upload: Any, what: str) -> Path:
    """``upload`` (see :func:`upload_path`) if it is an image the library can read and within the
    size limit; else a :class:`UserError` that names ``what`` (``"the content image"``)."""
    path = upload_path(upload)
    if path is None:
        raise UserError(f"choose or upload {what}")
    from neuroplay.vision.image import load_image

    if not path.is_file():
        raise UserError(f"{what} did not arrive; upload it again")
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise UserError(f"{what} is {size / 2**20:.0f} MB; the studio takes images up to {MAX_UPLOAD_MB} MB")
    try:
        load_image(path)
    except UserError as exc:  # the library names the temporary file; the user knows the upload
        message = str(exc).replace(str(path), path.name)
        raise UserError(f"{what}: {message}") from None
    return path


def keep_upload(upload: Any, what: str, folder: Path, stem: str) -> str:
    """Check ``upload`` (:func:`check_upload`) and copy it into ``folder`` as ``STEM.SUFFIX``;
    the copy's path, which the job reads."""
    path = check_upload(upload, what)
    suffix = path.suffix.lower() if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".webp") else ".img"
    kept = folder / f"{stem}{suffix}"
    shutil.copyfile(path, kept)
    return str(kept)


def choice_spec(choice: str | None, upload: Any, what: str, folder: Path, stem: str) -> str:
    """An input given as an ``upload`` or, without one, a dropdown ``choice`` (``"built-in: NAME"``):
    the checked upload's copy in ``folder``, or a ``demo:NAME`` spec."""
    if upload_path(upload) is None and choice and choice.startswith(BUILTIN):
        return DEMO_PREFIX + choice[len(BUILTIN) :]
    return keep_upload(upload, what, folder, stem)


def builtin_choices(names: tuple[str, ...]) -> list[str]:
    """The dropdown entries for built-in inputs, then ``"upload"``."""
    return [BUILTIN + name for name in names] + ["upload"]


def drawing_layers(value: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """A sketchpad's value (``{"composite": H×W×3|4 array, ...}`` or an array) -> the drawing as
    ``H×W`` gray in [0, 1] (dark lines on white) and, when coloured strokes were drawn, the colour
    hints as an ``H×W×4`` RGBA layer (opaque where the strokes are). Dark, unsaturated strokes are
    lines; saturated ones are hints (the colour-hint brush)."""
    array = value.get("composite") if isinstance(value, dict) else value
    if array is None:
        raise UserError("draw something on the sketchpad (or upload a drawing) first")
    rgba = np.asarray(array)
    if rgba.ndim == 2:
        rgba = np.stack([rgba] * 3, axis=-1)
    if rgba.dtype != np.uint8:
        rgba = np.clip(rgba, 0, 255).astype(np.uint8)
    rgb = rgba[..., :3].astype(np.float32) / 255.0
    alpha = rgba[..., 3].astype(np.float32) / 255.0 if rgba.shape[-1] == 4 else np.ones(rgb.shape[:2], np.float32)
    rgb = rgb * alpha[..., None] + (1.0 - alpha[..., None])  # transparent paper is white
    saturation = rgb.max(axis=-1) - rgb.min(axis=-1)
    colored = (saturation > 0.25) & (alpha > 0.5)
    gray = rgb.mean(axis=-1)
    gray[colored] = 1.0  # a hint stroke is not a line
    hints = None
    if colored.any():
        hints = np.zeros((*gray.shape, 4), np.float32)
        hints[..., :3] = rgb
        hints[..., 3] = colored
    return gray.astype(np.float32), hints
