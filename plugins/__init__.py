"""Custom layers TensorRT's native layers cannot express: a PyTorch reference and a Triton GPU kernel each,
registered through `tensorrt.plugin` (TensorRT >= 10.6; reftrt.plugin on the CPU).

- `plugins.bilinear`: `trt_netdefs::bilinear_resize`, F.interpolate(mode='bilinear') where TensorRT's Resize
  differs from PyTorch (antialias=True when downscaling; scale_factor with a non-integer output size).
"""
