"""Tiny spaces, data and trainers the one-shot tests share (a uniquely named module, so
Ray workers that re-import a test module find it: every test folder is on their path)."""

from __future__ import annotations


def tiny_nb201(**kwargs):
    """A 3-cell NAS-Bench-201 network on 8x8 digits (4 channels)."""
    from raynas.search_spaces import NB201CellSpace

    kwargs.setdefault("input_shape", (1, 8, 8))
    kwargs.setdefault("num_classes", 10)
    kwargs.setdefault("channels", 4)
    kwargs.setdefault("cells_per_stage", 1)
    return NB201CellSpace(**kwargs)


def tiny_digits(n: int = 192, seed: int = 0):
    """``n`` digits split into train/val halves (+ 20% test), as (1, 8, 8) images."""
    from sklearn.datasets import load_digits

    from raynas.oneshot import Splits

    d = load_digits()
    x = (d.data[: int(n * 1.25)] / 16.0).reshape(-1, 1, 8, 8)
    return Splits.from_arrays(x, d.target[: int(n * 1.25)], seed=seed)


def quiet_trainer(**kwargs):
    import pytorch_lightning as pl

    kwargs.setdefault("logger", False)
    kwargs.setdefault("enable_checkpointing", False)
    kwargs.setdefault("enable_progress_bar", False)
    kwargs.setdefault("enable_model_summary", False)
    kwargs.setdefault("num_sanity_val_steps", 0)
    kwargs.setdefault("accelerator", "cpu")
    return pl.Trainer(**kwargs)
