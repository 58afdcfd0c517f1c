#!/usr/bin/env bash
# Speed (and same-pairs accuracy) of Facegate's face pipeline against
# face_recognition (dlib HOG detector + 5-point predictor + ResNet encoder,
# dlib built from source against OpenBLAS), on the same LFW images, in one run.
#
# Usage:
#   bench/face_recognition/run.sh [--setup-only] [--images N] [--rounds R]
#                                 [--warmup N] [--folds 1] [--runtime ort|tract]
#                                 [--embedder fr-feature[,dlib-resnet]] [--core C]
#                                 [--quiet-load L] [--quiet-wait S]
#
# Every tool first runs once over every image of the LFW folds' pairs (807
# for fold 1): the accuracy on those pairs comes from that pass. Then the
# speed rounds: each tool in turn on the first N images (--images, 200),
# R times (--rounds, 5), the order rotated per round; the table takes, per
# image, the fastest of the R runs (as timeit does) and also shows every
# round's median. Each run warms up on --warmup images first (20).
# The cores may be shared: with
# --quiet-load L the timed part waits (at most --quiet-wait seconds, default
# 900) until the 1-minute load average is below L. The loads are recorded.
#
# Environment:
#   FACEGATE_SHARED_DIR  the shared folder holding data/lfw (default: ../shared
#                        beside the repository); LFW is read there, never copied.
#   FACEGATE_LFW_DIR     overrides the LFW folder itself.
#
# Setup is idempotent: apt packages (libopenblas-dev before dlib is built),
# a venv in bench/face_recognition/.venv (gitignored) with pinned dlib built
# from source, face_recognition and face_recognition_models.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$HERE/.venv"

# Pins. dlib is built from its source distribution (never a prebuilt wheel).
DLIB_VERSION="20.0.1"
FACE_RECOGNITION_VERSION="1.3.0"
FACE_RECOGNITION_MODELS_VERSION="0.3.0"
NUMPY_VERSION="1.26.4"
PILLOW_VERSION="10.4.0"
SETUPTOOLS_VERSION="75.8.0"   # face_recognition_models imports pkg_resources

SETUP_ONLY=0
IMAGES=200
ROUNDS=5
WARMUP=20
FOLDS=1                  # LFW folds whose pairs give the images and the accuracy pairs
RUNTIME=ort
EMBEDDER=fr-feature,dlib-resnet
CORE=0
QUIET_LOAD=""
QUIET_WAIT=900
while [ $# -gt 0 ]; do
  case "$1" in
    --setup-only) SETUP_ONLY=1 ;;
    --images) IMAGES="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --warmup) WARMUP="$2"; shift ;;
    --folds) FOLDS="$2"; shift ;;
    --runtime) RUNTIME="$2"; shift ;;
    --embedder) EMBEDDER="$2"; shift ;;
    --core) CORE="$2"; shift ;;
    --quiet-load) QUIET_LOAD="$2"; shift ;;
    --quiet-wait) QUIET_WAIT="$2"; shift ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

log() { printf '[run.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

ensure_apt() {
  local missing=()
  for p in libopenblas-dev liblapack-dev cmake; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    log "apt-get install ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_venv() {
  [ -x "$VENV/bin/python" ] || { log "creating $VENV"; python3 -m venv "$VENV"; }
  local py="$VENV/bin/python"
  if ! "$py" - "$DLIB_VERSION" <<'PY' 2>/dev/null
import sys, dlib
sys.exit(0 if dlib.__version__ == sys.argv[1] and dlib.DLIB_USE_BLAS else 1)
PY
  then
    "$py" -m pip install -q --upgrade pip "setuptools==$SETUPTOOLS_VERSION" wheel
    "$py" -m pip install -q "numpy==$NUMPY_VERSION" "pillow==$PILLOW_VERSION"
    log "building dlib $DLIB_VERSION from source against OpenBLAS (takes ~12 min on one core); log: $VENV/dlib-build.log"
    # -v so the build log records the CMake BLAS/LAPACK and SIMD decisions.
    "$py" -m pip install -v --no-cache-dir --no-binary dlib "dlib==$DLIB_VERSION" >"$VENV/dlib-build.log" 2>&1 \
      || { tail -40 "$VENV/dlib-build.log" >&2; exit 1; }
  fi
  if ! "$py" -c "import face_recognition, face_recognition_models" 2>/dev/null; then
    log "installing face_recognition $FACE_RECOGNITION_VERSION + models $FACE_RECOGNITION_MODELS_VERSION"
    "$py" -m pip install -q "face_recognition_models==$FACE_RECOGNITION_MODELS_VERSION" \
      "face_recognition==$FACE_RECOGNITION_VERSION" "setuptools==$SETUPTOOLS_VERSION"
  fi
}

ensure_apt
ensure_venv
[ "$SETUP_ONLY" -eq 1 ] && { log "setup done"; exit 0; }

# --- The data: read in place from the shared folder, never copied. ---------
SHARED="${FACEGATE_SHARED_DIR:-$ROOT/../shared}"
LFW="${FACEGATE_LFW_DIR:-$SHARED/data/lfw}"
[ -f "$LFW/pairs.csv" ] || { echo "no LFW at $LFW (set FACEGATE_SHARED_DIR or FACEGATE_LFW_DIR)" >&2; exit 1; }
LFW="$(cd "$LFW" && pwd)"

# --- Facegate: release build, ONNX Runtime library. -------------------------
"$ROOT/scripts/setup-onnxruntime" >/dev/null
log "cargo build --release -p facegate"
(cd "$ROOT" && cargo build --release -q -p facegate)
FACEGATE="$ROOT/target/release/facegate"

OUT="$HERE/out"          # gitignored: per-image records and templates
mkdir -p "$OUT"
PY="$VENV/bin/python"
"$PY" "$HERE/compare.py" list --lfw "$LFW" --folds "$FOLDS" --out "$OUT/images.txt"
TOTAL_IMAGES=$(wc -l <"$OUT/images.txt")
[ "$IMAGES" -le "$TOTAL_IMAGES" ] || IMAGES="$TOTAL_IMAGES"

export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
if [ -n "$QUIET_LOAD" ]; then
  waited=0
  while awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v max="$QUIET_LOAD" 'BEGIN { exit !(l >= max) }' \
        && [ "$waited" -lt "$QUIET_WAIT" ]; do
    sleep 10; waited=$((waited + 10))
  done
  log "waited ${waited}s for the 1-minute load to drop below $QUIET_LOAD"
fi
LOAD_START="$(loadavg)"
log "load average before: $LOAD_START ($(nproc --all) CPUs); timing on CPU $CORE"

IFS=',' read -r -a EMBEDDERS_LIST <<<"$EMBEDDER"
TOOLS=()
for emb in "${EMBEDDERS_LIST[@]}"; do TOOLS+=("facegate-$emb"); done
TOOLS+=(face_recognition)
LOADS=()

# One timed run of one tool: run_tool TOOL LIMIT JSON [TEMPLATES]
run_tool() {
  local tool="$1" limit="$2" json="$3" templates="${4:-}" extra=()
  LOADS+=("\"$(basename "$json" .json) before\": \"$(loadavg)\"")
  if [ "$tool" = face_recognition ]; then
    [ -n "$templates" ] && extra=(--templates "$templates")
    taskset -c "$CORE" "$PY" "$HERE/face_recognition_speed.py" --images "$OUT/images.txt" --root "$LFW" \
      --limit "$limit" --warmup "$WARMUP" --json "$json" "${extra[@]}" >"${json%.json}.txt"
  else
    [ -n "$templates" ] && extra=(--templates "$templates")
    taskset -c "$CORE" "$FACEGATE" eval speed --images "$OUT/images.txt" --root "$LFW" \
      --limit "$limit" --warmup "$WARMUP" --runtime "$RUNTIME" --embedders "${tool#facegate-}" \
      --json "$json" "${extra[@]}" >"${json%.json}.txt"
  fi
}

# 1. Accuracy pass: every tool once over every image of the folds' pairs
#    (timed too; reported as a single pass).
for tool in "${TOOLS[@]}"; do
  log "$tool: pass over $TOTAL_IMAGES images (accuracy)"
  run_tool "$tool" "$TOTAL_IMAGES" "$OUT/$tool.pass.json" "$OUT/$tool.templates.json"
done

# 2. Speed rounds: the first $IMAGES images, every tool in turn, $ROUNDS times,
#    the order rotated each round so that a burst of load from elsewhere on
#    the shared cores hits the tools alike.
n_tools=${#TOOLS[@]}
for ((k = 1; k <= ROUNDS; k++)); do
  for ((j = 0; j < n_tools; j++)); do
    tool="${TOOLS[$(((j + k - 1) % n_tools))]}"
    log "round $k/$ROUNDS: $tool on $IMAGES images"
    run_tool "$tool" "$IMAGES" "$OUT/$tool.round$k.json"
  done
done
LOADS+=("\"end\": \"$(loadavg)\"")

BLAS_LINE="$(grep -E 'Found OpenBLAS|Using OpenBLAS|Enabling AVX|Enabling SSE4' "$VENV/dlib-build.log" 2>/dev/null | sed 's/^ *-- //' | paste -sd';' - || true)"
cat >"$OUT/meta.json" <<JSON
{
  "command": "bench/face_recognition/run.sh --images $IMAGES --rounds $ROUNDS --warmup $WARMUP --runtime $RUNTIME --embedder $EMBEDDER --folds $FOLDS --core $CORE${QUIET_LOAD:+ --quiet-load $QUIET_LOAD}",
  "facegate_command": "taskset -c $CORE target/release/facegate eval speed --images out/images.txt --root \$LFW --limit N --warmup $WARMUP --runtime $RUNTIME --embedders EMBEDDER --json OUT.json [--templates T.json]",
  "face_recognition_command": "taskset -c $CORE .venv/bin/python face_recognition_speed.py --images out/images.txt --root \$LFW --limit N --warmup $WARMUP --json OUT.json [--templates T.json]",
  "cpus": $(nproc --all),
  "cpu_model": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')",
  "load_average_1_5_15": { ${LOADS[0]}$(printf ', %s' "${LOADS[@]:1}") },
  "dlib_build": "pip install --no-binary dlib dlib==$DLIB_VERSION; $BLAS_LINE",
  "rustc": "$(rustc --version)",
  "onnxruntime": "1.32.0 (scripts/setup-onnxruntime)"
}
JSON

"$PY" "$HERE/compare.py" report --lfw "$LFW" --folds "$FOLDS" --speed-images "$IMAGES" --rounds "$ROUNDS" \
  --dir "$OUT" --tools "$(IFS=','; echo "${TOOLS[*]}")" --meta "$OUT/meta.json" --out "$HERE/results.json"
