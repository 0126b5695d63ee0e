"""DARTS / GDAS as Lightning modules: end to end on digits, exact second-order gradient,
GDAS sampling, DARTS-'s auxiliary skip, early-stop rollback, resume from a checkpoint."""

from __future__ import annotations

import logging

import pytest
from oneshot_helpers import quiet_trainer, tiny_nb201

torch = pytest.importorskip("torch")
pl = pytest.importorskip("pytorch_lightning")

from raynas.oneshot import (  # noqa: E402
    DARTS,
    GDAS,
    AuxiliarySkip,
    Mitigation,
    NB201Supernet,
    OneShotError,
    bilevel_loader,
)
from raynas.search_spaces._nb201 import EDGES  # noqa: E402

logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)


def fit(module, splits, epochs, **trainer_kwargs):
    trainer = quiet_trainer(max_epochs=epochs, **trainer_kwargs)
    trainer.fit(
        module,
        train_dataloaders=bilevel_loader(splits, batch_size=64),
        val_dataloaders=splits.loader("val", batch_size=256),
    )
    return trainer


def test_darts_runs_end_to_end_on_digits_and_returns_a_valid_config(digits_splits):
    space = tiny_nb201()
    search = DARTS(space, epochs=2, arch_learning_rate=3e-2, eigen_iterations=3, seed=0)
    alpha0 = search.alpha.detach().clone()
    trainer = fit(search, digits_splits, 2)
    config = search.derive(learning_rate=0.01)
    assert space.validate(config) == config
    assert config["learning_rate"] == 0.01
    assert all(config[e] != "none" for e in EDGES)  # none is never derived
    assert not torch.allclose(search.alpha.detach(), alpha0)  # the arch steps moved alpha
    metrics = trainer.callback_metrics
    assert {"val_acc", "val_loss", "train_loss", "skip_share", "eigenvalue"} <= set(metrics)
    assert 0.0 <= float(metrics["val_acc"]) <= 1.0
    assert len(search.eigenvalues) == 2 and len(search.alpha_history) == 2
    assert search.summary["epoch"] == 2
    assert search.summary["arch_str"] == space.to_arch_str(config)
    assert search.summary["skip_share"] == sum(config[e] == "skip_connect" for e in EDGES) / 6


def test_gdas_runs_and_samples_reproducibly(digits_splits):
    space = tiny_nb201()
    a, b = GDAS(space, epochs=1, seed=3), GDAS(space, epochs=1, seed=3)
    draws_a = [a.sample_weights()[1] for _ in range(5)]
    assert draws_a == [b.sample_weights()[1] for _ in range(5)]
    assert len({tuple(d) for d in draws_a}) > 1
    h, index = GDAS(space, epochs=1, seed=4).sample_weights()
    assert torch.equal(h.detach(), torch.nn.functional.one_hot(torch.tensor(index), 5).float())
    search = GDAS(space, epochs=2, eigen_every=0, seed=1)
    fit(search, digits_splits, 2)
    assert space.validate(search.derive())
    assert search.eigenvalues == []
    assert search.tau == pytest.approx(0.1)


def test_gdas_straight_through_weights_are_hard_forward_and_soft_backward():
    search = GDAS(tiny_nb201(), epochs=1, seed=0)
    h, index = search.sample_weights()
    assert torch.equal(h.detach(), torch.nn.functional.one_hot(torch.tensor(index), 5).float())
    c = torch.randn(6, 5, generator=torch.Generator().manual_seed(0))
    (grad,) = torch.autograd.grad((h * c).sum(), search.alpha)
    assert bool((grad != 0).all())  # unsampled ops' alphas get the soft gradient
    # and through the network: the edges into the output node are always used
    x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,))
    loss = torch.nn.functional.cross_entropy(search.mixed_logits(x, sample=True), y)
    (grad,) = torch.autograd.grad(loss, search.alpha)
    assert int((grad != 0).any(-1).sum()) >= 2


def test_second_order_gradient_matches_the_exact_unrolled_gradient():
    torch.manual_seed(0)
    space = tiny_nb201(channels=2)
    search = DARTS(space, order=2, epochs=1, weight_learning_rate=0.1, seed=0).double()
    x = torch.randn(16, 1, 8, 8, dtype=torch.float64)
    y = torch.randint(0, 10, (16,))
    train, val = (x[:8], y[:8]), (x[8:], y[8:])
    search.arch_step(train, val)
    approx = search.alpha.grad.clone()

    # exact: d/dalpha L_val(w - xi * (dL_train/dw + wd * w), alpha) by double backward
    net, alpha = search.supernet, search.alpha
    params = [p for p in net.parameters()]
    names = [n for n, _ in net.named_parameters()]
    # functional_call targets forward(); forward_mixed is reached by a swap of the parameters
    saved = [p.detach().clone() for p in params]
    grads = torch.autograd.grad(
        torch.nn.functional.cross_entropy(
            net.forward_mixed(train[0], torch.softmax(alpha, -1)), train[1]
        ),
        params,
        create_graph=True,
        allow_unused=True,
    )
    unrolled = [
        p - 0.1 * ((g if g is not None else torch.zeros_like(p)) + search.weight_decay * p)
        for p, g in zip(params, grads, strict=True)
    ]
    out = torch.func.functional_call(
        _MixedView(net, torch.softmax(alpha, -1)),
        {f"net.{n}": w for n, w in zip(names, unrolled, strict=True)},
        (val[0],),
    )
    (exact,) = torch.autograd.grad(torch.nn.functional.cross_entropy(out, val[1]), alpha)
    for p, s in zip(params, saved, strict=True):
        assert torch.equal(p.detach(), s)  # arch_step restored the weights
    torch.testing.assert_close(approx, exact, rtol=2e-3, atol=1e-7)
    first = torch.autograd.grad(
        torch.nn.functional.cross_entropy(
            net.forward_mixed(val[0], torch.softmax(alpha, -1)), val[1]
        ),
        alpha,
    )[0]
    assert not torch.allclose(first, exact, rtol=1e-3, atol=1e-9)  # the 2nd-order term matters


class _MixedView(torch.nn.Module):
    def __init__(self, net, weights):
        super().__init__()
        self.net, self.weights = net, weights

    def forward(self, x):
        return self.net.forward_mixed(x, self.weights)


def test_auxiliary_skip_with_all_weight_on_none_is_the_all_skip_cell():
    space = tiny_nb201()
    net = NB201Supernet(space, seed=0).eval()
    x = torch.randn(3, 1, 8, 8)
    none = torch.nn.functional.one_hot(torch.zeros(6, dtype=torch.long), 5).float()
    with torch.no_grad():
        torch.testing.assert_close(
            net.forward_mixed(x, none, aux_skip=1.0),
            net(x, {e: "skip_connect" for e in EDGES}),
            atol=1e-6,
            rtol=0,
        )
    search = DARTS(space, epochs=4, mitigation=AuxiliarySkip())
    assert search.aux_skip == 1.0


class _AlwaysRollBack(Mitigation):
    def rollback(self, eigenvalues):
        return 1 if len(eigenvalues) >= 2 else None


def test_rollback_mitigation_stops_and_restores_earlier_alpha(digits_splits):
    search = DARTS(
        tiny_nb201(),
        epochs=5,
        arch_learning_rate=0.05,
        eigen_iterations=2,
        mitigation=_AlwaysRollBack(),
    )
    trainer = fit(search, digits_splits, 5)
    assert trainer.current_epoch == 2  # stopped after the second epoch
    assert search.summary["early_stopped"] is True
    torch.testing.assert_close(search.alpha.detach(), torch.tensor(search.alpha_history[0]))


class _SaveEveryEpoch(pl.callbacks.Checkpoint):
    def __init__(self, folder):
        self.folder = folder

    def on_train_epoch_end(self, trainer, module):
        trainer.save_checkpoint(self.folder / f"epoch{trainer.current_epoch + 1}.ckpt")


class _AlphaAtStart(pl.Callback):
    def __init__(self):
        self.seen = {}

    def on_train_epoch_start(self, trainer, module):
        self.seen[trainer.current_epoch + 1] = module.alpha.detach().clone()


def test_resume_continues_epoch_3_from_the_saved_arch_params(tmp_path, digits_splits):
    space = tiny_nb201()
    kwargs = dict(epochs=3, arch_learning_rate=0.05, eigen_iterations=2, seed=0)
    first = DARTS(space, **kwargs)
    fit(first, digits_splits, 2, callbacks=[_SaveEveryEpoch(tmp_path)], enable_checkpointing=True)
    saved = torch.load(tmp_path / "epoch2.ckpt", weights_only=False)
    assert torch.equal(saved["state_dict"]["alpha"], first.alpha.detach())

    resumed = DARTS(space, **kwargs)  # fresh module, different object, same settings
    probe = _AlphaAtStart()
    trainer = quiet_trainer(max_epochs=3, callbacks=[probe])
    trainer.fit(
        resumed,
        train_dataloaders=bilevel_loader(digits_splits, batch_size=64),
        val_dataloaders=digits_splits.loader("val", batch_size=256),
        ckpt_path=tmp_path / "epoch2.ckpt",
    )
    assert list(probe.seen) == [3]  # only epoch 3 ran
    assert torch.equal(probe.seen[3], saved["state_dict"]["alpha"])
    assert resumed.eigenvalues[:2] == first.eigenvalues
    assert len(resumed.eigenvalues) == 3
    adam = trainer.optimizers[1].state_dict()["state"][0]
    assert int(adam["step"]) == 3 * 2  # 2 steps per epoch, counted across the restart
    assert not torch.equal(resumed.alpha.detach(), probe.seen[3])


def test_bad_settings_name_the_argument():
    space = tiny_nb201()
    with pytest.raises(OneShotError, match="`order` must be 1 or 2, but got 3"):
        DARTS(space, order=3)
    with pytest.raises(OneShotError, match="`arch_learning_rate` must be a number > 0, but got -1"):
        DARTS(space, arch_learning_rate=-1)
    with pytest.raises(OneShotError, match="`epochs` must be an int >= 1, but got 0"):
        GDAS(space, epochs=0)
    with pytest.raises(OneShotError, match="`tau_min` must be <= `tau_max`"):
        GDAS(space, tau_min=5.0, tau_max=1.0)
    with pytest.raises(OneShotError, match="`mitigation` must be a Mitigation"):
        DARTS(space, mitigation="darts-")
    with pytest.raises(OneShotError, match="`space` must be an NB201CellSpace, but got str"):
        DARTS("nb201")
