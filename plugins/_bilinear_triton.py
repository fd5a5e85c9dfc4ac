"""Triton kernel of `trt_netdefs::bilinear_resize` (imported only on a CUDA device; needs `triton`).

One program per BLOCK output elements of the contiguous [N*C, OH, OW] output. Each axis comes with precomputed
tables (plugins/bilinear.py `tables`): for output row oy, KH input rows iy[oy, i] with weights wy[oy, i]; for output
column ox, KW input columns ix[ox, j] with weights wx[ox, j] (padded taps have weight 0 and a valid index). The
output is sum_i wy[oy, i] * sum_j wx[ox, j] * x[nc, iy[oy, i], ix[ox, j]], accumulated in float32: the width pass
inside the height pass, as PyTorch's separable CPU kernel (width first, then height).
"""
import triton
import triton.language as tl


@triton.jit
def bilinear_resize_kernel(x_ptr, y_ptr, iy_ptr, wy_ptr, ix_ptr, wx_ptr, total, H, W, OH, OW, KH, KW,
                           BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < total
    ox = offs % OW
    rest = offs // OW
    oy = rest % OH
    nc = rest // OH
    base = nc * H * W
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for i in range(KH):
        yi = tl.load(iy_ptr + oy * KH + i, mask=mask, other=0).to(tl.int64)
        wyi = tl.load(wy_ptr + oy * KH + i, mask=mask, other=0.0)
        row = tl.zeros([BLOCK], dtype=tl.float32)
        for j in range(KW):
            xj = tl.load(ix_ptr + ox * KW + j, mask=mask, other=0).to(tl.int64)
            wxj = tl.load(wx_ptr + ox * KW + j, mask=mask, other=0.0)
            v = tl.load(x_ptr + base + yi * W + xj, mask=mask, other=0.0).to(tl.float32)
            row += wxj * v
        acc += wyi * row
    tl.store(y_ptr + offs, acc.to(y_ptr.dtype.element_ty), mask=mask)


def launch(x, y, iy, wy, ix, wx, block=256):
    """x [..., H, W] -> y [..., OH, OW] (contiguous CUDA tensors of the same dtype) on the current stream."""
    h, w = x.shape[-2:]
    oh, ow = y.shape[-2:]
    total = y.numel()
    if total == 0:
        return y
    grid = (triton.cdiv(total, block),)
    bilinear_resize_kernel[grid](x, y, iy, wy, ix, wx, total, h, w, oh, ow, iy.shape[1], ix.shape[1], BLOCK=block)
    return y
