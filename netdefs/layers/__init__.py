"""What networks are made of: `Net` (naming, weights, precision), the op layer (`ops`: one function per TensorRT op),
INT8 Q/DQ (`quant`), and blocks grouped by the upstream codebase they mirror (`yolo`, `torchvision`, `timm`, `smp`,
`transformers`)."""
