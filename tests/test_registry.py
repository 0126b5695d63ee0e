"""Schedulers by name: their arguments are checked with the scheduler's own list (no Ray started)."""

from __future__ import annotations

import pytest

from raynas._registry import RegistryError, make_scheduler
from raynas.objectives import as_objectives

OBJS = as_objectives(["val_acc:max", "latency_p50_ms:min"])


def test_named_schedulers_build_with_the_front_doors_defaults() -> None:
    asha = make_scheduler("asha", objectives=OBJS, max_epochs=8)
    assert (asha._metric, asha._mode, asha._max_t) == ("val_acc", "max", 8)
    assert make_scheduler("fifo", objectives=OBJS, max_epochs=8) is None


def test_a_wrong_argument_names_the_kwargs_and_lists_the_schedulers_arguments() -> None:
    with pytest.raises(
        RegistryError,
        match=r"`scheduler_kwargs` \{'grace': 1\} do not fit the "
        r"'moasha' scheduler: .*'grace'.*\(its arguments are \['grace_period'",
    ):
        make_scheduler("moasha", objectives=OBJS, max_epochs=8, kwargs={"grace": 1})


def test_ray_asserts_become_errors_that_blame_the_search_when_no_kwargs_were_given() -> None:
    with pytest.raises(RegistryError, match=r"the 'asha' scheduler cannot run this search: Max"):
        make_scheduler("asha", objectives=OBJS, max_epochs=0)


def test_kwargs_for_an_already_built_scheduler_are_refused_not_ignored() -> None:
    built = make_scheduler("asha", objectives=OBJS, max_epochs=8)
    with pytest.raises(
        RegistryError, match=r"`scheduler` is already built \(AsyncHyperBandScheduler"
    ):
        make_scheduler(built, objectives=OBJS, max_epochs=8, kwargs={"grace_period": 2})
