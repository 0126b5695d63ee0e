"""The KerasTuner ``Tuner`` API over one :func:`raynas.search` call and its :class:`NASResults`.

A tuner checks its arguments when it is built (nothing starts), turns ``search(x, y, ...)`` into
``raynas.search(DefineByRunSpace(build_model), (x, y), ...)`` (or ``raynas.resume`` of the
project's unfinished search), and answers KerasTuner's questions from the results.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from raynas.frontdoor.names import ConfigError
from raynas.frontdoor.run import PLAN_FILE
from raynas.tuners._data import search_data
from raynas.tuners._objective import describe, to_objectives
from raynas.tuners._records import Oracle, Trial, hyperparameters, ranked, summary_lines, trials_of

#: The tuner's own record in the project folder: its settings and whether the search finished.
TUNER_FILE = "raynas_tuner.json"


#: KerasTuner arguments that have no PyTorch meaning here, and what to do instead.
NOT_HERE: dict[str, str] = {
    "optimizer": "Keras's `compile` override; name a hyperparameter `optimizer` in build_model "
    "(hp.Choice('optimizer', ['adam', 'adamw', 'sgd'])) or fix it with hp.Fixed",
    "loss": "candidates train with cross-entropy (classification) or mean squared error "
    "(regression: search(..., data_kwargs={'task': 'regression'}))",
    "metrics": "trials report train_loss, train_acc, val_loss, val_acc; add your own with "
    "options={'trainable_kwargs': {'objectives': [hook]}}",
    "distribution_strategy": "trials run on Ray: resources_per_trial={'gpu': 1} gives each a GPU",
    "max_model_size": "give a constraint instead: objective=['val_accuracy', 'params <= 1e6']",
    "executions_per_trial": "each candidate trains once; seeds vary with seed=",
    "hyperparameters": "declare every hyperparameter in build_model (hp.Fixed for constants)",
    "tune_new_entries": "every hyperparameter build_model asks for is searched",
    "allow_new_entries": "every hyperparameter build_model asks for is searched",
    "logger": "pass Tune callbacks: options={'callbacks': ['tensorboard']}",
    "tuner_id": "one driver runs the whole search on Ray",
}


class Tuner:
    """The KerasTuner ``Tuner`` on Ray Tune: the base of :class:`RandomSearch`,
    :class:`GridSearch`, :class:`BayesianOptimization` and :class:`Hyperband`.

    Args:
        hypermodel: ``build_model(hp) -> torch.nn.Module`` (or an object with ``build(hp)``),
            asking ``hp.Int`` / ``hp.Float`` / ``hp.Choice`` / ``hp.Boolean`` as in KerasTuner.
            Hyperparameters named ``learning_rate``, ``optimizer`` (``adam``, ``adamw``,
            ``sgd``), ``weight_decay``, ``momentum``, ``lr_schedule`` and ``batch_size`` set the
            training, as ``model.compile`` and ``fit`` do in Keras.
        objective: ``"val_accuracy"``, ``"val_loss"``, ``"accuracy"``, ``"loss"``, an
            :class:`Objective`, any raynas metric (``"latency_p50_ms"``) or a list of them: a
            list is a Pareto front, not a sum.
        max_trials: the number of candidates.
        seed: seeds the strategy and every candidate's training.
        directory: the folder of the projects (default: the current folder).
        project_name: the project's folder in ``directory``.
        overwrite: start over (True), or reload the project's finished trials and continue
            its unfinished search (False).
        max_retries_per_trial: retries of a trial whose Ray worker died (from its checkpoint).
        max_consecutive_failed_trials: stop the search after this many failed candidates in a
            row (a failing candidate is recorded with its reason).
        hardware: hardware targets (``HardwareTarget``, names or mappings) every candidate is
            measured on; latency objectives without one use the local CPU.
        strategy: any raynas strategy name or object (default: the tuner's own).
        resources_per_trial: ``{"cpu": 1, "gpu": 0.5}`` and custom Ray resources.
        max_concurrent: trials at a time (default: what the cluster holds).
        verbose: 0 silent, 1 progress.
        options: further :func:`raynas.search` options (``scheduler``, ``callbacks``, ...).
    """

    #: The strategy a tuner uses unless ``strategy=`` says otherwise.
    default_strategy: ClassVar[str] = "random"

    def __init__(
        self,
        hypermodel: Any,
        *,
        objective: Any = "val_loss",
        max_trials: int | None = 10,
        seed: int | None = None,
        directory: str | os.PathLike[str] | None = None,
        project_name: str | None = None,
        overwrite: bool = False,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        hardware: Any = (),
        strategy: Any = None,
        resources_per_trial: Mapping[str, float] | None = None,
        max_concurrent: int | None = None,
        verbose: int = 1,
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        refuse(kwargs, self._arguments())
        self.build_model = _build_function(hypermodel)
        self.objectives = to_objectives(objective)
        _whole("max_retries_per_trial", max_retries_per_trial, 0)
        _whole("max_consecutive_failed_trials", max_consecutive_failed_trials, 1)
        if max_trials is not None:
            _whole("max_trials", max_trials, 1)
        if seed is not None:
            _whole("seed", seed, 0)
        if not isinstance(overwrite, bool):
            raise ConfigError(f"`overwrite` must be True or False, but got {overwrite!r}.")
        if project_name is not None and (
            not isinstance(project_name, str) or not project_name or os.sep in project_name
        ):
            raise ConfigError(
                f"`project_name` must be a folder name without path separators, but got "
                f"{project_name!r}."
            )
        if options is not None and not isinstance(options, Mapping):
            raise ConfigError(
                f"`options` must be a mapping of raynas.search options, got {options!r}."
            )
        self.max_trials = max_trials
        self.seed = seed
        self.directory = os.path.abspath(os.fspath(directory)) if directory else os.getcwd()
        self.project_name = project_name or "untitled_project"
        self.overwrite = overwrite
        self.max_retries_per_trial = max_retries_per_trial
        self.max_consecutive_failed_trials = max_consecutive_failed_trials
        self.options: dict[str, Any] = {
            "hardware": hardware,
            "strategy": strategy or self.default_strategy,
            "resources_per_trial": resources_per_trial,
            "max_concurrent": max_concurrent,
            "verbose": verbose,
            **dict(options or {}),
        }
        from raynas.frontdoor.options import refuse_unknown

        refuse_unknown(dict(options or {}), where="options")
        owned = sorted(set(options or {}) & _OWNED)
        if owned:
            raise ConfigError(
                f"`options.{owned[0]}` is set by the tuner itself; the tuner's arguments "
                f"({', '.join(sorted(_OWNED))}) say it."
            )
        from raynas.search_spaces import DefineByRunSpace
        from raynas.search_spaces.errors import SpaceDefinitionError

        try:
            self.space = DefineByRunSpace(self.build_model, seed=seed or 0)
        except SpaceDefinitionError as e:
            raise ConfigError(f"`hypermodel`: {e}") from e
        from raynas.frontdoor.options import SearchOptions

        # raynas's own options (strategy, hardware, resources...): checked now, nothing starts
        SearchOptions(self.space, objectives=self.objectives, **self.options)
        check_training_hyperparameters(self.space)
        check_not_lightning(self.space)
        self.hypermodel = _HyperModel(self.build_model)
        self.results: Any = None
        if not overwrite and os.path.isfile(os.path.join(self.project_dir, PLAN_FILE)):
            try:  # KerasTuner's reload; a search killed before its first trial has nothing yet
                self._reload()
            except Exception:  # noqa: BLE001 - search() continues it
                self.results = None

    # -- what subclasses declare ---------------------------------------------------------------
    def _arguments(self) -> list[str]:
        import inspect

        return [
            k
            for k in inspect.signature(type(self).__init__).parameters
            if k not in ("self", "kwargs")
        ]

    def _search_options(self, space: Any, epochs: int) -> dict[str, Any]:
        """The raynas.search options of this tuner (strategy, scheduler, budget, epochs)."""
        return {"budget": self.max_trials or 10, "max_epochs": epochs}

    def _settings(self) -> dict[str, Any]:
        """What a project keeps: a second run with other settings is refused."""
        return {
            "tuner": type(self).__name__,
            "objectives": [f"{o.name}:{o.mode}" for o in self.objectives],
            "max_trials": self.max_trials,
            "seed": self.seed,
            "strategy": str(self.options["strategy"]),
            "space": sorted(self.space.fields),
        }

    # -- KerasTuner's API ----------------------------------------------------------------------
    @property
    def project_dir(self) -> str:
        """``directory/project_name``: the experiment folder of the search."""
        return os.path.join(self.directory, self.project_name)

    def search(
        self,
        x: Any = None,
        y: Any = None,
        *,
        epochs: int | None = None,
        validation_data: Any = None,
        validation_split: float | None = None,
        batch_size: int | None = None,
        test_data: Any = None,
        data_kwargs: Mapping[str, Any] | None = None,
        verbose: int | None = None,
        **fit_kwargs: Any,
    ) -> Any:
        """Search: ``search(x, y, epochs=10, validation_data=(x_val, y_val))`` with numpy arrays
        or torch tensors, or ``search(datamodule)``; returns the :class:`NASResults`.

        ``validation_split`` holds out that share of ``x`` (default 0.2 when no
        ``validation_data`` is given); ``test_data=(x_test, y_test)`` (raynas's own) is the
        split ``results.evaluate(..., split="test")`` and ``retrain`` score on. ``batch_size``
        (Keras's default 32) trains every candidate unless build_model asks for ``batch_size``.
        With ``overwrite=False`` a finished project is reloaded and an unfinished one resumed
        (with the data and settings it was started with: a change of settings is refused).
        """
        if fit_kwargs:
            refuse_fit(fit_kwargs)
        if epochs is not None:
            _whole("epochs", epochs, 1)
        if verbose is not None:
            self.options["verbose"] = verbose
        data, kwargs = search_data(x, y, validation_data, validation_split, test_data, data_kwargs)
        space = self._space_for(batch_size)
        options = {**self.options, **self._search_options(space, epochs or 1)}
        self._prepare_project()
        import raynas

        record = self._record()
        if record is not None and record.get("finished"):
            self._say(f"reloading the finished search in {self.project_dir}")
            self._reload()
            return self.results
        from raynas.tuners._stopper import ConsecutiveFailures

        stopper = ConsecutiveFailures(self.max_consecutive_failed_trials)
        if record is not None:
            self._say(f"continuing the unfinished search in {self.project_dir}")
            results = raynas.resume(self.project_dir, verbose=self.options.get("verbose"))
        else:
            self._write_record(finished=False)
            results = raynas.search(
                space,
                data,
                **options,
                data_kwargs=kwargs,
                objectives=self.objectives,
                seed=self.seed or 0,
                storage_path=self.directory,
                name=self.project_name,
                max_failures=self.max_retries_per_trial,
                run_config={**dict(options.get("run_config") or {}), "stop": stopper},
            )
        self._write_record(finished=True)
        self._set_results(results)
        if stopper.tripped:
            raise RuntimeError(
                f"{stopper.limit} candidates failed in a row "
                f"(`max_consecutive_failed_trials` = {self.max_consecutive_failed_trials}): "
                f"{'; '.join(stopper.reasons[-stopper.limit :])}. The results so far are in "
                f"`tuner.results`."
            )
        return results

    def search_space_summary(self, extended: bool = False) -> None:
        """Print the hyperparameters build_model asks for, with their ranges and conditions."""
        print("Search space summary")
        print(f"Default search space size: {len(self.space.fields)}")
        for name, node in self.space.fields.items():
            cond = ""
            if hasattr(node, "parent"):
                cond, node = f" (when {node.parent} in {list(node.values)})", node.node
            print(f"{name} ({type(node).__name__}){cond}")
            print(f"{node!r}")

    def results_summary(self, num_trials: int = 10) -> None:
        """Print the ``num_trials`` best trials: hyperparameters and objectives."""
        oracle = self.oracle
        print("Results summary")
        print(f"Results in {self.project_dir}")
        print(f"Showing {num_trials} best trials")
        print(describe(self.objectives))
        for trial in oracle.get_best_trials(num_trials):
            print()
            print("\n".join(summary_lines(trial, self.objectives)))

    def get_best_hyperparameters(self, num_trials: int = 1) -> list[Any]:
        """The best candidates' hyperparameters (``.values``, ``.get(name)``), best first."""
        return [t.hyperparameters for t in self.oracle.get_best_trials(num_trials)]

    def get_best_models(self, num_models: int = 1) -> list[Any]:
        """The best candidates' trained networks (torch modules in eval mode), best first."""
        results = self._need_results()
        return [results.load_model(t.candidate) for t in self.oracle.get_best_trials(num_models)]

    @property
    def oracle(self) -> Oracle:
        """The objective and every trial (``oracle.trials``, ``oracle.get_best_trials(n)``)."""
        results = self._need_results()
        return Oracle(self.objectives, self.trials, ranked(results))

    @property
    def trials(self) -> list[Trial]:
        """Every candidate of the search as a KerasTuner trial, in the order they ran."""
        results = self._need_results()
        max_epochs = getattr(results.plan, "max_epochs", 0) if results.plan is not None else 0
        return trials_of(results, max_epochs)

    # -- helpers -------------------------------------------------------------------------------
    def _space_for(self, batch_size: int | None) -> Any:
        if "batch_size" in self.space.fields:
            if batch_size is not None:
                raise ConfigError(
                    "`batch_size` is given to search() and asked for by build_model "
                    "(hp 'batch_size'): give it once."
                )
            return self.space
        if batch_size is not None:
            _whole("batch_size", batch_size, 1)
        from raynas.search_spaces import DefineByRunSpace

        return DefineByRunSpace(
            _WithBatchSize(self.build_model, batch_size or 32), seed=self.seed or 0
        )

    def _prepare_project(self) -> None:
        path = self.project_dir
        if not self.overwrite or not os.path.exists(path):
            return
        ours = os.path.isfile(os.path.join(path, PLAN_FILE)) or os.path.isfile(
            os.path.join(path, TUNER_FILE)
        )
        if not ours and os.listdir(path):
            raise ConfigError(
                f"`overwrite=True` would delete {path!r}, which is not a raynas search's folder; "
                f"choose another `project_name` or `directory`."
            )
        shutil.rmtree(path)
        self.results = None

    def _record(self) -> dict[str, Any] | None:
        file = os.path.join(self.project_dir, TUNER_FILE)
        if not os.path.isfile(file):
            if os.path.isfile(os.path.join(self.project_dir, PLAN_FILE)):
                return {"finished": False}  # raynas.search wrote its plan: resume it
            return None
        with open(file) as f:
            record = dict(json.load(f))
        saved, now = record.get("settings", {}), self._settings()
        changed = sorted(k for k in now if k in saved and saved[k] != now[k])
        if changed:
            k = changed[0]
            raise ConfigError(
                f"the project {self.project_dir!r} was searched with `{k}` = {saved[k]!r}, not "
                f"{now[k]!r}; pass overwrite=True to start over, or another `project_name`."
            )
        if record.get("finished") is False and not os.path.isfile(
            os.path.join(self.project_dir, PLAN_FILE)
        ):
            return None  # stopped before the search wrote its plan: nothing to continue
        return record

    def _write_record(self, *, finished: bool) -> None:
        os.makedirs(self.project_dir, exist_ok=True)
        file = os.path.join(self.project_dir, TUNER_FILE)
        with open(file + ".tmp", "w") as f:
            json.dump({"settings": self._settings(), "finished": finished}, f, indent=2)
        os.replace(file + ".tmp", file)

    def _reload(self) -> None:
        import raynas

        self._set_results(raynas.load_results(self.project_dir))

    def _set_results(self, results: Any) -> None:
        self.results = results

    def _need_results(self) -> Any:
        if self.results is None:
            raise ConfigError(
                f"there are no results yet: run search() first (or reload a project with "
                f"overwrite=False; {self.project_dir!r} has none)."
            )
        return self.results

    def _say(self, msg: str) -> None:
        if self.options.get("verbose"):
            print(f"[raynas] {msg}", flush=True)


#: raynas.search options a tuner sets from its own arguments.
_OWNED = {
    "objectives",
    "seed",
    "storage_path",
    "name",
    "max_failures",
    "budget",
    "max_epochs",
    "data",
    "data_kwargs",
    "space",
}

#: ``model.fit`` arguments ``search`` does not take, and why.
FIT_NOT_HERE: dict[str, str] = {
    "callbacks": "weak candidates are stopped by the scheduler (Hyperband, or "
    "options={'scheduler': 'asha'}); Lightning callbacks go in "
    "options={'trainable_kwargs': {'trainer_kwargs': {'callbacks': [...]}}}",
    "shuffle": "training batches are always shuffled (seeded by `seed`)",
    "class_weight": "not supported",
    "sample_weight": "not supported",
    "initial_epoch": "Hyperband continues promoted candidates from their weights itself",
    "steps_per_epoch": "options={'train_fraction': 0.5} trains each epoch on a share of the data",
    "validation_steps": "the whole validation split is scored",
    "validation_freq": "validation runs after every epoch",
}


def refuse(kwargs: Mapping[str, Any], allowed: Sequence[str]) -> None:
    """Refuse constructor arguments a tuner does not take, by name, with what to do instead."""
    for key in kwargs:
        if key in NOT_HERE:
            raise ConfigError(
                f"`{key}` is a KerasTuner argument raynas does not take: {NOT_HERE[key]}."
            )
        close = difflib.get_close_matches(key, list(allowed), n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        raise ConfigError(
            f"`{key}` is not an argument of this tuner{hint}; they are {sorted(allowed)}."
        )


def refuse_fit(kwargs: Mapping[str, Any]) -> None:
    allowed = [
        "x",
        "y",
        "epochs",
        "validation_data",
        "validation_split",
        "batch_size",
        "test_data",
        "data_kwargs",
        "verbose",
    ]
    for key in kwargs:
        if key in FIT_NOT_HERE:
            raise ConfigError(f"`search({key}=...)`: {FIT_NOT_HERE[key]}.")
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        raise ConfigError(f"`{key}` is not an argument of search(){hint}; they are {allowed}.")


def _whole(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"`{name}` must be an int >= {low}, but got {value!r}.")


def _build_function(hypermodel: Any) -> Callable[[Any], Any]:
    build = getattr(hypermodel, "build", None)
    if callable(build) and not isinstance(hypermodel, type):
        return build  # type: ignore[no-any-return]
    if callable(hypermodel) and not isinstance(hypermodel, type):
        return hypermodel  # type: ignore[no-any-return]
    raise ConfigError(
        f"`hypermodel` must be a function build_model(hp) -> torch.nn.Module or an object with "
        f"build(hp), but got {hypermodel!r}."
    )


class _HyperModel:
    """``tuner.hypermodel``: ``build(hp)`` runs build_model (an untrained network)."""

    def __init__(self, build_model: Callable[[Any], Any]) -> None:
        self.build_model = build_model

    def build(self, hp: Any) -> Any:
        """The network of ``hp`` (``get_best_hyperparameters()[0]``), untrained."""
        if isinstance(hp, Mapping):
            hp = hyperparameters(hp)
        return self.build_model(hp)


class _WithBatchSize:
    """build_model with the search's fixed ``batch_size`` (Keras's ``fit(batch_size=...)``)."""

    def __init__(self, build_model: Callable[[Any], Any], batch_size: int) -> None:
        self.build_model, self.batch_size = build_model, batch_size

    def __call__(self, hp: Any) -> Any:
        hp.Fixed("batch_size", self.batch_size)
        return self.build_model(hp)


def check_training_hyperparameters(space: Any) -> None:
    """Refuse a training hyperparameter whose values the trainer cannot use, naming it."""
    from raynas.evaluation._settings import TRAINING_DEFAULTS, training_hparams
    from raynas.evaluation.errors import EvaluationError
    from raynas.search_spaces import Float

    for name in TRAINING_DEFAULTS:
        node = space.fields.get(name)
        if node is None:
            continue
        node = getattr(node, "node", node)
        values = node.finite_values()
        if values is None and isinstance(node, Float):
            values = [node.low, node.high]
        for v in values or []:
            try:
                training_hparams({name: v})
            except EvaluationError as e:
                raise ConfigError(
                    f"`hypermodel`: hyperparameter `{name}` feeds the trainer (as Keras's "
                    f"compile/fit), and {e}"
                ) from e


def check_not_lightning(space: Any) -> None:
    import numpy as np

    model = space.build(space.sample(np.random.default_rng(0)))
    if hasattr(model, "training_step") and hasattr(model, "configure_optimizers"):
        raise ConfigError(
            "`hypermodel` returned a LightningModule; the tuners train build_model's "
            "torch.nn.Module with raynas's trainer (hyperparameters `learning_rate`, "
            "`optimizer`, ... set it). Train your own LightningModule with raynas.search(space, "
            "data, trainable_kwargs={'module_factory': f}) where f(config) returns it."
        )
