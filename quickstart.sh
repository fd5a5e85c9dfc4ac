#!/usr/bin/env bash
# trt-netdefs quick start. On a fresh machine:
#   ./quickstart.sh demo [MODEL] [--weights W]   set up .venv, build MODEL (default yolov5s) on the available
#                                                backend (TensorRT + GPU, else reftrt on the CPU), run bus.jpg through it
#   ./quickstart.sh test [PYTEST ARGS]           set up .venv and run the tests
set -euo pipefail
cd "$(dirname "$0")"
VENV=${VENV:-.venv}
PY=$VENV/bin/python

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
  # yolov5 7.0.14 (original anchor-based YOLOv5) without its heavy dependency list, then what its models import.
  "$PY" -m pip install -q --no-deps "yolov5==7.0.14" "ultralytics==8.4.190" ultralytics-thop
  "$PY" -m pip install -q pandas tqdm gitpython pyyaml requests scipy psutil matplotlib seaborn opencv-python-headless \
    "setuptools<81"
  # Reference implementations of the classifiers and segmenters (built with random weights in the tests).
  "$PY" -m pip install -q "timm==1.0.*" "segmentation-models-pytorch==0.6.*" "transformers==5.23.*"
  echo "$want" > "$stamp"
}

cmd=${1:-demo}
shift || true
case "$cmd" in
  demo)
    setup
    model=${1:-yolov5s}
    [ $# -gt 0 ] && shift
    image=$("$PY" -c "import yolov5, os; print(os.path.join(os.path.dirname(yolov5.__file__), 'data/images/bus.jpg'))")
    mkdir -p out
    "$PY" tools/build.py "$model" -o "out/$model.engine" --imgsz 640 "$@"
    "$PY" tools/infer.py "out/$model.engine" "$image" --out out
    echo "drawn detections: out/$(basename "$image")" >&2
    ;;
  test)
    setup
    exec "$PY" -m pytest -q "$@"
    ;;
  *)
    echo "usage: ./quickstart.sh demo [MODEL] [build.py options] | test [pytest args]" >&2
    exit 2
    ;;
esac
