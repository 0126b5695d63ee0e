"""Hardware-aware measurement: ONNX export, onnxruntime latency, energy meters."""
