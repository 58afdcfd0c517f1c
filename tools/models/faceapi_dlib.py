"""dlib's face-recognition ResNet rebuilt in TensorFlow from face-api.js's
weights-only manifest (npm @vladmandic/face-api, model/face_recognition_model*).

face-api.js ships no graph, only named weights, so the network is rebuilt
here following the package's own source (package/src/faceRecognitionNet/:
FaceRecognitionNet.ts, convLayer.ts, residualLayer.ts, scaleLayer.ts).

Input: NHWC float32 RGB 0..255, [1, 150, 150, 3] (a dlib face chip).
Output: [1, 128] descriptor, unnormalised, like dlib and face-api.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

MEAN_RGB = [122.782, 117.001, 104.298]


def load_weights(model_dir: Path) -> dict[str, np.ndarray]:
    """Dequantises the TFJS weights manifest as tfjs does:
    uint8/uint16 -> float32(value * scale + min), float16 -> float32."""
    man = json.loads((model_dir / "face_recognition_model-weights_manifest.json").read_text())
    weights: dict[str, np.ndarray] = {}
    for group in man:
        buf = b"".join((model_dir / p).read_bytes() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            q = w.get("quantization")
            if q:
                dt = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}[q["dtype"]]
                raw = np.frombuffer(buf, dtype=dt, count=n, offset=off)
                off += n * raw.itemsize
                if q["dtype"] == "float16":
                    val = raw.astype(np.float32)
                else:
                    # tfjs (io_utils decodeWeights): v * scale + min computed
                    # in float64 (JS numbers), stored into a Float32Array
                    val = (raw.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)
            else:
                val = np.frombuffer(buf, dtype="<f4", count=n, offset=off)
                off += n * 4
            weights[w["name"]] = val.reshape(w["shape"]).astype(np.float32)
        if off != len(buf):
            raise ValueError(f"weights manifest used {off} of {len(buf)} bytes")
    return weights


def build(model_dir: Path):
    """Returns a tf.function net(x[1,150,150,3]) -> [1,128]."""
    import tensorflow as tf

    W = load_weights(model_dir)

    def conv_layer(x, p, strides, relu, padding="SAME"):
        out = tf.nn.conv2d(x, W[f"{p}/conv/filters"], strides, padding)
        out = out + W[f"{p}/conv/bias"]
        out = out * W[f"{p}/scale/weights"] + W[f"{p}/scale/biases"]
        return tf.nn.relu(out) if relu else out

    def residual(x, p):
        out = conv_layer(x, f"{p}/conv1", 1, True)
        out = conv_layer(out, f"{p}/conv2", 1, False)
        return tf.nn.relu(out + x)

    def residual_down(x, p):
        out = conv_layer(x, f"{p}/conv1", 2, True, "VALID")
        out = conv_layer(out, f"{p}/conv2", 1, False)
        pooled = tf.nn.avg_pool2d(x, 2, 2, "VALID")
        ps, os_ = pooled.shape, out.shape
        if ps[1] != os_[1] or ps[2] != os_[2]:
            # residualLayer.ts: concat a row of zeros below, then a column right
            out = tf.pad(out, [[0, 0], [0, 1], [0, 1], [0, 0]])
        if ps[3] != os_[3]:
            # residualLayer.ts: concat zeros of the pooled shape on channels
            pooled = tf.pad(pooled, [[0, 0], [0, 0], [0, 0], [0, os_[3] - ps[3]]])
        return tf.nn.relu(pooled + out)

    @tf.function(input_signature=[tf.TensorSpec([1, 150, 150, 3], tf.float32, name="input")])
    def net(x):
        x = (x - tf.constant(MEAN_RGB, tf.float32)) / 255.0
        out = conv_layer(x, "conv32_down", 2, True, "VALID")
        out = tf.nn.max_pool2d(out, 3, 2, "VALID")
        for p in ["conv32_1", "conv32_2", "conv32_3"]:
            out = residual(out, p)
        out = residual_down(out, "conv64_down")
        for p in ["conv64_1", "conv64_2", "conv64_3"]:
            out = residual(out, p)
        out = residual_down(out, "conv128_down")
        for p in ["conv128_1", "conv128_2"]:
            out = residual(out, p)
        out = residual_down(out, "conv256_down")
        for p in ["conv256_1", "conv256_2"]:
            out = residual(out, p)
        out = residual_down(out, "conv256_down_out")
        g = tf.reduce_mean(out, [1, 2])
        return tf.identity(tf.matmul(g, W["fc"]), name="descriptor")

    return net
