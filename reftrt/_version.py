"""Which TensorRT Python API reftrt emulates.

reftrt mirrors one real API at a time, because the 10.x and 11.x APIs differ (11 removed the weak-typing
API, 10.3 lacks layers added later). Pick it with the environment variable REFTRT_TRT_VERSION before the first
import: "11.4" (default) or "10.3".
"""
import os

_FULL = {"11.4": "11.4.0.106", "10.3": "10.3.0"}

_requested = os.environ.get("REFTRT_TRT_VERSION", "11.4").strip()
_key = next((k for k in _FULL if _requested == k or _requested.startswith(k + ".")), None)
if _key is None:
    raise ImportError(f"REFTRT_TRT_VERSION={_requested!r}: reftrt emulates TensorRT {' or '.join(_FULL)}")

TRT_VERSION = _FULL[_key]
MAJOR = int(_key.split(".")[0])
IS_11 = MAJOR >= 11

# Project version of reftrt itself (not TensorRT's).
REFTRT_VERSION = "0.1.0"

# Members that exist only in one of the emulated APIs, as "Class.member". They are defined in the code for both
# and removed at import time for the version where the real bindings lack them (reftrt/__init__.py).
ONLY_10 = {
    "ITensor.dynamic_range", "ITensor.set_dynamic_range", "ITensor.reset_dynamic_range",
    "ILayer.precision", "ILayer.precision_is_set", "ILayer.reset_precision",
    "ILayer.set_output_type", "ILayer.output_type_is_set", "ILayer.reset_output_type",
    "Builder.platform_has_fast_fp16", "Builder.platform_has_fast_int8", "Builder.platform_has_tf32",
    "IBuilderConfig.int8_calibrator", "IBuilderConfig.algorithm_selector",
    "IBuilderConfig.quantization_flags", "IBuilderConfig.set_quantization_flag",
    "IBuilderConfig.get_quantization_flag", "IBuilderConfig.clear_quantization_flag",
    "IBuilderConfig.get_calibration_profile", "IBuilderConfig.set_calibration_profile",
    "INormalizationLayer.compute_precision",
}
ONLY_11 = {
    "INetworkDefinition.add_cumulative", "INetworkDefinition.add_squeeze", "INetworkDefinition.add_unsqueeze",
    "INetworkDefinition.add_dynamic_quantize", "INetworkDefinition.add_dynamic_quantize_v2",
    "INetworkDefinition.add_normalization_v2", "INetworkDefinition.add_plugin",
    "INetworkDefinition.mark_unfused_tensors_as_debug_tensors",
    "INetworkDefinition.unmark_unfused_tensors_as_debug_tensors",
    "ILayer.num_ranks", "IBuilderConfig.build_route", "IBuilderConfig.all_build_routes",
    "IBuilderConfig.max_num_tactics", "IBuilderConfig.tiling_optimization_level",
    "IBuilderConfig.l2_limit_for_tiling", "IBuilderConfig.remote_auto_tuning_config",
    "IOptimizationProfile.profile_stream",
    "IExecutionContext.unfused_tensors_debug_state",
    "Builder.build_engine_with_config", "Builder.build_serialized_network_to_stream",
    "ICudaEngine.get_aliased_input_tensor",
    "ITopKLayer.indices_type", "INormalizationLayer.is_v2",
    "INMSLayer.indices_type", "INonZeroLayer.indices_type",
    "IQuantizeLayer.block_shape", "IDequantizeLayer.block_shape",
}
