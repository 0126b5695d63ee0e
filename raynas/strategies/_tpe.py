"""Tree-structured Parzen estimator through hyperopt (Bergstra et al. 2011), driven ask/tell."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from raynas.search_spaces import Repeat, SearchSpace, Struct, When
from raynas.search_spaces._domains import Choice, Domain, Fixed, Float, Int, _same
from raynas.search_spaces._structure import _join
from raynas.strategies.base import ObjectiveSpec, Observation, Strategy, StrategyError

#: The loss hyperopt sees for infeasible results: worse than any real loss (TPE only ranks).
_INFEASIBLE_LOSS = 1e300


def _no_objective(_: Any) -> float:  # hyperopt's Domain needs a function; it is never called
    return 0.0


class TPE(Strategy):
    """hyperopt's TPE over ``space.to_hyperopt()``, conditional parameters included.

    Each :meth:`ask` calls ``hyperopt.tpe.suggest`` on a hyperopt ``Trials`` that holds every
    proposed and told config (random suggestions for the first ``n_startup`` ones, as hyperopt
    does). When TPE suggests a config seen before, it is asked again with another seed, and
    after ``retries`` such suggestions the last one is mutated until new (and the mutation
    is entered into ``Trials`` so TPE learns from it). Configs told without being asked
    (warm starts) enter ``Trials`` the same way. Infeasible, errored and NaN results get a loss
    worse than every real one, so TPE ranks them last.

    Args:
        space: the search space.
        objectives: the first is optimized, further ones must be constraints.
        seed: seed of the strategy's random generator (each suggestion draws hyperopt's seed
            from it).
        n_startup: random suggestions before TPE starts modelling (hyperopt's
            ``n_startup_jobs``).
        n_ei_candidates: candidates drawn from the good density per suggestion.
        gamma: fraction of results that form the good density.
        prior_weight: weight of the prior in the densities.
        retries: TPE suggestions tried before mutating a duplicate.

    Example:
        >>> from raynas.search_spaces import SearchSpace, Float, Choice, When
        >>> space = SearchSpace({"opt": Choice(["sgd", "adam"]),
        ...                      "momentum": When("opt", ["sgd"], Float(0.0, 0.99))})
        >>> s = TPE(space, objectives=["loss:min"], seed=0, n_startup=3)
        >>> for _ in range(6):
        ...     c = s.ask()
        ...     _ = s.tell(c, {"loss": c.get("momentum", 0.5)})
        >>> len(s.observations)
        6
    """

    _replay_observe = False  # the hyperopt trials are restored from the extra state

    def __init__(
        self,
        space: SearchSpace,
        *,
        objectives: Sequence[ObjectiveSpec] | ObjectiveSpec | None = None,
        seed: int | None = None,
        n_startup: int = 20,
        n_ei_candidates: int = 24,
        gamma: float = 0.25,
        prior_weight: float = 1.0,
        retries: int = 8,
    ) -> None:
        super().__init__(space, objectives=objectives, seed=seed)
        for name, v, low in (
            ("n_startup", n_startup, 0),
            ("n_ei_candidates", n_ei_candidates, 1),
            ("retries", retries, 1),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise StrategyError(f"`{name}` must be an int >= {low}, but got {v!r}.")
        if not isinstance(gamma, (int, float)) or not 0.0 < gamma < 1.0:
            raise StrategyError(f"`gamma` must be a number in (0, 1), but got {gamma!r}.")
        if not isinstance(prior_weight, (int, float)) or not prior_weight > 0:
            raise StrategyError(f"`prior_weight` must be a number > 0, but got {prior_weight!r}.")
        self.n_startup = n_startup
        self.n_ei_candidates = n_ei_candidates
        self.gamma = float(gamma)
        self.prior_weight = float(prior_weight)
        self.retries = retries
        self._setup()

    # -- hyperopt objects (rebuilt after unpickling) ------------------------------------------
    def _setup(self) -> None:
        from hyperopt import Trials, base

        self._expr = self._space.to_hyperopt()
        self._domain = base.Domain(_no_objective, self._expr)
        self._labels = sorted(self._domain.params)
        self._trials = Trials()
        self._docs: dict[int, dict[str, Any]] = {}
        self._tids: dict[str, int] = {}
        self._next_tid = 0

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_tpe_docs"] = self._extra_state()
        for name in ("_expr", "_domain", "_trials", "_docs"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        docs = state.pop("_tpe_docs")
        self.__dict__.update(state)
        self._setup()
        self._load_extra_state(docs)

    def _reset(self) -> None:
        self._setup()

    # -- converting between configs and hyperopt documents ------------------------------------
    def _config_of(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        from hyperopt import space_eval

        vals = {k: v[0] for k, v in doc["misc"]["vals"].items() if len(v)}
        return self._space.validate(space_eval(self._expr, vals))

    def _insert(self, tid: int, vals: Mapping[str, Any]) -> dict[str, Any]:
        from hyperopt import base

        misc = {
            "tid": tid,
            "cmd": ("domain_attachment", "FMinIter_Domain"),
            "workdir": None,
            "idxs": {k: ([tid] if k in vals else []) for k in self._labels},
            "vals": {k: ([vals[k]] if k in vals else []) for k in self._labels},
        }
        doc = self._trials.new_trial_docs([tid], [None], [{"status": base.STATUS_NEW}], [misc])
        return self._add(doc[0])

    def _add(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        self._trials.insert_trial_docs([doc])  # stores a copy
        self._trials.refresh()
        stored = self._trials._dynamic_trials[-1]
        self._docs[stored["tid"]] = stored
        return stored

    def _inject(self, config: Mapping[str, Any], key: str) -> None:
        """Enter a config TPE did not suggest into the trials."""
        vals = hyperopt_vals(self._space, config)
        self._insert(self._next_tid, vals)
        self._tids[key] = self._next_tid
        self._next_tid += 1

    # -- strategy hooks -----------------------------------------------------------------------
    def _propose(self) -> Mapping[str, Any]:
        from hyperopt import tpe

        algo = partial(
            tpe.suggest,
            prior_weight=self.prior_weight,
            n_startup_jobs=self.n_startup,
            n_EI_candidates=self.n_ei_candidates,
            gamma=self.gamma,
            verbose=False,
        )
        last: dict[str, Any] | None = None
        for _ in range(self.retries):
            seed = int(self._rng.integers(2**31 - 1))
            doc = algo([self._next_tid], self._domain, self._trials, seed)[0]
            config = self._config_of(doc)
            key = self._space.key(config)
            if self.is_new(key):
                self._add(doc)
                self._tids[key] = self._next_tid
                self._next_tid += 1
                return config
            last = config
        assert last is not None
        child = self.mutate_new(last)
        self._inject(child, self._space.key(child))
        return child

    def _observe(self, obs: Observation, index: int, replaced: bool) -> None:
        from hyperopt import base

        tid = self._tids.get(obs.key)
        if tid is None:
            self._inject(obs.config, obs.key)
            tid = self._tids[obs.key]
        doc = self._docs[tid]
        doc["state"] = base.JOB_STATE_DONE
        if obs.fidelity < 1.0 or any(o.fidelity < 1.0 for o in self._observations):
            self._rank_losses()
        else:
            loss = obs.losses[0] if obs.ok else _INFEASIBLE_LOSS
            doc["result"] = {"loss": float(loss), "status": base.STATUS_OK}
        self._trials.refresh()

    def _rank_losses(self) -> None:
        """Results of several fidelities: each told result's loss becomes its place in the
        (violation, fidelity descending, loss) order. hyperopt's TPE splits the trials into good
        and bad ones by the order of their losses alone, so this is exactly the documented
        treatment of low-fidelity results (see :mod:`raynas.strategies.base`)."""
        from hyperopt import base

        obs = self._observations
        for place, i in enumerate(sorted(range(len(obs)), key=lambda i: obs[i].rank_key())):
            doc = self._docs[self._tids[obs[i].key]]
            doc["result"] = {"loss": float(place), "status": base.STATUS_OK}

    def _extra_state(self) -> dict[str, Any]:
        docs = []
        for doc in self._trials._dynamic_trials:
            vals = {k: _plain(v[0]) for k, v in doc["misc"]["vals"].items() if len(v)}
            loss = doc["result"].get("loss")
            docs.append([doc["tid"], vals, doc["state"], None if loss is None else float(loss)])
        return {"docs": docs, "tids": dict(self._tids), "next_tid": self._next_tid}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        from hyperopt import base

        self._setup()
        for tid, vals, job_state, loss in state["docs"]:
            doc = self._insert(int(tid), vals)
            doc["state"] = job_state
            if loss is not None:
                doc["result"] = {"loss": loss, "status": base.STATUS_OK}
        self._trials.refresh()
        self._tids = {str(k): int(v) for k, v in state["tids"].items()}
        self._next_tid = int(state["next_tid"])


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


# -- config -> hyperopt values (the inverse of SearchSpace.to_hyperopt) ----------------------------
def hyperopt_vals(space: SearchSpace, config: Mapping[str, Any]) -> dict[str, Any]:
    """The hyperopt label values that make ``space.to_hyperopt()`` evaluate to ``config``.

    Raises:
        StrategyError: the space holds a node this mapping does not know.
    """
    out: dict[str, Any] = {}
    _struct_vals(space, space.validate(config), "", out)
    return out


def _node_vals(node: Any, value: Any, label: str, out: dict[str, Any]) -> None:
    if isinstance(node, Domain):
        _domain_vals(node, value, label, out)
    elif isinstance(node, Struct):
        _struct_vals(node, value, label, out)
    elif isinstance(node, Repeat):
        if node.min_count == node.max_count:
            for i, item in enumerate(value):
                _node_vals(node.item, item, _join(label, i), out)
        else:
            n = len(value)
            out[f"{label}#count"] = n - node.min_count
            for i, item in enumerate(value):
                _node_vals(node.item, item, f"{label}@{n}[{i}]", out)
    else:  # pragma: no cover - spaces only hold the three node kinds
        raise StrategyError(f"cannot map {node!r} to hyperopt values.")


def _struct_vals(struct: Struct, value: Mapping[str, Any], label: str, out: dict) -> None:
    for name, f in struct.fields.items():
        if not isinstance(f, When):
            _field_vals(struct, name, value, label, "", out)


def _field_vals(
    struct: Struct, name: str, value: Mapping[str, Any], label: str, branch: str, out: dict
) -> None:
    node = struct._node(struct.fields[name])
    lab = _join(label, name) + branch
    children = [c for c, f in struct.fields.items() if isinstance(f, When) and f.parent == name]
    if not children:
        _node_vals(node, value[name], lab, out)
        return
    values = node.finite_values()
    index = next(i for i, v in enumerate(values) if _same(v, value[name]))
    out[lab] = index
    chosen = values[index]
    for c in children:
        w = struct.fields[c]
        assert isinstance(w, When)
        if w.active(chosen):
            _field_vals(struct, c, value, label, f"{branch}|{name}={chosen}", out)


def _domain_vals(dom: Domain, value: Any, label: str, out: dict[str, Any]) -> None:
    if isinstance(dom, Fixed):
        return
    if isinstance(dom, Choice):
        out[label] = dom.index(value)
    elif isinstance(dom, Int):
        if dom.n == 1:
            return
        if dom.log and dom.step == 1:
            out[label] = float(value)
        elif dom.log:
            out[label] = (value - dom.low) // dom.step
        else:
            out[label] = float((value - dom.low) // dom.step)
    elif isinstance(dom, Float):
        if dom.step is None:
            out[label] = float(value)
        else:
            out[label] = float(round((value - dom.low) / dom.step))
    else:
        raise StrategyError(
            f"TPE cannot map values of {type(dom).__name__} (at `{label}`) to hyperopt."
        )
