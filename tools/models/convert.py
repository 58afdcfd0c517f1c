"""Converts the source models to ONNX into .work/out/ (build.sh then compares
them with models/ and installs them).

- MediaPipe .tflite (BlazeFace short/full, FaceMesh):
    python -m tf2onnx.convert --tflite X.tflite --output Y.onnx --opset 13
  FaceMesh's PRelu nodes are then rewritten as Max(x, Mul(x, a))
  (common.rewrite_prelu; x + Mul(Min(x, 0), a - 1) where a slope exceeds 1):
  the same function, and 2.4x faster under onnxruntime 1.32 on one core
  (3.6 -> 1.5 ms), whose PRelu kernel is slow.
- dlib ResNet: rebuilt in TensorFlow from face-api.js's weights
  (faceapi_dlib.py), exported with tf2onnx.convert.from_function (opset 13);
  the output is renamed from tf2onnx's "Identity:0" to "descriptor".
- fr_feature / fr_liveness: shipped as ONNX; copied unchanged.

tf2onnx's output is not byte-deterministic: its optimiser names folded
constants from a global counter and, where two identical nodes are merged,
keeps whichever it meets first, both in an order that varies from run to run.
`canonicalize` therefore renames every node, intermediate tensor and
initializer by its position in the (unchanged) topological order and sorts
the initializers by first use. Only names change; the graph and its weights
are identical, and verify.py checks the result against the original
framework.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import onnx

from common import MODEL_TABLE, OPSET, OUT, SRC, die, log, rewrite_prelu, sha256_file, src_path


def canonicalize(m: onnx.ModelProto) -> onnx.ModelProto:
    g = m.graph
    keep = {v.name for v in g.input} | {v.name for v in g.output}
    inits = {t.name for t in g.initializer}
    ren: dict[str, str] = {}
    for i, n in enumerate(g.node):
        n.name = f"{n.op_type}_{i}"
        for k, o in enumerate(n.output):
            if o and o not in keep:
                ren[o] = f"{n.name}:{k}"
    order: dict[str, int] = {}
    for n in g.node:
        for k, x in enumerate(n.input):
            if x in inits and x not in keep and x not in ren:
                ren[x] = f"{n.name}.w{k}"
            if x in inits:
                order.setdefault(ren.get(x, x), len(order))
    if len(set(ren.values())) != len(ren):
        die("canonicalize: name collision")
    for n in g.node:
        n.input[:] = [ren.get(x, x) for x in n.input]
        n.output[:] = [ren.get(x, x) for x in n.output]
        n.doc_string = ""
    ts = list(g.initializer)
    for t in ts:
        t.name = ren.get(t.name, t.name)
    unused = [t.name for t in ts if t.name not in order]
    if unused:
        die(f"canonicalize: unused initializers {unused[:5]}")
    ts.sort(key=lambda t: order[t.name])
    del g.initializer[:]
    g.initializer.extend(ts)
    vis = list(g.value_info)
    for v in vis:
        v.name = ren.get(v.name, v.name)
    vis.sort(key=lambda v: v.name)
    del g.value_info[:]
    g.value_info.extend(vis)
    return m


def rename_output(m: onnx.ModelProto, old: str, new: str) -> None:
    for n in m.graph.node:
        n.output[:] = [new if o == old else o for o in n.output]
        n.input[:] = [new if x == old else x for x in n.input]
    for o in m.graph.output:
        if o.name == old:
            o.name = new


def save(m: onnx.ModelProto, path: Path) -> None:
    onnx.checker.check_model(m, full_check=True)
    path.write_bytes(m.SerializeToString())


def convert_tflite(tfl: Path, out: Path, prelu_as_max: bool = False) -> None:
    raw = out.with_suffix(".tf2onnx.onnx")
    cmd = [sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tfl), "--output", str(raw), "--opset", str(OPSET)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    (out.parent / (out.stem + ".log")).write_text(r.stdout + r.stderr)
    if r.returncode != 0 or not raw.exists():
        die(f"tf2onnx failed on {tfl.name}:\n{r.stderr[-3000:]}")
    m = onnx.load(str(raw))
    if prelu_as_max:
        rewrite_prelu(m)
    save(canonicalize(m), out)
    raw.unlink()


def convert_dlib(model_dir: Path, out: Path) -> None:
    import tf2onnx

    import faceapi_dlib

    net = faceapi_dlib.build(model_dir)
    m, _ = tf2onnx.convert.from_function(net, input_signature=net.input_signature, opset=OPSET)
    outs = [o.name for o in m.graph.output]
    if len(outs) != 1:
        die(f"dlib export has outputs {outs}")
    rename_output(m, outs[0], "descriptor")
    save(canonicalize(m), out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--only", nargs="*", help="model ids")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    for m in MODEL_TABLE:
        if a.only and m.id not in a.only:
            continue
        out = a.out / m.file
        if m.original == "tflite":
            convert_tflite(src_path(m), out, m.prelu_as_max)
        elif m.original == "tf-rebuild":
            convert_dlib(SRC / m.source / "package" / "model", out)
        elif m.original == "onnx-shipped":
            shutil.copyfile(src_path(m), out)
        log(f"  {m.file:24s} {out.stat().st_size:>9d} B  sha256 {sha256_file(out)[:16]}")


if __name__ == "__main__":
    main()
