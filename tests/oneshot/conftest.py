"""One-shot tests: one torch thread (the test machine's cores are shared; more threads only
oversubscribe them) and the tiny spaces and data the tests share."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


from oneshot_helpers import quiet_trainer, tiny_digits, tiny_nb201  # noqa: E402,F401


@pytest.fixture(scope="session")
def digits_splits():
    return tiny_digits()
