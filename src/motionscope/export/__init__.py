"""Export for the edge: ONNX graphs (fp32 and int8) of a bundle's network."""

from motionscope.export.onnx import INT8_FILE, ONNX_FILE, export_info, export_onnx

__all__ = ["INT8_FILE", "ONNX_FILE", "export_info", "export_onnx"]
