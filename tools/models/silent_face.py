"""Installs the Silent-Face MiniFASNet pair (Minivision, Apache-2.0) into
models/: the `_maxmul` ONNX files of `$FACEGATE_SHARED_DIR/models/silent_face`
(the project's reference conversion of the repository's PyTorch weights, see
that folder's README: PRelu rewritten as Max(x, a·x), bit-identical outputs,
about 1.9x faster on one core), their licence, their manifest entries and
their reference outputs (models/reference/<id>.json, synthetic cases).

The conversion itself (PyTorch 2.15 → ONNX, parity 4e-6 against PyTorch on
random and real crops) is documented in that README; this script checks the
files' SHA-256 against it, so a different file is refused.

Usage (Python with onnxruntime 1.32.0, onnx and numpy):
    python tools/models/silent_face.py          # install / refresh
    python tools/models/silent_face.py --check  # verify what is installed
"""

from __future__ import annotations

import argparse
import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort

from common import (LICENSES, MODELS, PREPROCESS_DOC, REFERENCE, SYNTHETIC_DOC, b64_f32, die, log,
                    sha256_f32, sha256_file, shared_dir, synthetic_input)

SOURCE_COMMIT = "b6d5f04ad78778917853b25c778acef6d5626d15"
LICENCE_FILE = "Apache-2.0.silent-face.txt"
LICENCE_SHA256 = "daf94bf1dc9cc5700fe5af2c7c0cbd1836e70d509ed78fd0bebef7432edee6fb"
LICENCE_ROW = (
    f"| `{LICENCE_FILE}` | the Silent-Face-Anti-Spoofing repository (Minivision), commit b6d5f04: LICENSE, "
    "via `$FACEGATE_SHARED_DIR/models/silent_face/LICENSE` (tools/models/silent_face.py) | Apache License 2.0 "
    "of Minivision's Silent-Face-Anti-Spoofing, the licence of the two MiniFASNet models |\n")
REL_TOL = 1e-4
SEEDS = [1, 2]

INPUT = {
    "name": "input", "shape": [1, 3, 80, 80], "dtype": "float32",
    "layout": "NCHW", "channels": "BGR", "range": [0.0, 255.0],
    "normalisation": "none: raw 0..255 pixels",
}

MODELS_TABLE = [
    {
        "id": "minifasnet-v2-80",
        "file": "minifasnet_v2_80.onnx",
        "shared_file": "minifasnet_v2_2.7_80x80_maxmul.onnx",
        "sha256": "de343a835d897909bb4fa55da00c4825e6a81429ad789c5fd98c003988517f7e",
        "weights": "resources/anti_spoof_models/2.7_80x80_MiniFASNetV2.pth",
        "weights_sha256": "a5eb02e1843f19b5386b953cc4c9f011c3f985d0ee2bb9819eea9a142099bec0",
        "scale": 2.7,
    },
    {
        "id": "minifasnet-v1se-80",
        "file": "minifasnet_v1se_80.onnx",
        "shared_file": "minifasnet_v1se_4.0_80x80_maxmul.onnx",
        "sha256": "0ff9d4a49799a605d64eb58880819a8f352e11a09fdd3dd38e3731f7ed13ff5e",
        "weights": "resources/anti_spoof_models/4_0_0_80x80_MiniFASNetV1SE.pth",
        "weights_sha256": "84ee1d37d96894d5e82de5a57df044ef80a58be2b218b5ed7cdfd875ec2f5990",
        "scale": 4.0,
    },
]


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def reference(m: dict) -> dict:
    s = session(MODELS / m["file"])
    cases = []
    for seed in SEEDS:
        x = synthetic_input("u8", INPUT["shape"], seed)
        (y,) = s.run(None, {"input": x})
        y = np.asarray(y, dtype=np.float32)
        cases.append({
            "name": f"synthetic-seed{seed}", "kind": "synthetic", "generator": "u8", "seed": seed,
            "input_shape": INPUT["shape"], "input_sha256": sha256_f32(x),
            "input_head": [float(v) for v in x.ravel()[:8]],
            "outputs": [{"name": "logits", "shape": list(y.shape), "dtype": "float32",
                         "max_abs": float(np.max(np.abs(y))), "head": [float(v) for v in y.ravel()[:8]],
                         "encoding": "base64 of little-endian float32, row-major", "data": b64_f32(y)}],
            "python_onnxruntime_max_rel": 0.0,
        })
    return {
        "model": m["id"],
        "file": m["file"],
        "model_sha256": m["sha256"],
        "generated_by": "tools/models/silent_face.py",
        "original_framework": (
            "Python onnxruntime 1.32.0 (CPU, 1 thread) on the committed file; the file's parity with "
            "the repository's PyTorch network (max abs logit difference 7.6e-6 on real crops, 4.3e-6 on "
            "random tensors) is documented in $FACEGATE_SHARED_DIR/models/silent_face/README.md"),
        "tolerance": {"metric": "for each output: max|onnx - ref| / max|ref|", "max_rel": REL_TOL},
        "input": INPUT,
        "preprocess": PREPROCESS_DOC,
        "synthetic_generator": SYNTHETIC_DOC,
        "cases": cases,
    }


def entry(m: dict) -> dict:
    model = onnx.load(str(MODELS / m["file"]))
    return {
        "id": m["id"],
        "file": m["file"],
        "sha256": m["sha256"],
        "bytes": (MODELS / m["file"]).stat().st_size,
        "description": (
            f"Silent-Face MiniFASNet{'V2' if 'v2' in m['id'] else 'V1SE'} passive anti-spoof classifier "
            f"(Minivision), 3 logits; softmax class 1 = real. Input: the detection box scaled {m['scale']}x "
            "(clamped to the image, shifted inside it), resized to 80x80"),
        "source": {
            "registry": "shared/models (the project's reference conversion)",
            "package": "minivision-ai/Silent-Face-Anti-Spoofing",
            "version": SOURCE_COMMIT,
            "path_in_package": [m["weights"]],
            "artefact": m["shared_file"],
            "artefact_sha256": m["sha256"],
            "weights_sha256": m["weights_sha256"],
        },
        "licence": "Apache-2.0",
        "licence_files": [f"LICENSES/{LICENCE_FILE}"],
        "licence_note": ("Apache-2.0, the repository's own LICENSE text (Copyright 2020 Minivision); the "
                         "training data of the released weights is undocumented."),
        "ships_by_default": True,
        "input": INPUT,
        "outputs": [{"name": "logits", "shape": [1, 3], "dtype": "float32",
                     "meaning": "3 logits, no softmax in the graph; class 1 = real, classes 0 and 2 attack types "
                                "(0 fires on printed photos, 2 on screen replays)"}],
        "onnx": {"ir_version": model.ir_version,
                 "opset": max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                 "producer": f"{model.producer_name} {model.producer_version}".strip()},
        "original_framework": "pytorch",
        "conversion": {
            "tool": "torch 2.15.0 TorchScript exporter (dynamo=False), opset 13; PRelu(x, a) rewritten as Max(x, Mul(x, a))",
            "script": "$FACEGATE_SHARED_DIR/models/silent_face/README.md (installed by tools/models/silent_face.py)",
            "command": f"copied unchanged from {m['shared_file']}",
        },
        "fidelity": {
            "compared_with": "PyTorch 2.15.0 CPU on 20 random and 20 real crops (shared conversion notes)",
            "max_abs": 7.6e-6,
            "tolerance": {"max_rel": REL_TOL},
        },
        "reference": f"reference/{m['id']}.json",
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    src = shared_dir() / "models" / "silent_face"
    for m in MODELS_TABLE:
        dest = MODELS / m["file"]
        if not args.check:
            p = src / m["shared_file"]
            if sha256_file(p) != m["sha256"]:
                die(f"{p}: not the file the conversion notes describe")
            shutil.copyfile(p, dest)
        if sha256_file(dest) != m["sha256"]:
            die(f"{dest}: wrong SHA-256")
    if not args.check:
        lic = src / "LICENSE"
        if sha256_file(lic) != LICENCE_SHA256:
            die(f"{lic}: not the repository's LICENSE")
        shutil.copyfile(lic, LICENSES / LICENCE_FILE)
        # manifest.py writes LICENSES/README.md; add this licence's row.
        readme = LICENSES / "README.md"
        text = readme.read_text()
        if LICENCE_FILE not in text:
            readme.write_text(text.rstrip("\n") + "\n" + LICENCE_ROW)
    manifest_path = MODELS / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    ids = {m["id"] for m in MODELS_TABLE}
    others = [e for e in manifest["models"] if e["id"] not in ids]
    manifest["models"] = others + [entry(m) for m in MODELS_TABLE]
    for m in MODELS_TABLE:
        ref = reference(m)
        path = REFERENCE / f"{m['id']}.json"
        if args.check:
            old = json.loads(path.read_text())
            for a, b in zip(old["cases"], ref["cases"]):
                if a["outputs"][0]["data"] != b["outputs"][0]["data"]:
                    die(f"{path}: outputs differ")
        else:
            path.write_text(json.dumps(ref, indent=1) + "\n")
        log(f"  {m['id']}: {len(ref['cases'])} reference cases")
    if not args.check:
        manifest_path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    log("silent-face models ok")


if __name__ == "__main__":
    main()
