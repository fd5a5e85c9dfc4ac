"""What the tools study: predicted fusions (`fusion`), layer-by-layer parity (`compare`), the upstream PyTorch
models (`reference`, torch imported lazily) and task metrics (`metrics`)."""
