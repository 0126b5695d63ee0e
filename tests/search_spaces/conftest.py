"""Helpers for the search-space tests: ONNX export of a built module, checked by onnxruntime."""

from __future__ import annotations

import warnings

import numpy as np
import pytest


def export_and_compare(module, example, *, atol: float = 1e-4) -> None:
    """Export ``module`` with the dynamo exporter, run it in onnxruntime, compare with torch."""
    import onnxruntime as ort
    import torch

    module = module.eval()
    with torch.no_grad():
        expected = module(example).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(module, (example,), dynamo=True, verbose=False)
    session = ort.InferenceSession(
        program.model_proto.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (name,) = [i.name for i in session.get_inputs()]
    (got,) = session.run(None, {name: example.numpy()})
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=atol, rtol=1e-3)


@pytest.fixture
def onnx_check():
    """``onnx_check(module, example)``: export to ONNX and compare onnxruntime's output."""
    pytest.importorskip("onnxruntime")
    return export_and_compare
