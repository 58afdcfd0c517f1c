"""The OCR models of the document engine (crates/documents): PaddleOCR's
PP-OCRv4 text detection and recognition, shipped as ONNX inside the PyPI
wheel rapidocr-onnxruntime, installed into models/ unchanged.

    ocr.py            install the two files (byte-identical to the wheel's),
                      check them, write .work/ocr.json (their manifest
                      entries) and merge those entries, their licence and
                      their table rows into models/ (manifest.json,
                      LICENSES/, README.md) without touching the other models
    ocr.py --replace  take the wheel's files even where they differ from
                      the committed ones

Checks: each file equals the wheel's (SHA-256); the recognition model's
character list (ONNX metadata "character") equals PaddleOCR's own
ppocr_keys_v1.txt from the paddleocr wheel, and holds every character of a
machine-readable zone; onnxruntime loads both and their outputs have the
documented shapes on a seeded input. Needs fetch.py's
`rapidocr-onnxruntime` and `paddleocr` sources and a Python with numpy, onnx
and onnxruntime (build.sh's .venv)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys

import numpy as np
import onnx

from common import LICENSES, MODELS, SRC, WORK, die, load_sources, log, sha256_file

MRZ_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<"
LICENCE_FILE = "Apache-2.0.paddleocr.txt"
LICENCE_SOURCE = ("paddleocr", "paddleocr-2.10.0.dist-info/LICENSE")
LICENCE_WHAT = (
    "Apache License 2.0 of PaddleOCR (PaddlePaddle Authors), who trained the PP-OCRv4 models; "
    "rapidocr-onnxruntime, the wheel the ONNX files come from, declares Apache-2.0 in its METADATA but ships no licence text"
)
LICENCE_NOTE = (
    "PaddleOCR's PP-OCRv4 models (Apache-2.0, PaddlePaddle Authors), converted to ONNX and redistributed by "
    "RapidOCR in the PyPI wheel rapidocr-onnxruntime, whose METADATA declares \"License: Apache-2.0\" (its "
    "source files carry the Apache-2.0 header) but which ships no licence text; the Apache-2.0 text here is "
    "PaddleOCR's own, from the paddleocr wheel."
)

OCR_TABLE = [
    {
        "id": "ppocr-det-v4",
        "file": "ppocr_det_v4.onnx",
        "path_in_package": "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        "description": "PaddleOCR PP-OCRv4 mobile text detector (DB, Differentiable Binarization): a per-pixel text probability map at the input's resolution; text lines are the connected regions above 0.3, each box grown by area x 1.6 / perimeter (DB's unclip)",
        "input": {
            "name": "x", "shape": [1, 3, "H", "W"], "example_shape": [1, 3, 96, 320], "dtype": "float32", "layout": "NCHW", "channels": "BGR",
            "range": [-1.0, 1.0], "normalisation": "(x / 255 - 0.5) / 0.5 (x = 0..255 pixel); H and W multiples of 32",
        },
        "outputs": {"sigmoid_0.tmp_0": "[1, 1, H, W] probability that the pixel is text (DB shrink map)"},
    },
    {
        "id": "ppocr-rec-v4",
        "file": "ppocr_rec_v4.onnx",
        "path_in_package": "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
        "description": "PaddleOCR PP-OCRv4 mobile text recogniser (SVTR-LCNet, CTC; Chinese and Latin): one text line, height 48, any width, to per-frame class probabilities (one frame per 8 input columns)",
        "input": {
            "name": "x", "shape": [1, 3, 48, "W"], "example_shape": [1, 3, 48, 320], "dtype": "float32", "layout": "NCHW", "channels": "BGR",
            "range": [-1.0, 1.0], "normalisation": "(x / 255 - 0.5) / 0.5 (x = 0..255 pixel); the line resized to height 48",
        },
        "outputs": {"softmax_11.tmp_0": "[1, W / 8, 6625] softmax per frame: class 0 is the CTC blank, 1..6623 the model's character list in order, 6624 a space"},
    },
]


def characters(model: onnx.ModelProto) -> list[str]:
    for p in model.metadata_props:
        if p.key == "character":
            return p.value.split("\n")
    die("the recognition model has no 'character' metadata")


def install(replace: bool) -> None:
    MODELS.mkdir(parents=True, exist_ok=True)
    for m in OCR_TABLE:
        src = SRC / "rapidocr-onnxruntime" / m["path_in_package"]
        if not src.exists():
            die(f"{src} missing: run fetch.py rapidocr-onnxruntime paddleocr")
        dest = MODELS / m["file"]
        if not dest.exists():
            shutil.copyfile(src, dest)
            log(f"  {m['file']}: new")
        elif sha256_file(dest) == sha256_file(src):
            log(f"  {m['file']}: identical to the package's file")
        elif replace:
            shutil.copyfile(src, dest)
            log(f"  {m['file']}: REPLACED (--replace)")
        else:
            die(f"{m['file']} differs from the package's file (--replace takes the package's)")


def check() -> dict:
    import onnxruntime as ort

    rec = onnx.load(str(MODELS / "ppocr_rec_v4.onnx"))
    chars = characters(rec)
    keys = (SRC / "paddleocr" / "paddleocr/ppocr/utils/ppocr_keys_v1.txt").read_text(encoding="utf-8").splitlines()
    if chars != keys:
        die("the recognition model's character list differs from paddleocr's ppocr_keys_v1.txt")
    missing = [c for c in MRZ_ALPHABET if c not in chars]
    if missing:
        die(f"the recognition model cannot emit {missing}")
    log(f"  character list: {len(chars)} entries, equal to paddleocr 2.10.0 ppocr_keys_v1.txt, holds the 37 MRZ characters")

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    rng = np.random.default_rng(20260611)
    det = ort.InferenceSession(str(MODELS / "ppocr_det_v4.onnx"), so, providers=["CPUExecutionProvider"])
    y = det.run(None, {"x": rng.uniform(-1, 1, (1, 3, 64, 96)).astype(np.float32)})[0]
    if y.shape != (1, 1, 64, 96) or not (0 <= y.min() and y.max() <= 1):
        die(f"detector output {y.shape} [{y.min()}, {y.max()}] is not a probability map of the input's size")
    recs = ort.InferenceSession(str(MODELS / "ppocr_rec_v4.onnx"), so, providers=["CPUExecutionProvider"])
    y = recs.run(None, {"x": rng.uniform(-1, 1, (1, 3, 48, 320)).astype(np.float32)})[0]
    if y.shape != (1, 40, len(chars) + 2) or abs(float(y.sum(-1).mean()) - 1) > 1e-3:
        die(f"recogniser output {y.shape} is not [1, 40, {len(chars) + 2}] softmax frames")
    log("  onnxruntime: detector [1,1,H,W] probabilities, recogniser [1,W/8,6625] softmax frames")
    return {
        "count": len(chars),
        "sha256": hashlib.sha256("\n".join(chars).encode("utf-8")).hexdigest(),
        "mrz_indices": {c: chars.index(c) + 1 for c in MRZ_ALPHABET},
    }


def entries(chars: dict) -> list[dict]:
    from manifest import onnx_io

    s = load_sources()["rapidocr-onnxruntime"]
    out = []
    for m in OCR_TABLE:
        path = MODELS / m["file"]
        ins, outs, meta = onnx_io(path)
        for o in outs:
            o["meaning"] = m["outputs"][o["name"]]
        entry = {
            "id": m["id"],
            "file": m["file"],
            "sha256": sha256_file(path),
            "bytes": path.stat().st_size,
            "description": m["description"],
            "source": {"registry": s["registry"], "package": s["package"], "version": s["version"],
                       "path_in_package": [m["path_in_package"]], "artefact": s["file"], "artefact_sha256": s["sha256"]},
            "licence": "Apache-2.0",
            "licence_files": [f"LICENSES/{LICENCE_FILE}"],
            "licence_note": LICENCE_NOTE,
            "ships_by_default": True,
            "input": m["input"],
            "outputs": outs,
            "onnx": meta,
            "original_framework": "onnx-shipped",
            "conversion": {"tool": "none", "script": "tools/models/ocr.py",
                           "command": f"copied unchanged from the package ({m['path_in_package']})"},
            "fidelity": {"compared_with": "the file is the original: byte-identical to the package's ONNX (sha256 checked by ocr.py)",
                         "max_abs": 0.0, "max_rel": 0.0, "tolerance": {"max_rel": 0.0}},
            "reference": None,
        }
        if m["id"] == "ppocr-rec-v4":
            entry["characters"] = {
                "source": "the model's ONNX metadata property 'character', one character per line",
                "count": chars["count"],
                "sha256": chars["sha256"],
                "equals": "paddleocr 2.10.0 (PyPI) paddleocr/ppocr/utils/ppocr_keys_v1.txt",
                "classes": "output class 0 = CTC blank, class i (1..count) = character i-1, class count+1 = space",
                "mrz_classes": chars["mrz_indices"],
            }
        out.append(entry)
    return out


def merge(new: list[dict]) -> None:
    """Puts the OCR entries, their licence and table rows into models/."""
    from manifest import readme_tables

    LICENSES.mkdir(parents=True, exist_ok=True)
    key, path = LICENCE_SOURCE
    shutil.copyfile(SRC / key / path, LICENSES / LICENCE_FILE)
    readme = LICENSES / "README.md"
    s = load_sources()[key]
    row = f"| `{LICENCE_FILE}` | {s['registry']} {s['package']} {s['version']}: {path} | {LICENCE_WHAT} |"
    lines = [l for l in readme.read_text().splitlines() if not l.startswith(f"| `{LICENCE_FILE}`")]
    readme.write_text("\n".join(lines + [row]) + "\n")

    man_path = MODELS / "manifest.json"
    man = json.loads(man_path.read_text())
    ids = {e["id"] for e in new}
    man["models"] = [e for e in man["models"] if e["id"] not in ids] + new
    man_path.write_text(json.dumps(man, indent=1, ensure_ascii=False) + "\n")
    log(f"  -> models/manifest.json ({len(man['models'])} models)")
    readme = MODELS / "README.md"
    text = readme.read_text()
    updated = re.sub(r"(<!-- table:begin -->\n).*?(<!-- table:end -->)",
                     lambda mt: mt.group(1) + readme_tables(man) + "\n" + mt.group(2), text, flags=re.S)
    if updated != text:
        readme.write_text(updated)
        log("  -> models/README.md table updated")


def main() -> None:
    install("--replace" in sys.argv[1:])
    chars = check()
    new = entries(chars)
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "ocr.json").write_text(json.dumps(new, indent=1, ensure_ascii=False) + "\n")
    merge(new)


if __name__ == "__main__":
    main()
