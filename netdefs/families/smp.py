"""segmentation-models-pytorch 0.6: `smp.Unet` over torchvision ResNets (unet-resnet18, unet-resnet34,
unet-resnet50) and `smp.FPN` over timm's PoolFormer-S12 (fpn-poolformer_s12, the kind of model behind FastSegFormer).

smp models keep their parts under `encoder.`, `decoder.` and `segmentation_head.`; the decoder's names say which
architecture it is (`decoder.blocks.0.conv1.0` Unet, `decoder.p5` FPN) and the encoder's which backbone
(`encoder.layer1.0.conv1` a torchvision ResNet, `encoder.model.stem.conv` timm's PoolFormer through `tu-`).

- Unet (`smp.Unet('resnet34', encoder_weights=None, classes=N)` defaults: encoder_depth 5, decoder_channels
  (256, 128, 64, 32, 16), BatchNorm, no attention, nearest interpolation): encoder = torchvision's ResNet under
  `encoder.` (features relu (stride 2), layer1..layer4); decoder `decoder.blocks.{i}`: nearest ×2 to the next
  feature's size, concatenated with it, two Conv2dReLU; head `segmentation_head.0` conv 3×3 to the classes.
  Nearest ×2 is TensorRT's Resize with ASYMMETRIC + FLOOR, exactly F.interpolate(size=...).
- FPN (`smp.FPN('tu-poolformer_s12', encoder_weights=None, classes=N)`): encoder = timm's poolformer_s12
  `features_only` under `encoder.model.` (stages_0 ... stages_3, strides 4..32); decoder `decoder.p5` 1×1, FPNBlocks
  p4..p2 (nearest ×2 + skip_conv), `decoder.seg_blocks.{0..3}` of Conv3x3GNReLU (GroupNorm 32, bilinear ×2
  align_corners=True), merged by sum; head `segmentation_head.0` 1×1 conv, `segmentation_head.1` bilinear ×4
  align_corners=True. Every resampling is an integer factor and maps exactly onto TensorRT's native Resize.
Output "logits" (batch, classes, H, W), before any activation; input "images" normalised on the host with the
ImageNet mean / std (smp's get_preprocessing_params for these encoders), the whole image resized (no crop).
"""
from ..errors import ModelMismatch
from ..family import Family, count
from ..layers.ops import conv2d, interpolate
from ..layers.smp import fpn_decoder, unet_decoder
from ..layers.timm import describe_variant, poolformer_features
from ..layers.torchvision import resnet_features
from .resnet import IMAGENET_MEAN, IMAGENET_STD, describe_resnet

SEGMENT_PREPROCESS = {"resize": "to imgsz (H, W), bilinear", "center_crop": False, "mean": IMAGENET_MEAN,
                      "std": IMAGENET_STD, "scale": 1 / 255, "rgb": True,
                      "done_by": "host (tools/infer.py, netdefs/tasks); not in the network"}
UNET_ENCODERS = {"resnet18": 18, "resnet34": 34, "resnet50": 50}
FPN_ENCODERS = {"poolformer_s12": "s12"}
FPN_UPSAMPLING = 4


class SMP(Family):
    name = "smp"
    reference = "segmentation_models_pytorch 0.6 Unet / FPN"
    task = "segment"
    models = tuple([f"unet-{e}" for e in UNET_ENCODERS] + [f"fpn-{e}" for e in FPN_ENCODERS])
    imgsz = 512
    demo_classes = 2

    def parse(self, name):
        return tuple(name.split("-", 1))  # ("unet", "resnet34")

    def describe(self, shapes):
        """The model name is this project's when it builds the combination, else a description ("an smp FPN with
        an unknown encoder")."""
        if "decoder.blocks.0.conv1.0.weight" in shapes:
            arch = "unet"
        elif "decoder.p5.weight" in shapes:
            arch = "fpn"
        else:
            raise ModelMismatch("these weights are not a segmentation-models-pytorch Unet or FPN (no "
                                "decoder.blocks.0.conv1.0 / decoder.p5 weights)")
        classes = count(shapes, "segmentation_head.0.bias")
        variant = describe_variant(shapes.items(), "encoder.model.", "_")
        if variant is not None:
            return f"{arch}-poolformer_{variant}", classes
        try:
            encoder, _ = describe_resnet(shapes, prefix="encoder.")
        except ModelMismatch:
            return f"an smp {'Unet' if arch == 'unet' else 'FPN'} with an unknown encoder", classes
        return f"{arch}-{encoder}", classes

    def quant_defaults(self, variant):
        """INT8 fallbacks: the segmentation head (the logits themselves) stays out of INT8."""
        return [("segmentation_head.*", "fp16")]

    def preprocess(self, variant, imgsz):
        return dict(SEGMENT_PREPROCESS)

    def define(self, net, variant, x, num_classes):
        arch, encoder = variant
        if arch == "unet":
            features = resnet_features(net, x, "encoder.", UNET_ENCODERS[encoder])
            y = conv2d(net, unet_decoder(net, x, features, "decoder."), "segmentation_head.0", num_classes, 3, 1, 1)
        else:
            features = poolformer_features(net, x, "encoder.model.", FPN_ENCODERS[encoder], stage_sep="_")
            y = conv2d(net, fpn_decoder(net, features, "decoder."), "segmentation_head.0", num_classes, 1)
            y = interpolate(net, y, "segmentation_head.1", scale_factor=FPN_UPSAMPLING, mode="bilinear",
                            align_corners=True)
        net.output(y, "logits")
        return {"outputs": ["logits"], "output_stride": 1}


FAMILY = SMP()
