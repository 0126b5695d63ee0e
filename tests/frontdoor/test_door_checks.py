"""What the front door refuses before Ray starts, and what it takes from the data.

Each test patches the step that starts Ray to fail, so a refusal that came after Ray started
would fail the test with "Ray was started".
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from door_models import build_model

import raynas
from raynas.frontdoor import ConfigError, SearchOptions
from raynas.frontdoor.plan import make_plan
from raynas.search_spaces import DefineByRunSpace


@pytest.fixture(autouse=True)
def no_ray(monkeypatch):
    def started(*args, **kwargs):
        raise AssertionError("Ray was started")

    monkeypatch.setattr("raynas.frontdoor.run.ensure_ray", started)


def test_a_define_by_run_space_gets_its_input_shape_from_the_data() -> None:
    plan = make_plan(
        SearchOptions(
            DefineByRunSpace(build_model),
            "digits",
            objectives=["val_acc:max", "latency_p50_ms:min"],
            verbose=0,
        )
    )
    assert plan.input_shape == (1, 8, 8) and plan.num_classes == 10
    assert [t.input_shape for t in plan.hardware] == [(1, 8, 8)]


def test_a_users_space_class_is_shaped_to_the_data() -> None:
    plan = make_plan(
        SearchOptions("raynas.search_spaces:MLPSpace", "mnist1d", space_kwargs={"max_layers": 2})
    )
    assert plan.space.input_shape == (1, 40) and plan.space.num_classes == 10


def test_constraints_in_python_and_in_the_yaml_give_the_same_search(tmp_path) -> None:
    from raynas.config import load_config

    yaml = tmp_path / "s.yaml"
    yaml.write_text(
        "space: mlp\nobjectives: [val_acc:max]\nconstraints: ['latency_p50_ms <= 5']\n"
        "training: {max_epochs: 2}\nbudget: 3\n"
    )
    python = SearchOptions(
        "mlp",
        objectives=["val_acc:max"],
        constraints=["latency_p50_ms <= 5"],
        max_epochs=2,
        budget=3,
    )
    assert python == load_config(str(yaml))
    plan = make_plan(python)
    assert [(o.name, o.constraint) for o in plan.objectives] == [
        ("val_acc", None),
        ("latency_p50_ms", ("<=", 5.0)),
    ]
    assert [t.name for t in plan.hardware] == ["cpu"]  # the constraint is measured


def test_an_unknown_keyword_names_the_closest_option(tmp_path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"`hardwre` is not an option of raynas.search \(did you mean `hardware`\?\)",
    ):
        raynas.search("mlp", "digits", hardwre=["cpu"], storage_path=str(tmp_path))
    with pytest.raises(TypeError, match=r"takes the space and the data by position"):
        raynas.search("mlp", "digits", ["val_acc"])  # type: ignore[call-arg]
    assert not os.listdir(tmp_path)


def test_a_storage_path_under_a_file_is_refused(tmp_path) -> None:
    blocker = tmp_path / "hostname"
    blocker.write_text("x")
    with pytest.raises(
        ConfigError,
        match=r"`storage_path` must be a folder, but '.*hostname/runs' lies under .*hostname'?, which is a file",
    ):
        raynas.search("mlp", "digits", storage_path=str(blocker / "runs"), verbose=0)


def test_a_read_only_storage_path_is_refused(tmp_path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders: the access check cannot fail here")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(ConfigError, match=r"`storage_path` must be a writable folder"):
        raynas.search("mlp", "digits", storage_path=str(ro / "runs"), verbose=0)


def test_providers_are_checked_before_ray(tmp_path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider")
    for name in ("CUDExecutionProvider", "CUDAExecutionProvider"):
        with pytest.raises(
            ConfigError,
            match=rf"`hardware\[0\]`: .*'{name}'(, which this onnxruntime build does not have; "
            r"available| is neither built into this onnxruntime nor a registered plugin; "
            r"built-in) providers: \[.*'CPUExecutionProvider'",
        ):
            raynas.search(
                "mlp",
                "digits",
                hardware=[{"name": "gpu", "provider": name}],
                storage_path=str(tmp_path),
            )
    assert not os.listdir(tmp_path)


def test_data_with_nan_is_refused(tmp_path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8)).astype("float32")
    y = (x[:, 0] > 0).astype(int)
    x[17, 3] = np.nan
    x[18, 0] = np.inf
    with pytest.raises(
        ConfigError, match=r"`data`: the (train|val|test) split's inputs hold 2 NaN or inf"
    ):
        raynas.search("mlp", (x, y), storage_path=str(tmp_path))
    assert not os.listdir(tmp_path)


def test_run_config_and_callbacks_are_checked(tmp_path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"`run_config.stopp` is not an argument of tune.RunConfig \(did you mean `stop`\?\)",
    ):
        raynas.search("mlp", run_config={"stopp": {}}, storage_path=str(tmp_path))
    with pytest.raises(
        ConfigError, match=r"`run_config.name` is set by the search itself: pass `name`"
    ):
        raynas.search("mlp", run_config={"name": "x"}, storage_path=str(tmp_path))
    with pytest.raises(
        ConfigError,
        match=r"`callbacks\[0\]` must be one of \['csv', 'json', 'mlflow', 'tensorboard', 'wandb'\]",
    ):
        raynas.search("mlp", callbacks=["tensorbord"], storage_path=str(tmp_path))
    with pytest.raises(ConfigError, match=r"`callbacks\[0\]` must be a ray.tune.Callback"):
        raynas.search("mlp", callbacks=[print], storage_path=str(tmp_path))


def test_custom_resources_and_gpus_per_trial_reach_the_trial_bundle() -> None:
    plan = make_plan(
        SearchOptions(
            "mlp", resources_per_trial={"cpu": 1, "gpu": 0.3, "accelerator_type:A100": 0.01}
        )
    )
    assert (plan.cpus, plan.gpus, plan.resources) == (1.0, 0.3, {"accelerator_type:A100": 0.01})


def test_an_autoscaler_is_told_from_its_node_types() -> None:
    from raynas.frontdoor.checks import autoscales

    local = {"autoscaler_report": {"node_type_mapping": {"3b21": "node_3b21"}, "legacy": True}}
    ray_up = {"autoscaler_report": {"node_type_mapping": {"3b21": "ray.worker.gpu"}}}
    assert not autoscales(local) and not autoscales({}) and autoscales(ray_up)
