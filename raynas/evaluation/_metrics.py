"""The metric keys every candidate report carries, documented in one place.

Kept free of torch and Ray so schedulers, searchers and results code can import it cheaply.
"""

from __future__ import annotations

#: Keys present in every report of a candidate trial (each epoch, and the failure report).
#:
#: - ``epoch``: epochs completed so far (1 after the first epoch; 0 in a failure report before
#:   any epoch finished). A resumed trial continues the count.
#: - ``train_loss``: mean training loss of the epoch (NaN in a failure report).
#: - ``val_loss``: validation loss after the epoch (NaN in a failure report).
#: - ``train_time_s``: seconds this candidate has spent training and validating, summed over
#:   restores (the time budget is measured against it).
#: - ``params``: number of parameters of the candidate's network.
#: - ``flops``: forward FLOPs for one sample (``torch.utils.flop_counter.FlopCounterMode``;
#:   0 in a failure report before the network ran).
#: - ``feasible``: False when the candidate failed (does not build, NaN/inf loss, out of
#:   memory, its network raised, an objective hook failed).
#: - ``reason``: why it failed; ``""`` when feasible.
#:
#: Tune adds its own keys (``training_iteration``, ``time_total_s``, ``trial_id``...).
REPORTED_METRICS: tuple[str, ...] = (
    "epoch",
    "train_loss",
    "val_loss",
    "train_time_s",
    "params",
    "flops",
    "feasible",
    "reason",
)

#: Keys added per task: ``val_acc`` (0..1, 0.0 in a failure report) and ``train_acc`` (the
#: accuracy on the training batches of the epoch as they were trained, Keras's ``accuracy``;
#: 0.0 in a failure report) for classification, ``val_mae`` (mean absolute error, NaN in a
#: failure report) for regression.
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("train_acc", "val_acc"),
    "regression": ("val_mae",),
}

#: Task metrics a user's own LightningModule (``module_factory``) may leave unlogged: NaN then.
OPTIONAL_METRICS: tuple[str, ...] = ("train_acc",)


def reported_metrics(task: str = "classification") -> tuple[str, ...]:
    """All keys every report of a candidate with ``task`` carries.

    Example:
        >>> reported_metrics("classification")[-1]
        'val_acc'
    """
    if task not in TASK_METRICS:
        from raynas.evaluation.errors import EvaluationError

        raise EvaluationError(f"`task` must be one of {list(TASK_METRICS)}, but got {task!r}.")
    return REPORTED_METRICS + TASK_METRICS[task]
