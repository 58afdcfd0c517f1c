"""Writes models/reference/<model-id>.json: inputs and the ORIGINAL
framework's outputs, for the Rust parity tests (format:
models/reference/README.md).

Per model two cases:
- "lfw": one LFW image (path relative to $FACEGATE_SHARED_DIR/data/lfw; the
  image itself is never committed) plus the exact preprocessing, so a test can
  rebuild the input when ../shared is present; input_sha256 lets it confirm
  that its decoder and preprocessing produced the same tensor. The JPEG is
  decoded by the Rust `image` crate (tools/models/rgbdump), the decoder the
  server uses: pure-Rust decoders do not reproduce libjpeg-turbo's pixels.
- "synthetic": a SplitMix64-generated tensor that any language can rebuild
  bit-exactly from the seed (no data needed).

Outputs are stored whole, as base64 little-endian float32.

--check recomputes the committed ONNX files' outputs with onnxruntime on
inputs rebuilt from the JSON description alone (as the Rust tests do) and
compares them with the stored outputs within the stored tolerance.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json

import numpy as np

from common import (MODEL_TABLE, MODELS, PREPROCESS_DOC, REFERENCE, RUST_DECODER, SRC, SYNTHETIC_DOC,
                    OrtRunner, b64_f32, decode_rgb_rust, die, image_to_input, lfw_dir, log, original_runner, rel_err, sha256_f32,
                    sha256_file, synthetic_input)
from verify import DLIB_COS_MIN, DLIB_L2_MAX, REL_TOL

LFW_IMAGE = "lfw-deepfunneled/George_W_Bush/George_W_Bush_0007.jpg"
SEED = 1

FRAMEWORK = {
    "tflite": "TensorFlow Lite interpreter (tf.lite.Interpreter, tensorflow-cpu 2.15.1, num_threads=1) on the package's .tflite file",
    "tf-rebuild": "TensorFlow 2.15.1 (tensorflow-cpu) eager run of the FaceRecognitionNet rebuilt from face-api.js's weights (tools/models/faceapi_dlib.py), the graph that was exported",
    "onnx-shipped": "the package's own ONNX file run by Python onnxruntime 1.32.0 (CPU, 1 thread): the model is shipped as ONNX, so this file is the original",
}


def head(a: np.ndarray, n: int = 8) -> list[float]:
    return [float(v) for v in np.asarray(a, dtype=np.float32).ravel()[:n]]


def tensor_json(name: str, a: np.ndarray) -> dict:
    a = np.asarray(a, dtype=np.float32)
    return {"name": name, "shape": list(a.shape), "dtype": "float32", "max_abs": float(np.max(np.abs(a))),
            "head": head(a), "encoding": "base64 of little-endian float32, row-major", "data": b64_f32(a)}


def decode_tensor(t: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(t["data"]), dtype="<f4").reshape(t["shape"])


def lfw_case_input(m, case: dict, lfw) -> np.ndarray:
    """Rebuilds the LFW input from the case description only."""
    p = lfw / case["lfw_path"]
    if sha256_file(p) != case["file_sha256"]:
        die(f"{p}: not the file the reference was made from")
    rgb = decode_rgb_rust(p)
    if hashlib.sha256(rgb.tobytes()).hexdigest() != case["rgb_sha256"]:
        die(f"{p}: decoded pixels differ from the reference's decoder")
    return image_to_input(m, rgb)


def make(m, lfw) -> dict:
    orig = original_runner(m)
    ort = OrtRunner(MODELS / m.file)
    cases = []
    if lfw is not None:
        p = lfw / LFW_IMAGE
        rgb = decode_rgb_rust(p)
        cases.append(("lfw", {
            "name": "lfw", "kind": "lfw", "lfw_path": LFW_IMAGE,
            "lfw_root": "$FACEGATE_SHARED_DIR/data/lfw (default ../shared/data/lfw from the repository root)",
            "file_sha256": sha256_file(p), "decoder": RUST_DECODER,
            "rgb_sha256": hashlib.sha256(rgb.tobytes()).hexdigest(),
            "image_size": [int(rgb.shape[1]), int(rgb.shape[0])],
            "crop": m.crop, "size": m.hw, "channels": m.input["channels"], "layout": m.input["layout"], "norm": m.norm,
        }, image_to_input(m, rgb)))
    else:
        log(f"  NOTE: no LFW: {m.id} reference gets the synthetic case only")
    cases.append(("synthetic", {
        "name": f"synthetic-seed{SEED}", "kind": "synthetic", "generator": m.synthetic, "seed": SEED,
    }, synthetic_input(m.synthetic, m.input["shape"], SEED)))

    out_cases = []
    for kind, desc, x in cases:
        ref = orig(x)
        got = ort(x)
        outputs = [tensor_json(k, ref[k]) for k in ort.out_names]
        worst = max(rel_err(got[k], ref[k])[1] for k in ort.out_names)
        desc.update({"input_shape": list(x.shape), "input_sha256": sha256_f32(x), "input_head": head(x),
                     "outputs": outputs,
                     "python_onnxruntime_max_rel": worst})
        if m.id == "dlib-resnet-128":
            desc["dlib"] = dlib_reference(x)
        out_cases.append(desc)
        log(f"  {m.id:20s} {desc['name']:16s} onnxruntime vs original max rel {worst:.2e}")
    return {
        "model": m.id,
        "file": m.file,
        "model_sha256": sha256_file(MODELS / m.file),
        "generated_by": "tools/models/make_reference.py (run by tools/models/build.sh)",
        "original_framework": FRAMEWORK[m.original],
        "tolerance": {"metric": "for each output: max|onnx - ref| / max|ref|", "max_rel": REL_TOL},
        "input": m.input,
        "preprocess": PREPROCESS_DOC,
        "synthetic_generator": SYNTHETIC_DOC,
        "cases": out_cases,
    }


def dlib_reference(x: np.ndarray) -> dict:
    """dlib's own network on the same chip (the ONNX carries face-api's uint8
    quantisation of dlib's weights, hence a cosine/L2 tolerance)."""
    import dlib

    dat = SRC / "face-recognition-models" / "face_recognition_models-0.3.0/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat"
    net = dlib.face_recognition_model_v1(str(dat))
    d = np.array(net.compute_face_descriptor(np.ascontiguousarray(x[0].astype(np.uint8))), dtype=np.float32)
    return {"framework": f"dlib {dlib.__version__} (PyPI dlib-bin) with dlib_face_recognition_resnet_model_v1.dat from PyPI face-recognition-models 0.3.0, compute_face_descriptor(chip)",
            "descriptor": tensor_json("descriptor", d[None]),
            "tolerance": {"cos_min": DLIB_COS_MIN, "l2_max": DLIB_L2_MAX}}


def check(m, lfw) -> None:
    path = REFERENCE / f"{m.id}.json"
    if not path.exists():
        die(f"{path} missing: run make_reference.py")
    ref = json.loads(path.read_text())
    if ref["model_sha256"] != sha256_file(MODELS / m.file):
        die(f"{path.name}: made for another {m.file} (sha256 {ref['model_sha256'][:12]}...)")
    ort = OrtRunner(MODELS / m.file)
    tol = ref["tolerance"]["max_rel"]
    for case in ref["cases"]:
        if case["kind"] == "lfw":
            if lfw is None:
                log(f"  {m.id:20s} {case['name']:16s} skipped: no LFW under $FACEGATE_SHARED_DIR")
                continue
            x = lfw_case_input(m, case, lfw)
        else:
            x = synthetic_input(case["generator"], case["input_shape"], case["seed"])
        if sha256_f32(x) != case["input_sha256"]:
            die(f"{m.id}/{case['name']}: rebuilt input differs (sha256)")
        got = ort(x)
        worst = 0.0
        for t in case["outputs"]:
            worst = max(worst, rel_err(got[t["name"]], decode_tensor(t))[1])
        ok = worst <= tol
        log(f"  {m.id:20s} {case['name']:16s} committed reference vs onnxruntime max rel {worst:.2e} (tol {tol:g}) {'ok' if ok else 'FAIL'}")
        if not ok:
            die(f"{m.id}/{case['name']} outside tolerance")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true", help="check the committed references instead of writing them")
    a = ap.parse_args()
    lfw = lfw_dir()
    REFERENCE.mkdir(parents=True, exist_ok=True)
    if not a.check and lfw is None and any(REFERENCE.glob("*.json")):
        die("no LFW under $FACEGATE_SHARED_DIR: refusing to overwrite the committed references with synthetic-only ones")
    for m in MODEL_TABLE:
        if a.check:
            check(m, lfw)
            continue
        doc = make(m, lfw)
        p = REFERENCE / f"{m.id}.json"
        p.write_text(json.dumps(doc, indent=1) + "\n")
        log(f"  -> {p.relative_to(MODELS.parent)} ({p.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
