"""torchvision MobileNets with seeded random weights (the builders are shared with ref_resnet)."""
from tests.helpers.ref_resnet import build_network, hooked, rel_err, state_dict_arrays, torchvision_classifier  # noqa: F401
