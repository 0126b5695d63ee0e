"""``raynas.search``: a whole hardware-aware search, its results, plot and export."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import raynas
from raynas.config import ConfigError
from raynas.search_spaces import Choice, MLPSpace
from raynas.strategies import RandomSearch

pytestmark = pytest.mark.ray


def small_space() -> MLPSpace:
    return MLPSpace(
        input_shape=(1, 8, 8),
        num_classes=10,
        max_layers=2,
        width=Choice([16, 32, 64]),
        batch_size=64,
        learning_rate=3e-3,
        weight_decay=1e-4,
        dropout=0.0,
        batch_norm=False,
    )


def fast_cpu():
    from raynas.hardware import HardwareTarget

    return HardwareTarget(
        name="cpu",
        input_shape=(1, 8, 8),
        min_runs=10,
        min_seconds=0.05,
        warmup_runs=2,
        energy="off",
    )


# trained first: two layers of 64 with ReLU, which NSGA-II with seed 0 draws in none of its
# first eight configs
FIRST = {
    "layers": [{"width": 64}, {"width": 64}],
    "activation": "relu",
    "dropout": 0.0,
    "batch_norm": False,
    "learning_rate": 0.003,
    "weight_decay": 0.0001,
    "batch_size": 64,
}


@pytest.fixture(scope="module")
def finished(ray_session, tmp_path_factory):
    storage = str(tmp_path_factory.mktemp("runs"))
    results = raynas.search(
        small_space(),
        "digits",
        objectives=["val_acc:max", "latency_p50_ms:min"],
        strategy="nsga2",
        scheduler="moasha",
        hardware=[fast_cpu()],
        budget=6,
        max_epochs=2,
        storage_path=storage,
        name="api",
        seed=0,
        max_concurrent=2,
        verbose=0,
        points_to_evaluate=[FIRST],
    )
    return results


def test_every_candidate_is_reported_with_objectives(finished) -> None:
    assert len(finished) == 6
    df = finished.to_dataframe()
    assert {"val_acc", "latency_p50_ms", "feasible", "reason", "params", "flops"} <= set(df.columns)
    feasible = finished.feasible()
    assert feasible, [c.reason for c in finished.candidates]
    assert all(c.value("latency_p50_ms") > 0 for c in feasible)
    keys = {json.dumps(c.config, sort_keys=True) for c in finished.candidates}
    assert len(keys) == 6, "no candidate is trained twice"
    space = small_space()
    assert space.key(FIRST) in {space.key(c.config) for c in finished.candidates}


def test_pareto_front_is_non_dominated(finished) -> None:
    front = finished.pareto_front()
    assert front
    for a in front:
        for b in finished.feasible():
            better = b.value("val_acc") >= a.value("val_acc") and b.value(
                "latency_p50_ms"
            ) <= a.value("latency_p50_ms")
            strictly = b.value("val_acc") > a.value("val_acc") or b.value(
                "latency_p50_ms"
            ) < a.value("latency_p50_ms")
            assert not (better and strictly)
    assert finished.best("val_acc").value("val_acc") == max(
        c.value("val_acc") for c in finished.feasible()
    )
    assert finished.hypervolume() > 0


def test_plot_and_export_give_onnx_models_that_match_torch(finished, tmp_path) -> None:
    import onnxruntime as ort
    import torch

    from raynas._export import load_trained_model

    png = finished.plot_pareto(str(tmp_path / "front.png"))
    assert os.path.getsize(png) > 1000
    folders = finished.export(str(tmp_path / "export"), top=2)
    assert 1 <= len(folders) <= 2
    x = np.random.default_rng(0).random((1, 1, 8, 8), dtype=np.float32)
    for folder in folders:
        assert {"model.onnx", "config.json", "weights.pt", "metrics.json"} <= set(
            os.listdir(folder)
        )
        sess = ort.InferenceSession(
            os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"]
        )
        meta = sess.get_modelmeta().custom_metadata_map
        config = json.loads(meta["raynas.config"])
        assert json.loads(meta["raynas.metrics"])["val_acc"] > 0
        cand = next(c for c in finished.candidates if c.config == config)
        model = load_trained_model(finished.space, config, cand.checkpoint_path)
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy()
        got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
        assert got.argmax() == expected.argmax()


def _warm_kwargs(finished, tmp_path) -> dict:
    """A search of 2 new candidates that starts from the `finished` one."""
    return dict(
        objectives=["val_acc:max", "latency_p50_ms:min"],
        strategy="nsga2",
        hardware=[fast_cpu()],
        budget=2,
        max_epochs=1,
        storage_path=str(tmp_path),
        name="warm",
        warm_start=finished.path,
        max_concurrent=2,
        verbose=0,
    )


def test_warm_start_tells_the_earlier_candidates_with_their_hardware_measured_again(
    finished, tmp_path
) -> None:
    import math

    from raynas.evaluation._runner import split_config
    from raynas.frontdoor.options import SearchOptions
    from raynas.frontdoor.plan import make_plan
    from raynas.frontdoor.run import make_search_alg

    spec = make_plan(SearchOptions(small_space(), "digits", **_warm_kwargs(finished, tmp_path)))
    strategy = make_search_alg(spec).searcher.strategy
    space = spec.space
    told = {o.key: o for o in strategy.observations}
    earlier = {space.key(split_config(space, c.config)): c for c in finished.candidates}
    assert set(told) == set(earlier)
    for key, c in earlier.items():
        if math.isfinite(c.value("val_acc")):
            assert told[key].metrics["val_acc"] == c.value("val_acc")  # as trained
            assert told[key].metrics["latency_p50_ms"] > 0
        else:
            assert not told[key].ok
    # measured again into this search's own cache, not copied from the earlier search
    assert os.listdir(os.path.join(spec.experiment_path, "measurements"))
    assert space.key(strategy.ask()) not in earlier  # the budget goes to new candidates
    # ...and kept, as measured here, for this search's results
    with open(os.path.join(spec.experiment_path, "warm_start.json")) as f:
        kept = {c["trial_id"]: c for c in json.load(f)}
    assert set(kept) == {c.trial_id for c in finished.candidates}
    for c in finished.candidates:
        k = kept[c.trial_id]
        assert k["extra"]["warm_start"] == finished.path
        assert k["checkpoint_path"] == c.checkpoint_path  # the weights stay where they are
        key = space.key(split_config(space, c.config))
        if told[key].ok:
            assert k["feasible"]
            assert k["metrics"]["val_acc"] == c.value("val_acc")
            assert k["metrics"]["latency_p50_ms"] == told[key].metrics["latency_p50_ms"]


def test_warm_start_from_a_search_of_other_objectives_is_refused(finished, tmp_path) -> None:
    import dataclasses

    from raynas.results import NASResults

    renamed = [
        dataclasses.replace(
            c, metrics={("top1" if k == "val_acc" else k): v for k, v in c.metrics.items()}
        )
        for c in finished.candidates
    ]
    earlier = NASResults(renamed, ["top1:max", "latency_p50_ms:min"], space=finished.space)
    earlier.path = finished.path
    kwargs = {**_warm_kwargs(finished, tmp_path), "warm_start": earlier}
    with pytest.raises(
        ConfigError, match=r"never reported \['val_acc'\], .* they report \[.*'top1'"
    ):
        raynas.search(small_space(), "digits", **kwargs)
    assert not os.listdir(tmp_path)  # refused before anything ran


def test_a_failed_earlier_candidate_stays_in_the_results_as_failed(finished, tmp_path) -> None:
    import dataclasses

    from raynas.frontdoor.options import SearchOptions
    from raynas.frontdoor.plan import make_plan
    from raynas.frontdoor.run import make_search_alg
    from raynas.frontdoor.warm import with_warm_start
    from raynas.results import NASResults

    first, *rest = finished.candidates
    broken = dataclasses.replace(
        first, metrics={"epoch": 1}, feasible=False, reason="trial error: RuntimeError: boom"
    )
    earlier = NASResults([broken, *rest], finished.objectives, space=finished.space)
    earlier.path = finished.path
    kwargs = {**_warm_kwargs(finished, tmp_path), "warm_start": earlier}
    spec = make_plan(SearchOptions(small_space(), "digits", **kwargs))
    strategy = make_search_alg(spec).searcher.strategy
    assert sum(not o.ok for o in strategy.observations) >= 1
    merged = with_warm_start(NASResults([], spec.objectives, space=spec.space), spec)
    assert len(merged) == len(finished)
    failed = next(c for c in merged.candidates if c.trial_id == first.trial_id)
    assert not failed.feasible
    assert failed.reason == "failed in the earlier search: trial error: RuntimeError: boom"
    assert failed not in merged.pareto_front()


def test_a_warm_start_from_a_killed_search_skips_the_trials_that_never_started(
    finished, tmp_path
) -> None:
    import dataclasses

    from raynas.frontdoor.options import SearchOptions
    from raynas.frontdoor.plan import make_plan
    from raynas.results import NASResults

    # a driver killed right after Tune made a trial: its folder exists, nothing was reported
    never = dataclasses.replace(
        finished.candidates[0], trial_id="never", config={}, metrics={}, feasible=False
    )
    earlier = NASResults([*finished.candidates, never], finished.objectives, space=finished.space)
    earlier.path = finished.path
    kwargs = {**_warm_kwargs(finished, tmp_path), "warm_start": earlier}
    spec = make_plan(SearchOptions(small_space(), "digits", **kwargs))
    assert [p.source.trial_id for p in spec.warm_start] == [c.trial_id for c in finished.candidates]


@pytest.mark.slow
def test_a_warm_started_search_trains_only_new_candidates(finished, tmp_path) -> None:
    from raynas._export import export_candidate
    from raynas.evaluation._runner import split_config

    again = raynas.search(small_space(), "digits", **_warm_kwargs(finished, tmp_path))
    space = small_space()
    earlier = {space.key(split_config(space, c.config)) for c in finished.candidates}
    new = [c for c in again.candidates if "warm_start" not in c.extra]
    assert len(new) == 2  # the budget counts new candidates only
    assert not {space.key(split_config(space, c.config)) for c in new} & earlier
    # the results hold the earlier candidates too, so the front covers both searches
    carried = [c for c in again.candidates if "warm_start" in c.extra]
    assert {c.trial_id for c in carried} == {c.trial_id for c in finished.candidates}
    assert {c.extra["warm_start"] for c in carried} == {finished.path}
    reloaded = raynas.load_results(again.path)
    assert sorted(c.trial_id for c in reloaded.candidates) == sorted(
        c.trial_id for c in again.candidates
    )
    df = again.to_dataframe()
    assert (df["warm_start"] == finished.path).sum() == len(carried)
    pool = carried + new
    front_ids = {c.trial_id for c in again.pareto_front()}
    for c in pool:  # nothing in the pool dominates a front member
        if c.trial_id in front_ids:
            assert not any(
                d.value("val_acc") >= c.value("val_acc")
                and d.value("latency_p50_ms") <= c.value("latency_p50_ms")
                and (d.value("val_acc"), d.value("latency_p50_ms"))
                != (c.value("val_acc"), c.value("latency_p50_ms"))
                for d in pool
                if d.feasible
            )
    # an earlier candidate exports from its own search's checkpoint
    ok = next(c for c in carried if c.feasible)
    folder = export_candidate(again.space, ok, str(tmp_path / "earlier"))
    assert os.path.isfile(os.path.join(str(tmp_path / "earlier"), "model.onnx")), folder


def test_warm_start_from_another_space_is_refused(finished, tmp_path) -> None:
    other = MLPSpace(input_shape=(1, 8, 8), num_classes=10, max_layers=1, width=Choice([8, 128]))
    with pytest.raises(ConfigError, match=r"`warm_start`: candidate .* is not a config of this"):
        raynas.search(
            other, "digits", storage_path=str(tmp_path), warm_start=finished.path, verbose=0
        )
    assert not os.listdir(tmp_path)


def _trial_pids(experiment: str) -> list[int]:
    pids = []
    for entry in sorted(os.listdir(experiment)):
        result = os.path.join(experiment, entry, "result.json")
        if os.path.exists(result):
            with open(result) as f:
                pids.append(json.loads(f.readline())["pid"])
    return pids


def test_candidates_share_worker_processes(finished) -> None:
    pids = _trial_pids(finished.path)
    assert len(pids) == 6
    # 2 at a time: each worker trains several candidates, importing torch once
    assert len(set(pids)) < len(pids), pids


def test_reuse_actors_false_gives_every_candidate_its_own_process(ray_session, tmp_path) -> None:
    results = raynas.search(
        small_space(),
        "digits",
        budget=2,
        max_epochs=1,
        max_concurrent=1,
        storage_path=str(tmp_path),
        name="fresh",
        verbose=0,
        reuse_actors=False,
    )
    assert len(results.feasible()) == 2
    pids = _trial_pids(results.path)
    assert len(pids) == 2 and len(set(pids)) == 2, pids


def test_a_misspelt_space_argument_names_the_closest_one(tmp_path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"`max_layer` is not an argument of MLPSpace \(did you "
        r"mean `max_layers`\?\); its arguments are \['input_shape'",
    ):
        raynas.search("mlp", "digits", space_kwargs={"max_layer": 3}, storage_path=str(tmp_path))
    assert not os.listdir(tmp_path)


def test_a_users_objective_hook_reports_a_metric_the_search_optimizes(
    ray_session, tmp_path
) -> None:
    def weight_norm(model, config):  # defined here: shipped to the workers by value
        return {"weight_norm": float(sum(p.detach().norm() for p in model.parameters()))}

    results = raynas.search(
        small_space(),
        "digits",
        objectives=["val_acc:max", "weight_norm:min"],
        strategy="nsga2",
        budget=2,
        max_epochs=1,
        storage_path=str(tmp_path),
        name="hook",
        verbose=0,
        trainable_kwargs={"objectives": [weight_norm]},
    )
    assert len(results.feasible()) == 2, [c.reason for c in results.candidates]
    assert all(c.value("weight_norm") > 0 for c in results.feasible())
    assert results.pareto_front()


def test_results_reload_from_the_folder(finished) -> None:
    again = raynas.load_results(finished.path)
    assert len(again) == len(finished)
    assert {c.trial_id for c in again.pareto_front()} == {
        c.trial_id for c in finished.pareto_front()
    }


def _copy_of(finished, tmp_path):
    """A copy of the finished search's folder, to damage: the module's fixture stays whole."""
    import shutil

    return shutil.copytree(finished.path, tmp_path / "api")


def _strategy_state(folder) -> tuple[dict, list]:
    import pickle

    file = max(folder.glob("searcher-state-*.pkl"))  # a resumed search adds its own file
    with open(file, "rb") as f:
        state = pickle.load(f)["strategy"]
    space = small_space()
    return {space.key(c): (m, ok, fid) for c, m, ok, fid in state["observations"]}, state["pending"]


def test_resume_rebuilds_a_searcher_state_cut_short_by_a_killed_driver(finished, tmp_path, caplog):
    # A driver killed while Tune copies its state into the folder leaves the file empty; Tune
    # then restarted the experiment with a half-restored searcher and hung.
    folder = _copy_of(finished, tmp_path)
    saved, pending = _strategy_state(folder)
    (file,) = folder.glob("searcher-state-*.pkl")
    file.write_bytes(b"")
    with caplog.at_level("WARNING", logger="raynas.tune"):
        resumed = raynas.resume(str(folder), verbose=0)
    assert f"the searcher state {file.name} is empty (0 bytes); rebuilt" in caplog.text
    assert "from Tune's experiment state (6 trials told, 0 left to finish, 0 dropped" in caplog.text
    rebuilt, rebuilt_pending = _strategy_state(folder)
    # the same results, metrics and fidelities (MO-ASHA stopped some early) as the lost state
    assert rebuilt == saved and len(saved) == 6
    assert rebuilt_pending == pending == []
    assert len(resumed) == 6  # the budget was spent: nothing trained again
    assert {c.trial_id for c in resumed.candidates} == {c.trial_id for c in finished.candidates}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"strategy": "annealing"},
            r"`strategy` must be one of \[.*\] or 'module:attribute', but got 'annealing'",
        ),
        ({"scheduler": "median"}, r"`scheduler` must be one of \[.*'moasha'.*\]"),
        (
            {"constraint": ["params <= 5"]},
            r"`constraint` is not an option of raynas.search "
            r"\(did you mean `constraints`\?\)",
        ),
        ({"budget": 0}, r"`budget` must be an int >= 1 \(the number of candidates\), but got 0"),
        ({"objectives": ["val_acc:best"]}, r"`mode` of objective `val_acc` must be one of"),
        (  # a typo'd metric: Tune would stop the search at the first report
            {"objectives": ["val_accuracy:max"]},
            r"no candidate of this search reports `val_accuracy` \(did you mean `val_acc`\?\)",
        ),
        (  # a typo'd hardware metric: every candidate would end infeasible ("missing")
            {"objectives": ["val_acc:max", "latency_p50 <= 5"]},
            r"reports `latency_p50` \(did you mean `latency_p50_ms`\?\).*'energy_j'",
        ),
        (  # the first target's metrics carry no prefix
            {"objectives": ["val_acc", "cpu_latency_p50_ms:min"], "hardware": ["cpu"]},
            r"no candidate of this search reports `cpu_latency_p50_ms`",
        ),
        (
            {"objectives": ["val_acc:max", "latency_p50_ms <= fast"]},
            r"constraint 'latency_p50_ms <= fast' must read `NAME OP BOUND`",
        ),
        ({"resources_per_trial": {"gpu": -1}}, r"`resources_per_trial.gpu` must be a number >= 0"),
        (
            {"points_to_evaluate": [{**FIRST, "activation": "swish"}]},
            r"`points_to_evaluate\[0\]` is not a config of the space .*`activation` must be one of",
        ),
        (
            {"warm_start": "no/such/search"},
            r"`warm_start`: `path` must be a raynas experiment folder .*no/such/search",
        ),
        ({"warm_start": 3}, r"`warm_start` must be the folder of an earlier raynas search .* 3"),
        (
            {"warm_start": "x", "hardware": [{"name": "cpu", "quantization": "dynamic"}]},
            r"`warm_start` cannot be combined with quantizing targets \['cpu'\]",
        ),
        (
            {"reuse_actors": "yes"},
            r"`reuse_actors` must be true or false, but got 'yes'",
        ),
        (  # before, the strategy and scheduler were first built after the folder was written
            {"strategy": "nsga2", "strategy_kwargs": {"popsize": 8}},
            r"`strategy` = 'nsga2': `popsize` is not an argument of MultiObjectiveEvolution",
        ),
        (  # before, ignored
            {"strategy": RandomSearch(small_space(), seed=0), "strategy_kwargs": {"seed": 1}},
            r"`strategy` = RandomSearch: `strategy` is already built \(RandomSearch\); it takes "
            r"no further arguments, but got \['seed'\]",
        ),
        (
            {"scheduler": "asha", "scheduler_kwargs": {"grace": 1}},
            r"`scheduler_kwargs` \{'grace': 1\} do not fit the 'asha' scheduler: .*'grace'.* "
            r"\(its arguments are \['grace_period', 'reduction_factor'",
        ),
        (
            {"scheduler": "moasha", "scheduler_kwargs": {"grace_period": 0}},
            r"do not fit the 'moasha' scheduler: `grace_period` must be a finite number > 0",
        ),
        (
            {"trainable_kwargs": {"max_epochs": 3}},
            r"`trainable_kwargs.max_epochs` is set by the search itself: pass `max_epochs`",
        ),
        (
            {"trainable_kwargs": {"epochs": 3}},
            r"`trainable_kwargs.epochs` is not a known key; the keys are \[.*'module_factory'",
        ),
        (
            {"trainable_kwargs": {"objectives": [3]}},
            r"`trainable_kwargs.objectives\[0\]` must be a hook f\(model, config\) -> dict",
        ),
        ({"name": "a/b"}, r"`name` must be a folder name without path separators"),
        (
            {"latency_screening": True, "constraints": ["latency_p50_ms <= 5"], "scheduler": "pbt"},
            r"`latency_screening` screens the candidates a strategy proposes one by one",
        ),
    ],
)
def test_bad_arguments_fail_before_any_trial(kwargs, message, tmp_path) -> None:
    with pytest.raises((ConfigError, ValueError), match=message):
        raynas.search(small_space(), "digits", storage_path=str(tmp_path), verbose=0, **kwargs)
    assert not os.listdir(tmp_path), "nothing may start before the input is checked"


def test_the_trained_model_comes_back_and_scores_on_the_test_split(finished) -> None:
    import torch

    from raynas.data import get_datamodule

    best = finished.best()
    model = finished.load_model(best)
    x, y = get_datamodule("digits").arrays("test")
    with torch.no_grad():
        acc = float((model(x).argmax(-1) == y).float().mean())
    test = finished.evaluate(best, split="test")
    assert test["test_acc"] == pytest.approx(acc)
    assert finished.evaluate(best, split="val")["val_acc"] == pytest.approx(
        best.metrics["val_acc"], abs=1e-6
    )
    again = raynas.load_results(finished.path)  # kept in the folder: the report shows it
    assert [c.metrics.get("test_acc") for c in again.candidates if c.trial_id == best.trial_id] == [
        pytest.approx(acc)
    ]
    assert "test_acc" in again.summary_table(again.candidates)
    with pytest.raises(
        ConfigError, match=r"`split` must be one of \['train', 'val', 'test'\], but got 'dev'"
    ):
        finished.evaluate(best, split="dev")
    with pytest.raises(ConfigError, match=r"`candidate` 'nope' is not a trial of this search"):
        finished.load_model("nope")


def test_retrain_on_train_and_validation_as_a_tune_trial(finished) -> None:
    best = finished.best()
    again = finished.retrain(best, epochs=1, on="train+val")
    assert again.feasible and again.extra == {"retrained_from": best.trial_id, "on": "train+val"}
    assert again.metrics["epoch"] == 1 and 0 < again.metrics["test_acc"] <= 1
    assert again.metrics["latency_p50_ms"] == best.metrics["latency_p50_ms"]  # same network
    assert os.path.dirname(os.path.dirname(again.trial_path)).endswith(
        os.path.join("api", "retrain")
    )
    model = finished.load_model(again)
    assert sum(p.numel() for p in model.parameters()) == best.metrics["params"]
    with pytest.raises(ConfigError, match=r"`on` must be one of \['train', 'train\+val'\]"):
        finished.retrain(best, on="all")
