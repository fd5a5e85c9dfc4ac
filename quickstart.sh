#!/usr/bin/env bash
# trt-netdefs quick start. On a fresh machine:
#   ./quickstart.sh demo [MODEL] [build.py options]    set up .venv, build MODEL (default yolov5s) on the available
#                                                      backend (TensorRT + GPU, else reftrt on the CPU), run bus.jpg
#   ./quickstart.sh test [PYTEST ARGS]                 set up .venv and run the tests
#   ./quickstart.sh jetson [MODEL] [build.py options]  on a Jetson (JetPack 6): the lean set-up (no torch) in a
#                                                      venv that sees the system's TensorRT, then build MODEL
set -euo pipefail
cd "$(dirname "$0")"
VENV=${VENV:-.venv}
PY=$VENV/bin/python
# ultralytics (imported by the yolov5 reference models) prints a settings banner on first use and may go online.
export YOLO_OFFLINE=${YOLO_OFFLINE:-1} YOLO_VERBOSE=${YOLO_VERBOSE:-False}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

setup() {
  [ -x "$PY" ] || python3 -m venv "$VENV"
  local stamp="$VENV/.trt-netdefs-setup"
  local want
  want=$(cat pyproject.toml quickstart.sh | sha256sum | cut -c1-16)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  echo "setting up $VENV (torch, the project, and the reference models used by the tests) ..." >&2
  # torch and torchvision: these versions install from the machine's local disk (no large download).
  "$PY" -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
  "$PY" -m pip install -q -e ".[test]"
  # What the yolov5 reference models import, and the reference implementations of the classifiers and segmenters
  # (built with random weights in the tests).
  "$PY" -m pip install -q pandas tqdm gitpython pyyaml requests scipy psutil matplotlib seaborn \
    opencv-python-headless "setuptools<81" "timm==1.0.*" "segmentation-models-pytorch==0.6.*" "transformers==5.23.*"
  # yolov5 7.0.14 (the original anchor-based YOLOv5) without its long dependency list, last: pip checks declared
  # dependencies only when it resolves them, so no later install reports the ones deliberately left out.
  "$PY" -m pip install -q --no-deps "yolov5==7.0.14" "ultralytics==8.4.190" ultralytics-thop
  echo "$want" > "$stamp"
}

# bus.jpg ships with the yolov5 package: find it without importing yolov5 (whose import prints warnings).
bus_jpg() {
  "$PY" -c "import importlib.util, os
spec = importlib.util.find_spec('yolov5')
print(os.path.join(os.path.dirname(spec.origin), 'data', 'images', 'bus.jpg'))" | tail -n 1
}

cmd=${1:-demo}
shift || true
case "$cmd" in
  demo)
    setup
    model=${1:-yolov5s}
    [ $# -gt 0 ] && shift
    image=$(bus_jpg)
    mkdir -p out
    "$PY" tools/build.py "$model" -o "out/$model.engine" --imgsz 640 "$@"
    "$PY" tools/infer.py "out/$model.engine" "$image" --out out --show 5
    ;;
  test)
    setup
    exec "$PY" -m pytest -q "$@"
    ;;
  jetson)
    # JetPack 6 ships TensorRT 10.3 with its Python bindings (apt: python3-libnvinfer) in the system Python: the
    # venv sees them through --system-site-packages. No torch: building needs numpy and safetensors only.
    if ! python3 -c "import tensorrt" 2>/dev/null; then
      echo "quickstart.sh: error: the system python3 cannot import tensorrt: sudo apt install python3-libnvinfer" \
           "(JetPack 6), then run this again" >&2
      exit 2
    fi
    VENV=${VENV_JETSON:-.venv-jetson}
    PY=$VENV/bin/python
    [ -x "$PY" ] || python3 -m venv --system-site-packages "$VENV"
    "$PY" -m pip install -q -e . pycuda pillow
    model=${1:-yolov5s}
    [ $# -gt 0 ] && shift
    mkdir -p out
    "$PY" tools/build.py "$model" -o "out/$model.engine" --backend tensorrt "$@"
    echo "built out/$model.engine; run it with: $PY tools/infer.py out/$model.engine IMAGES --out out" >&2
    ;;
  *)
    echo "usage: ./quickstart.sh demo [MODEL] [build.py options] | test [pytest args] | jetson [MODEL] [build.py options]" >&2
    exit 2
    ;;
esac
