#!/usr/bin/env python3
"""Per-image latency of face_recognition (dlib) on one thread, per stage.

The same measurement as `facegate eval speed`, on the same image list:
warm-up on the first images of the list (untimed), then every image once:

  decode       face_recognition.load_image_file (file read + PIL decode to RGB)
  detect       face_recognition.face_locations(img, number_of_times_to_upsample=1,
               model="hog")  -- the documented defaults
  landmarks    dlib's 5-point shape predictor on the chosen face
  align_embed  dlib's face_recognition_model_v1.compute_face_descriptor(img,
               shape, num_jitters=1) (get_face_chip + ResNet)

landmarks + align_embed are exactly what face_recognition.face_encodings(img,
known_face_locations=[face], num_jitters=1, model="small") does (its defaults);
the script checks that on the first face it finds. Of several faces the one
nearest the image centre is used (the LFW convention; Facegate does the same).

Single-threaded: OMP/OpenBLAS/MKL threads are set to 1 before numpy and dlib
load; run it under `taskset -c 0` for one-core numbers.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "GOTO_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from importlib import metadata  # noqa: E402

import dlib  # noqa: E402
import face_recognition  # noqa: E402
import numpy as np  # noqa: E402
import PIL  # noqa: E402
from face_recognition import api  # noqa: E402


def read_list(path, root):
    images = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                images.append(line)
    return images, root or os.path.dirname(os.path.abspath(path))


def most_central(locations, width, height):
    """(top, right, bottom, left) nearest the image centre."""
    cx, cy = width / 2.0, height / 2.0

    def dist(loc):
        top, right, bottom, left = loc
        return ((left + right) / 2.0 - cx) ** 2 + ((top + bottom) / 2.0 - cy) ** 2

    return min(locations, key=dist)


def analyse(path):
    """Returns (face found, stage ms, 128-D encoding or None)."""
    t0 = time.perf_counter()
    img = face_recognition.load_image_file(path)
    t1 = time.perf_counter()
    locations = face_recognition.face_locations(img, number_of_times_to_upsample=1, model="hog")
    t2 = time.perf_counter()
    if not locations:
        ms = {"decode": (t1 - t0) * 1e3, "detect": (t2 - t1) * 1e3, "landmarks": 0.0, "align_embed": 0.0}
        ms["total"] = (t2 - t0) * 1e3
        ms["total_without_decode"] = (t2 - t1) * 1e3
        return False, ms, None, img, None
    face = most_central(locations, img.shape[1], img.shape[0])
    # face_recognition.face_encodings(img, [face], num_jitters=1, model="small"), in its two steps:
    shape = api.pose_predictor_5_point(img, api._css_to_rect(face))
    t3 = time.perf_counter()
    encoding = np.array(api.face_encoder.compute_face_descriptor(img, shape, 1))
    t4 = time.perf_counter()
    ms = {
        "decode": (t1 - t0) * 1e3,
        "detect": (t2 - t1) * 1e3,
        "landmarks": (t3 - t2) * 1e3,
        "align_embed": (t4 - t3) * 1e3,
        "total": (t4 - t0) * 1e3,
        "total_without_decode": (t4 - t1) * 1e3,
    }
    return True, ms, encoding, img, face


def summary(values):
    """Median (mean of the middle two), nearest-rank p95, mean, min, max; as Facegate's."""
    v = sorted(values)
    n = len(v)
    if n == 0:
        return {"n": 0, "median": 0.0, "p95": 0.0, "mean": 0.0, "min": 0.0, "max": 0.0}
    median = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0
    rank = min(max(int(np.ceil(0.95 * n)), 1), n)
    return {"n": n, "median": median, "p95": v[rank - 1], "mean": sum(v) / n, "min": v[0], "max": v[-1]}


def load_average():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", required=True, help="text file of image paths, one a line")
    ap.add_argument("--root", help="folder relative paths are taken from (default: the list's folder)")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--json", help="write the report here")
    ap.add_argument("--templates", help="write every image's encoding here (for accuracy on pairs)")
    args = ap.parse_args()

    images, root = read_list(args.images, args.root)
    if args.limit is not None:
        images = images[: args.limit]
    if not images:
        sys.exit("no images")

    # The split into landmarks + descriptor must be face_encodings itself.
    checked = False
    for k in range(args.warmup):
        found, _, encoding, img, face = analyse(os.path.join(root, images[k % len(images)]))
        if found and not checked:
            public = face_recognition.face_encodings(img, known_face_locations=[face], num_jitters=1, model="small")
            if not np.array_equal(public[0], encoding):
                sys.exit("the staged encoding differs from face_recognition.face_encodings")
            checked = True

    load_before = load_average()
    records, encodings = [], []
    for rel in images:
        found, ms, encoding, _, _ = analyse(os.path.join(root, rel))
        records.append({"image": rel, "face": found, "ms": ms})
        encodings.append(None if encoding is None else [float(x) for x in encoding])
    load_after = load_average()

    stages = ["decode", "detect", "landmarks", "align_embed", "total", "total_without_decode"]
    faces_only = {"landmarks", "align_embed"}
    summ = {
        s: summary([r["ms"][s] for r in records if r["face"] or s not in faces_only]) for s in stages
    }
    report = {
        "tool": "face_recognition",
        "detector": "dlib HOG (frontal_face_detector), number_of_times_to_upsample=1",
        "landmarks": "dlib shape_predictor_5_face_landmarks",
        "embedder": "dlib_face_recognition_resnet_model_v1, num_jitters=1",
        "threads": 1,
        "blas_threads": int(os.environ["OPENBLAS_NUM_THREADS"]),
        "root": root,
        "warmup": args.warmup,
        "staged_encoding_checked_against_face_encodings": checked,
        "images": len(records),
        "faces_found": sum(1 for r in records if r["face"]),
        "summary": summ,
        "machine": {
            "cpu_model": cpu_model(),
            "cpus_online": os.cpu_count(),
            "cpus_allowed": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "load_before": load_before,
            "load_after": load_after,
            "kernel": platform.release(),
        },
        "versions": {
            "python": platform.python_version(),
            "dlib": dlib.__version__,
            "dlib_use_blas": bool(getattr(dlib, "DLIB_USE_BLAS", False)),
            "dlib_use_lapack": bool(getattr(dlib, "DLIB_USE_LAPACK", False)),
            "dlib_use_avx": bool(getattr(dlib, "USE_AVX_INSTRUCTIONS", False)),
            "dlib_use_cuda": bool(getattr(dlib, "DLIB_USE_CUDA", False)),
            "face_recognition": version("face_recognition"),
            "face_recognition_models": version("face_recognition_models"),
            "numpy": np.__version__,
            "pillow": PIL.__version__,
        },
        "records": records,
    }
    print(
        f"face_recognition: {len(records)} images ({report['faces_found']} with a face) after {args.warmup} "
        f"warm-up; dlib {dlib.__version__} (BLAS {report['versions']['dlib_use_blas']}, "
        f"AVX {report['versions']['dlib_use_avx']}); CPUs allowed {report['machine']['cpus_allowed']}"
    )
    print("| stage | n | median ms | p95 ms | mean ms |\n|---|---|---|---|---|")
    for s in stages:
        x = summ[s]
        print(f"| {s} | {x['n']} | {x['median']:.2f} | {x['p95']:.2f} | {x['mean']:.2f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
    if args.templates:
        with open(args.templates, "w", encoding="utf-8") as f:
            json.dump({"root": root, "images": images, "models": ["dlib_face_recognition_resnet_model_v1"],
                       "templates": [encodings]}, f)


if __name__ == "__main__":
    main()
