"""Int8 versions of fp32 models (static quantisation, QDQ format), calibrated
on faces that are NOT LFW (LFW is the evaluation set), aligned exactly as
the Rust pipeline aligns them.

1. Calibration and held-out image sets (make_set), from ../shared/data
   (never copied into the repository; written under .work/quant/):
     calibration: NUAA ClientRaw subjects 0004 0006 0007 0011 0012 0013
                  (48 frames each, evenly spaced), 96 frames of
                  video/live_person_a, 48 of pad/replay/lestari15…/real_30fps,
                  the faces of face-api demo photos sample1-3 (435 faces);
     held out:    NUAA subjects 0010 0014 0015 (16 frames each), 32 frames of
                  video/live_person_b, 32 of pad/replay/tranvanluyt…/real_30fps,
                  the faces of demo photos sample4-6 (115 faces).
   The two sets share no person. MJPEG frames are cut out byte for byte; a
   demo face is the 250x250 window common.DEMO_FACES names, saved as PNG.
2. The Rust pipeline runs each image (crates/vision/examples/model_inputs.rs:
   decode, BlazeFace short-range, FaceMesh, ArcFace 112x112 alignment, with
   the fp32 models on ONNX Runtime) and writes the exact tensor it feeds
   each model (.work/quant/<set>/<model id>.npy).
3. Per quantised model (QUANT_TABLE), float rewrites that leave the
   function unchanged (checked): onnx.version_converter to opset 13;
   cross-layer equalisation of Conv -> PRelu -> Conv (equalise); PRelu as
   Max(x, Mul(x, a)) (rewrite_prelu). Then
   onnxruntime.quantization.quant_pre_process (ONNX shape inference and
   onnxruntime's basic graph optimisation; no symbolic shape inference) and
   quantize_static: QDQ, weights QInt8 per output channel, activations
   QUInt8 per tensor, Percentile calibration over the calibration tensors,
   a few named nodes left in float; then empirical bias correction of the
   int8 convolutions (bias_correct).
4. Fidelity on the held-out tensors, int8 against fp32 (onnxruntime 1.32.0,
   CPU, one thread): the cosine of the two embeddings of each face. Written
   to .work/quant/fidelity.json, which manifest.py records in
   models/manifest.json. Fails outside the tolerances in QUANT_TABLE.

The output is byte-deterministic for given inputs on one machine (build.sh
quantises twice and compares; the channel ranges and the calibration come
from onnxruntime inference, so another CPU may round differently). Without
../shared/data the step is skipped and the committed int8 files are kept.

Why only fr-feature-512: BlazeFace and FaceMesh quantised the same way ran
slower than in float under onnxruntime 1.32 on one core (float with all
graph optimisations, NCHWc layout included: 1.0 and 2.8 ms; int8: 1.3 and
3.8 ms), so they stay in float.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from common import (DEMO_FACES, MODELS, MODELS_BY_ID, OUT, ROOT, SRC, WORK, decode_rgb, die, face_window, log, rewrite_prelu,
                    sha256_file, shared_dir)

QUANT = WORK / "quant"

NUAA = "pad/nuaa/ClientRaw"
CALIBRATION = {
    "nuaa_subjects": ["0004", "0006", "0007", "0011", "0012", "0013"],
    "nuaa_frames_per_subject": 48,
    "mjpeg": [("video/live_person_a_640x480_30fps_20s.mjpeg", 96),
              ("pad/replay/lestari15_CNN-face-detection/real_30fps.mjpeg", 48)],
    "demo": ["sample1.jpg", "sample2.jpg", "sample3.jpg"],
}
HELD_OUT = {
    "nuaa_subjects": ["0010", "0014", "0015"],
    "nuaa_frames_per_subject": 16,
    "mjpeg": [("video/live_person_b_640x512_30fps_20s.mjpeg", 32),
              ("pad/replay/tranvanluyt2203_face_anti_spoofing/real_30fps.mjpeg", 32)],
    "demo": ["sample4.jpg", "sample5.jpg", "sample6.jpg"],
}


@dataclass
class Quantised:
    id: str
    file: str
    base: str  # id of the fp32 model
    description: str
    # PRelu(x, a) rewritten as Max(x, Mul(x, a)) before quantisation (see
    # rewrite_prelu): onnxruntime's PRelu kernel is ~5x slower than Mul + Max.
    rewrite_prelu: bool = False
    # Cross-layer equalisation (equalise): per-channel rescaling across
    # Conv -> PRelu -> Conv, exponent for a following depthwise / dense Conv;
    # None: off.
    equalise: tuple[float, float] | None = None
    # Empirical bias correction of the int8 convolutions (bias_correct),
    # on every n-th calibration input; 0: off.
    bias_correction_stride: int = 0
    # quantize_static arguments
    op_types_to_quantize: list[str] = field(default_factory=list)
    float_nodes: list[str] = field(default_factory=list)  # nodes left in float
    calibrate_method: str = "MinMax"  # or "Percentile"
    extra_options: dict = field(default_factory=dict)
    # fidelity tolerances on the held-out tensors
    tolerance: dict = field(default_factory=dict)


QUANT_TABLE: list[Quantised] = [
    Quantised(
        id="fr-feature-512-int8",
        file="fr_feature_512_int8.onnx",
        base="fr-feature-512",
        description="fr-feature-512 quantised to int8 (QDQ: convolutions and residual additions in int8, PReLU as Mul + Max in float between them); 512-D embedding, compare by cosine; input as fr-feature-512",
        rewrite_prelu=True,
        equalise=(1.0, 0.5),
        op_types_to_quantize=["Conv", "Add"],
        # The first convolution (on the image) and the last two (global
        # depthwise 7x7 and linear 512 -> 512, which make the embedding):
        # cheap, and each costs fidelity in int8.
        float_nodes=["Conv_0", "Conv_93", "Conv_94"],
        calibrate_method="Percentile",
        extra_options={"CalibPercentile": 99.999},
        bias_correction_stride=3,
        tolerance={"cos_min": 0.975, "cos_mean": 0.99},
    ),
]
QUANT_BY_ID = {q.id: q for q in QUANT_TABLE}


# ---------------------------------------------------------------------------
# 1. image sets
# ---------------------------------------------------------------------------


def evenly(items: list, n: int) -> list:
    """n items spread evenly over the (sorted) list, first one included."""
    if len(items) <= n:
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]


def mjpeg_frames(path: Path) -> list[bytes]:
    """The JPEG frames of an MJPEG stream (concatenated JPEG files)."""
    data = path.read_bytes()
    starts = []
    i = data.find(b"\xff\xd8\xff")
    while i >= 0:
        starts.append(i)
        i = data.find(b"\xff\xd8\xff", i + 3)
    return [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)])]


def make_set(name: str, spec: dict, data: Path) -> Path:
    d = QUANT / name
    if d.exists():
        shutil.rmtree(d)
    (d / "img").mkdir(parents=True)
    lines = []
    for subject in spec["nuaa_subjects"]:
        frames = sorted(p.name for p in (data / NUAA / subject).glob("*.jpg"))
        for f in evenly(frames, spec["nuaa_frames_per_subject"]):
            lines.append(str(data / NUAA / subject / f))
    for rel, n in spec["mjpeg"]:
        frames = mjpeg_frames(data / rel)
        stem = Path(rel).parent.name + "_" + Path(rel).stem
        for k, frame in zip(range(n), evenly(list(enumerate(frames)), n)):
            i, jpeg = frame
            p = d / "img" / f"{stem}_{i:04d}.jpg"
            p.write_bytes(jpeg)
            lines.append(f"img/{p.name}")
    from PIL import Image

    for sample in spec["demo"]:
        rgb = decode_rgb(SRC / "face-api" / "package" / "demo" / sample)
        p = d / "img" / f"demo_{Path(sample).stem}.png"
        Image.fromarray(face_window(rgb, DEMO_FACES[sample])).save(p, optimize=False)
        lines.append(f"img/{p.name}")
    (d / "images.txt").write_text("\n".join(lines) + "\n")
    return d


PIPELINE_MODELS = ["blazeface-short-128", "facemesh-468", "fr-feature-512"]


def pipeline_models_dir() -> Path:
    """A models folder for the Rust pipeline holding the fp32 files now in
    models/ (links) and a manifest with their current checksums: build.sh
    may just have installed a new conversion while models/manifest.json,
    rewritten at the end, still names the old one."""
    d = QUANT / "models"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    entries = []
    for mid in PIPELINE_MODELS:
        m = MODELS_BY_ID[mid]
        (d / m.file).symlink_to(MODELS / m.file)
        entries.append({"id": mid, "file": m.file, "sha256": sha256_file(MODELS / m.file),
                        "bytes": (MODELS / m.file).stat().st_size, "input": m.input})
    (d / "manifest.json").write_text(json.dumps({"version": 1, "models": entries}, indent=1) + "\n")
    return d


def dump_inputs(d: Path) -> None:
    """Runs the Rust pipeline over the set's images (model_inputs example)."""
    import os

    cmd = ["cargo", "run", "--release", "--locked", "--quiet", "-p", "facegate-vision",
           "--example", "model_inputs", "--", str(d / "images.txt"), str(d)]
    env = {**os.environ, "FACEGATE_MODELS_DIR": str(pipeline_models_dir())}
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        die(f"model_inputs failed:\n{r.stdout[-2000:]}{r.stderr[-3000:]}")
    log("  " + r.stdout.strip().splitlines()[-1])
    misses = [l for l in r.stderr.splitlines() if l.startswith("no face")]
    if misses:
        log(f"  ({len(misses)} without a face: {', '.join(Path(m.split(': ', 1)[1]).name for m in misses)})")


# ---------------------------------------------------------------------------
# 3. quantisation
# ---------------------------------------------------------------------------


class Reader:
    """onnxruntime CalibrationDataReader over one .npy of single inputs."""

    def __init__(self, name: str, x: np.ndarray):
        self.name, self.x, self.i = name, x, 0

    def get_next(self):
        if self.i >= len(self.x):
            return None
        self.i += 1
        return {self.name: self.x[self.i - 1 : self.i]}

    def rewind(self):
        self.i = 0


def channel_ranges(m: onnx.ModelProto, x: np.ndarray, tensors: list[str]) -> dict[str, np.ndarray]:
    """max |t[c]| per channel c of each named tensor over the inputs x (one
    at a time, onnxruntime without graph optimisation)."""
    import onnxruntime as ort
    from onnx import helper

    mm = onnx.ModelProto()
    mm.CopyFrom(m)
    for t in tensors:
        mm.graph.output.append(helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(mm.SerializeToString(), so, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    out = {t: np.zeros(0) for t in tensors}
    for i in range(len(x)):
        for t, v in zip(tensors, s.run(tensors, {name: x[i : i + 1]})):
            r = np.abs(v[0]).reshape(v.shape[1], -1).max(1)
            out[t] = np.maximum(out[t], r) if out[t].size else r
    return out


def equalise(m: onnx.ModelProto, x: np.ndarray, alpha_depthwise: float, alpha_dense: float) -> int:
    """Cross-layer equalisation (Nagel et al. 2019, "Data-free quantization
    through weight equalization and bias correction"), exact in real
    arithmetic: PRelu is positively homogeneous per channel
    (PRelu(u*y) = u*PRelu(y) for u > 0), so for Conv A -> PRelu -> Conv B
    output channel c of A (weights and bias) is multiplied by u[c] and input
    channel c of B divided by it. u[c] = (max_c r / r[c]) ** alpha, with r[c]
    the largest |A output| of channel c on the calibration inputs: the
    channels of the per-tensor-quantised activations then use the whole 8-bit
    range. When B is depthwise, dividing its channel-c filter keeps its
    per-channel weight quantisation exact (alpha 1); a dense B mixes input
    channels in one per-output-channel weight scale (alpha < 1 trades the
    two). Returns the number of Conv -> PRelu -> Conv chains equalised."""
    from onnx import numpy_helper

    g = m.graph
    init = {t.name: t for t in g.initializer}
    uses: dict[str, int] = {}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            uses[i] = uses.get(i, 0) + 1
            consumers.setdefault(i, []).append(n)
    chains = []
    for a in g.node:
        ca = consumers.get(a.output[0], [])
        if a.op_type != "Conv" or len(ca) != 1 or ca[0].op_type != "PRelu":
            continue
        cp = consumers.get(ca[0].output[0], [])
        if len(cp) == 1 and cp[0].op_type == "Conv":
            chains.append((a, cp[0]))
    ranges = channel_ranges(m, x, [a.output[0] for a, _ in chains])

    def put(name: str, value: np.ndarray) -> None:
        if uses.get(name, 0) != 1:
            die(f"equalise: initializer {name} is shared")
        init[name].CopyFrom(numpy_helper.from_array(value.astype(np.float32), name))

    for a, b in chains:
        r = ranges[a.output[0]]
        wb = numpy_helper.to_array(init[b.input[1]])
        group = next((at.i for at in b.attribute if at.name == "group"), 1)
        depthwise = group == len(r) and wb.shape[1] == 1
        if not depthwise and group != 1:
            die(f"equalise: {b.name} is a grouped convolution")
        live = r > 1e-6 * r.max()
        u = np.ones_like(r)
        u[live] = (r.max() / r[live]) ** (alpha_depthwise if depthwise else alpha_dense)
        put(a.input[1], numpy_helper.to_array(init[a.input[1]]) * u.reshape(-1, 1, 1, 1))
        if len(a.input) > 2:
            put(a.input[2], numpy_helper.to_array(init[a.input[2]]) * u)
        put(b.input[1], wb / (u.reshape(-1, 1, 1, 1) if depthwise else u.reshape(1, -1, 1, 1)))
    return len(chains)


def channel_means(m: onnx.ModelProto, x: np.ndarray, tensors: list[str]) -> dict[str, np.ndarray]:
    """Mean of each channel of each named tensor over the inputs x
    (onnxruntime, all graph optimisations, one thread)."""
    import onnxruntime as ort
    from onnx import helper

    mm = onnx.ModelProto()
    mm.CopyFrom(m)
    for t in tensors:
        mm.graph.output.append(helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(mm.SerializeToString(), so, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    acc = {t: np.zeros(0, np.float64) for t in tensors}
    for i in range(len(x)):
        for t, v in zip(tensors, s.run(tensors, {name: x[i : i + 1]})):
            mean = v[0].reshape(v.shape[1], -1).astype(np.float64).mean(1)
            acc[t] = acc[t] + mean if acc[t].size else mean
    return {t: a / len(x) for t, a in acc.items()}


def bias_correct(qm: onnx.ModelProto, fm: onnx.ModelProto, x: np.ndarray) -> int:
    """Empirical bias correction (Nagel et al. 2019, section 4.2): for each
    int8 convolution in graph order, the mean of its output per channel in
    the float model minus the same mean in the int8 model (with the
    corrections before it applied) is added to its int32 bias. This removes
    the systematic shift that rounding weights and clipping activations
    leave in each channel, which the error of the following layers would
    otherwise compound. Returns the number of convolutions corrected."""
    from onnx import numpy_helper

    g = qm.graph
    init = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    float_out = {n.name: n.output[0] for n in fm.graph.node if n.op_type == "Conv"}
    sites = []  # (float tensor, int8 tensor (dequantised), bias, bias scale)
    for n in g.node:
        if n.op_type != "Conv" or len(n.input) < 3 or n.name not in float_out:
            continue
        bias = producer.get(n.input[2])
        q = consumers.get(n.output[0], [])
        if bias is None or bias.op_type != "DequantizeLinear" or len(q) != 1 or q[0].op_type != "QuantizeLinear":
            continue
        dq = consumers[q[0].output[0]][0]
        sites.append((float_out[n.name], dq.output[0], bias.input[0], bias.input[1]))
    target = channel_means(fm, x, [s[0] for s in sites])
    for f_t, q_t, b_name, s_name in sites:
        shift = target[f_t] - channel_means(qm, x, [q_t])[q_t]
        scale = numpy_helper.to_array(init[s_name]).astype(np.float64)
        old = numpy_helper.to_array(init[b_name]).astype(np.int64)
        new = old + np.round(shift / scale)
        # A dead channel (weights ~1e-21, so a bias scale ~1e-25) outputs a
        # constant ~0 and cannot take a correction in int32: left alone.
        b = np.where(np.abs(new) < 2**31 - 1, new, old).astype(np.int64)
        init[b_name].CopyFrom(numpy_helper.from_array(b.astype(np.int32), b_name))
    return len(sites)


def quantise(q: Quantised, calib: np.ndarray, out: Path) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quant_pre_process, quantize_static

    base = MODELS_BY_ID[q.base]
    m = onnx.load(str(MODELS / base.file))
    opset = max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    with tempfile.TemporaryDirectory() as t:
        t = Path(t)
        if opset < 13:
            m = onnx.version_converter.convert_version(m, 13)
        names = {n.name: n.op_type for n in m.graph.node}
        for n in q.float_nodes:
            if n not in names:
                die(f"{q.id}: no node {n} in {base.file}")
        if q.equalise:
            log(f"  equalised {equalise(m, calib, *q.equalise)} Conv -> PRelu -> Conv chains")
        exclude = rewrite_prelu(m) if q.rewrite_prelu else []
        onnx.save(m, str(t / "fp32.onnx"))
        check_equivalent(MODELS / base.file, t / "fp32.onnx", calib[:16])
        quant_pre_process(str(t / "fp32.onnx"), str(t / "pre.onnx"), skip_symbolic_shape=True)
        quantize_static(
            str(t / "pre.onnx"), str(t / "int8.onnx"), Reader(base.input["name"], calib),
            quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=getattr(CalibrationMethod, q.calibrate_method),
            op_types_to_quantize=q.op_types_to_quantize or None,
            nodes_to_exclude=exclude + q.float_nodes, extra_options=dict(q.extra_options),
        )
        qm = onnx.load(str(t / "int8.onnx"))
        if q.bias_correction_stride:
            n = bias_correct(qm, onnx.load(str(t / "pre.onnx")), calib[:: q.bias_correction_stride])
            log(f"  bias-corrected {n} int8 convolutions")
    qm.producer_name, qm.producer_version = "facegate tools/models/quantize.py", ""
    onnx.checker.check_model(qm, full_check=True)
    out.write_bytes(qm.SerializeToString())


# ---------------------------------------------------------------------------
# 4. fidelity
# ---------------------------------------------------------------------------


def check_equivalent(original: Path, rewritten: Path, x: np.ndarray) -> None:
    """The float rewrites (equalisation, PRelu) must not change the model
    beyond float rounding."""
    for a, b in zip(run_all(original, x), run_all(rewritten, x)):
        for k in a:
            err = float(np.max(np.abs(a[k] - b[k])) / max(float(np.max(np.abs(a[k]))), 1e-12))
            if err > 1e-4:
                die(f"the float rewrite of {original.name} changed output {k} by {err:.2e} (relative)")


def run_all(path: Path, x: np.ndarray) -> list[dict[str, np.ndarray]]:
    from common import OrtRunner

    r = OrtRunner(path)
    return [r(x[i : i + 1]) for i in range(len(x))]


def fidelity(q: Quantised, path: Path, held: np.ndarray) -> dict:
    ref = run_all(MODELS / MODELS_BY_ID[q.base].file, held)
    got = run_all(path, held)
    import onnxruntime

    out: dict = {"inputs": int(len(held)), "onnxruntime": onnxruntime.__version__}
    if q.base == "fr-feature-512":
        a = np.stack([next(iter(r.values())).ravel() for r in ref]).astype(np.float64)
        b = np.stack([next(iter(g.values())).ravel() for g in got]).astype(np.float64)
        cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        out.update(cos_min=float(cos.min()), cos_mean=float(cos.mean()), cos_p5=float(np.percentile(cos, 5)))
        ok = out["cos_min"] >= q.tolerance["cos_min"] and out["cos_mean"] >= q.tolerance["cos_mean"]
    else:
        die(f"no fidelity metric for {q.base}")
    out["tolerance"] = q.tolerance
    out["ok"] = bool(ok)
    return out


def calibration_doc(name: str, spec: dict, d: Path) -> dict:
    """What a set holds, for the manifest (no absolute paths)."""
    return {
        "set": name,
        "faces": sum(1 for _ in (d / "images.txt").read_text().splitlines()),
        "nuaa_client_subjects": spec["nuaa_subjects"],
        "nuaa_frames_per_subject": spec["nuaa_frames_per_subject"],
        "video_frames": {rel: n for rel, n in spec["mjpeg"]},
        "face_api_demo_faces": spec["demo"],
    }


def fidelity_doc(q: Quantised, f: dict) -> dict:
    """The manifest's fidelity block of a quantised model."""
    t = q.tolerance
    if "cos_min" in f:
        summary = f"cosine min {f['cos_min']:.4f}, mean {f['cos_mean']:.4f}"
        text = f"cos min ≥ {t['cos_min']}, mean ≥ {t['cos_mean']}"
        metric = "cosine between the int8 and the fp32 embedding of the same aligned face"
        values = {k: round(f[k], 4) for k in ("cos_min", "cos_mean", "cos_p5")}
    else:
        die(f"{q.id}: unknown fidelity")
    return {
        "compared_with": f"the fp32 model {q.base} (onnxruntime {f['onnxruntime']}, CPU, one thread)",
        "inputs": f["inputs"],
        "inputs_from": "the held-out set: faces of people not in the calibration set and not in LFW, as the Rust pipeline aligns them (tools/models/quantize.py)",
        "held_out": f["held_out"],
        "metric": metric,
        **values,
        "summary": summary,
        "tolerance": {**t, "text": text},
    }


def recipe_doc(q: Quantised, v: dict) -> dict:
    steps = []
    base = MODELS_BY_ID[q.base]
    steps.append(f"onnx.version_converter to opset 13 (from {base.file}) where older")
    if q.equalise:
        steps.append(f"cross-layer equalisation of every Conv -> PRelu -> Conv chain (quantize.equalise; exponent {q.equalise[0]} before a depthwise, "
                     f"{q.equalise[1]} before a dense convolution; channel ranges from the calibration inputs)")
    if q.rewrite_prelu:
        steps.append("PRelu(x, a) rewritten as Max(x, Mul(x, a)) (exact: every slope <= 1), or x + Mul(Min(x, 0), a - 1) where a slope exceeds 1 (quantize.rewrite_prelu)")
    steps.append("onnxruntime.quantization.quant_pre_process(skip_symbolic_shape=True)")
    steps.append("quantize_static(quant_format=QDQ, per_channel=True, activation_type=QUInt8, weight_type=QInt8, "
                 f"calibrate_method={q.calibrate_method}, op_types_to_quantize={q.op_types_to_quantize or 'all'}, "
                 f"nodes_to_exclude={q.float_nodes} (+ the Add of a rewritten PRelu), "
                 f"extra_options={q.extra_options})")
    if q.bias_correction_stride:
        steps.append(f"empirical bias correction of each int8 convolution in graph order, on every {q.bias_correction_stride}-th calibration input (quantize.bias_correct)")
    return {"tool": f"onnxruntime {v['onnxruntime']} quantization, onnx {v['onnx']}", "script": "tools/models/quantize.py",
            "command": "; ".join(steps)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--only", nargs="*", help="quantised model ids")
    ap.add_argument("--reuse-inputs", action="store_true", help="keep .work/quant/<set>/*.npy from an earlier run")
    ap.add_argument("--fidelity", type=Path, default=QUANT / "fidelity.json",
                    help="where to record the fidelity (manifest.py reads .work/quant/fidelity.json)")
    a = ap.parse_args()
    data = shared_dir() / "data"
    if not (data / NUAA).is_dir():
        log(f"SKIPPED: no calibration data at {data / NUAA} ($FACEGATE_SHARED_DIR); the committed int8 models are kept")
        return
    sets = {}
    for name, spec in (("calibration", CALIBRATION), ("held-out", HELD_OUT)):
        d = QUANT / name
        if not (a.reuse_inputs and (d / "images.txt").exists()):
            log(f"{name}: images")
            d = make_set(name, spec, data)
            dump_inputs(d)
        sets[name] = d
    a.out.mkdir(parents=True, exist_ok=True)
    report = {}
    for q in QUANT_TABLE:
        if a.only and q.id not in a.only:
            continue
        base = MODELS_BY_ID[q.base]
        calib = np.load(sets["calibration"] / f"{base.id}.npy")
        held = np.load(sets["held-out"] / f"{base.id}.npy")
        out = a.out / q.file
        log(f"{q.id}: quantising {base.file} on {len(calib)} calibration inputs")
        quantise(q, calib, out)
        f = fidelity(q, out, held)
        f["sha256"] = sha256_file(out)
        f["calibration"] = calibration_doc("calibration", CALIBRATION, sets["calibration"])
        f["held_out"] = calibration_doc("held-out", HELD_OUT, sets["held-out"])
        report[q.id] = f
        log(f"  -> {out.name} ({out.stat().st_size:,} bytes, sha256 {f['sha256'][:16]}); held-out: "
            + ", ".join(f"{k} {v:.4f}" for k, v in f.items() if isinstance(v, float)))
        if not f["ok"]:
            die(f"{q.id}: fidelity outside tolerance {q.tolerance}")
    prev = json.loads(a.fidelity.read_text()) if a.fidelity.exists() else {}
    prev.update(report)
    a.fidelity.parent.mkdir(parents=True, exist_ok=True)
    a.fidelity.write_text(json.dumps(prev, indent=1) + "\n")


if __name__ == "__main__":
    main()
