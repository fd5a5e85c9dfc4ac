"""What the tools study: predicted fusions (`fusion`), layer-by-layer parity (`compare`), the upstream PyTorch
models (`reference`, torch imported lazily), task metrics (`metrics`), and real TensorRT engine listings aligned with
the prediction (`real_engines`)."""
