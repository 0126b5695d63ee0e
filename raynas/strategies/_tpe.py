"""Tree-structured Parzen estimator through hyperopt (Bergstra et al. 2011), driven ask/tell."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from raynas.search_spaces import Repeat, SearchSpace, Struct, When
from raynas.search_spaces._domains import Choice, Domain, Fixed, Float, Int, _same
from raynas.search_spaces._structure import _join
from raynas.strategies.base import ObjectiveSpec, Observation, Strategy, StrategyError

#: The loss hyperopt sees for infeasible results: worse than any real loss (TPE only ranks).
_INFEASIBLE_LOSS = 1e300
#: hyperopt's cap on the good trials and its linear-forgetting window (``tpe.DEFAULT_LF``).
_LF = 25


def _no_objective(_: Any) -> float:  # hyperopt's Domain needs a function; it is never called
    return 0.0


class TPE(Strategy):
    """hyperopt's TPE over ``space.to_hyperopt()``, conditional parameters included.

    Each :meth:`ask` takes hyperopt's TPE suggestion (what ``hyperopt.tpe.suggest`` returns,
    computed with hyperopt's posterior graph built once, see :meth:`_suggest`) from a hyperopt
    ``Trials`` that holds every proposed and told config (random suggestions for the first
    ``n_startup`` ones, as hyperopt does). When TPE suggests a config seen before, it is asked
    again with another seed, and after ``retries`` such suggestions the last one is mutated
    until new (and the mutation is entered into ``Trials`` so TPE learns from it). Configs told
    without being asked (warm starts) enter ``Trials`` the same way. Infeasible, errored and
    NaN results get a loss worse than every real one, so TPE ranks them last.

    Long searches: hyperopt rebuilds its densities from every trial on each suggestion, so a
    suggestion costs time linear in the history (about 0.1 s at 10,000 trials). Beyond
    ``history`` told results TPE sees a window of ``window`` of them instead: every one of the
    good trials hyperopt would use (the best ``min(ceil(gamma * sqrt(n)), 25)``, so the good
    density is unchanged), the 25 most recent (those hyperopt's linear forgetting weighs
    fully), and a uniform sample of the rest for the bad density; the window is redrawn
    whenever it has grown by 5%. Past that point, when most of TPE's suggestions repeat
    configs (a nearly exhausted space), a repeat is mutated at once instead of asking TPE
    ``retries`` times.

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
        history: told results TPE models on in full; beyond, the window above. None: all.
        window: trials in that window (the bad density's sample grows with it, and so does
            the cost of a suggestion).

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
        history: int | None = 1000,
        window: int = 120,
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
        if isinstance(window, bool) or not isinstance(window, int) or window < 2 * _LF + 1:
            raise StrategyError(f"`window` must be an int >= {2 * _LF + 1}, but got {window!r}.")
        if history is not None and (
            isinstance(history, bool) or not isinstance(history, int) or history < window
        ):
            raise StrategyError(
                f"`history` must be an int >= `window` ({window}) or None, but got {history!r}."
            )
        self.history = history
        self.window = window
        self._setup()

    # -- hyperopt objects (rebuilt after unpickling) ------------------------------------------
    def _setup(self) -> None:
        from hyperopt import Trials, base

        self._expr = self._space.to_hyperopt()
        self._domain = base.Domain(_no_objective, self._expr)
        self._labels = sorted(self._domain.params)
        self._trials = Trials()
        self._docs: dict[int, dict[str, Any]] = {}  # every trial's document, by tid
        self._tids: dict[str, int] = {}
        self._next_tid = 0
        self._window: list[int] | None = None  # tids in self._trials when windowed
        self._window_gamma = self.gamma  # the gamma that keeps hyperopt's good set
        self._posterior: tuple[float, Any] | None = None  # hyperopt's posterior graph, by gamma
        self._dup_rate = 0.0  # moving share of first suggestions that repeat a config
        self._low_fidelity = False  # whether any told result is of a fidelity below 1
        self._losses: dict[int, float] = {}  # the loss hyperopt sees of every told trial
        self._params: list[tuple[Any, str]] | None = None  # the space's hyperopt_param nodes
        self._obs_cache: tuple[Any, ...] | None = None  # see _observed

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_tpe_docs"] = self._extra_state()
        for name in ("_expr", "_domain", "_trials", "_docs", "_posterior", "_params", "_obs_cache"):
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
        from hyperopt import pyll

        if self._params is None:  # hyperopt's space_eval sorts the graph on every call
            self._params = [
                (node, node.arg["label"].eval())
                for node in pyll.toposort(pyll.as_apply(self._expr))
                if node.name == "hyperopt_param"
            ]
        vals = {k: v[0] for k, v in doc["misc"]["vals"].items() if len(v)}
        memo = {node: vals[label] for node, label in self._params if label in vals}
        return self._space.validate(pyll.rec_eval(self._expr, memo=memo, memo_gc=False))

    def _insert(self, tid: int, vals: Mapping[str, Any], refresh: bool = True) -> dict[str, Any]:
        from hyperopt import base

        misc = {
            "tid": tid,
            "cmd": ("domain_attachment", "FMinIter_Domain"),
            "workdir": None,
            "idxs": {k: ([tid] if k in vals else []) for k in self._labels},
            "vals": {k: ([vals[k]] if k in vals else []) for k in self._labels},
        }
        doc = self._trials.new_trial_docs([tid], [None], [{"status": base.STATUS_NEW}], [misc])
        return self._add(doc[0], refresh)

    def _add(self, doc: Mapping[str, Any], refresh: bool = True) -> dict[str, Any]:
        self._trials.insert_trial_docs([doc])  # stores a copy
        if refresh:
            self._trials.refresh()
        stored = self._trials._dynamic_trials[-1]
        self._docs[stored["tid"]] = stored
        if self._window is not None:
            self._window.append(stored["tid"])
        return stored

    # -- a window on long histories -----------------------------------------------------------
    def _told_loss(self, tid: int) -> float | None:
        return self._losses.get(tid)

    def _set_loss(self, doc: dict[str, Any], loss: float) -> None:
        from hyperopt import base

        doc["result"] = {"loss": loss, "status": base.STATUS_OK}
        self._losses[doc["tid"]] = loss

    def _update_window(self) -> None:
        """Redraw the window of trials TPE sees once the history outgrows ``history``."""
        if self.history is None:
            return
        n = len(self._observations)  # each told result has exactly one document
        if n <= self.history:
            return
        good = min(math.ceil(self.gamma * math.sqrt(n)), _LF)
        if (
            self._window is not None
            and len(self._window) < 1.05 * self._window_size
            and (good == self._window_good)
        ):
            return
        tids = np.fromiter(self._losses.keys(), dtype=np.int64, count=len(self._losses))
        losses = np.fromiter(self._losses.values(), dtype=float, count=len(self._losses))
        # the `good` best by loss, ties by age: everything below the good-th loss, then the
        # oldest of those equal to it (the first `good` of a (loss, tid) sort, without the sort)
        cut = np.partition(losses, good - 1)[good - 1] if good <= len(losses) else np.inf
        below = tids[losses < cut]
        best = np.concatenate([below, np.sort(tids[losses == cut])[: good - len(below)]])
        recent = np.partition(tids, len(tids) - _LF)[-_LF:] if len(tids) > _LF else tids
        pending = set(self._docs).difference(self._losses)
        keep = {int(t) for t in best} | {int(t) for t in recent} | pending
        kept = np.zeros(self._next_tid + 1, dtype=bool)
        kept[list(keep)] = True
        rest = np.sort(tids[~kept[tids]])
        fill = max(self.window - len(keep), 0)
        if fill < len(rest):
            rest = np.sort(self._rng.choice(rest, size=fill, replace=False))
        self._build_window(sorted(keep | {int(t) for t in rest}), good)

    def _build_window(self, tids: list[int], good: int, size: int | None = None) -> None:
        from hyperopt import Trials

        self._trials = Trials()
        # the documents were checked when they were first added: hand them over as they are
        self._trials._insert_trial_docs([self._docs[t] for t in tids])
        self._trials.refresh()
        size = len(tids) if size is None else size
        self._window, self._window_size, self._window_good = list(tids), size, good
        # hyperopt keeps min(ceil(gamma * sqrt(len(window))), 25) good trials: this gamma keeps
        # exactly `good` of them while the window grows by up to 5% (`good` <= 25 < 41)
        self._window_gamma = good / math.sqrt(1.05 * size)

    def _suggest(self, seed: int) -> dict[str, Any]:
        """One hyperopt TPE suggestion: ``tpe.suggest``'s computation with its fixed costs paid once.

        ``tpe.suggest`` rebuilds the posterior graph on every call (most of its cost on short
        histories) and re-collects the observations of every trial. Here the graph, which
        depends only on the space, ``prior_weight`` and gamma, is built once per gamma; the
        observation lists grow with the trials and are rebuilt only when the trials change
        otherwise (a window redraw); and hyperopt's interpreter evaluates the graph without its
        memory-freeing bookkeeping. The suggestion is the one ``tpe.suggest`` returns for the
        same trials and seed (tested).
        """
        from hyperopt import pyll, rand, tpe
        from hyperopt.base import miscs_update_idxs_vals

        trials = self._trials
        new_id = self._next_tid
        tids, idxs, vals = self._observed()
        if len(tids) < self.n_startup:  # hyperopt's startup phase (seeded by `seed` alone)
            return rand.suggest([new_id], self._domain, trials, seed)[0]
        gamma = self._window_gamma if self._window is not None else self.gamma
        if self._posterior is None or self._posterior[0] != gamma:
            graph = tpe.build_posterior_wrapper(self._domain, self.prior_weight, gamma)
            self._posterior = (gamma, graph)
        observed, observed_loss, posterior = self._posterior[1]
        docs = self._docs
        losses = []
        for tid in tids:  # pending trials count as infinitely bad, as in tpe.suggest
            loss = docs[tid]["result"].get("loss")
            losses.append(math.inf if loss is None else float(loss))
        fake_id0 = max(max(tids), new_id) + 2 if tids else new_id + 2
        fake_ids = list(range(fake_id0, fake_id0 + self.n_ei_candidates))
        domain = self._domain
        memo = {
            domain.s_new_ids: fake_ids,
            domain.s_rng: np.random.default_rng(seed),
            observed_loss["idxs"]: tuple(tids),
            observed_loss["vals"]: losses,
            observed["idxs"]: {k: list(v) for k, v in idxs.items()},
            observed["vals"]: {k: list(v) for k, v in vals.items()},
        }
        new_idxs, new_vals = pyll.rec_eval(
            posterior, memo=memo, memo_gc=False, print_node_on_error=False
        )
        for label, param in domain.params.items():  # tpe.suggest's offset of randint(low, high)
            if param.name == "randint" and len(param.pos_args) == 2:
                offset = param.pos_args[0].obj
                new_vals[label] = [v + offset for v in new_vals[label]]
        misc = {"tid": new_id, "cmd": domain.cmd, "workdir": domain.workdir}
        miscs_update_idxs_vals(
            [misc], new_idxs, new_vals, idxs_map={fake_ids[0]: new_id}, assert_all_vals_used=False
        )
        return trials.new_trial_docs([new_id], [None], [domain.new_result()], [misc])[0]

    def _observed(self) -> tuple[list[int], dict[str, list], dict[str, list]]:
        """The trials' tids in order and hyperopt's observation lists (``miscs_to_idxs_vals``),
        extended as trials are added and rebuilt when the trials change otherwise."""
        trials = self._trials.trials
        cache = self._obs_cache
        if cache is not None and cache[0] is self._trials and cache[1] <= len(trials):
            tids, idxs, vals = cache[2:]
            added = trials[cache[1] :]
            if all(doc["tid"] > (tids[-1] if tids else -1) for doc in added):
                for doc in added:
                    self._extend_observed(doc, tids, idxs, vals)
                self._obs_cache = (self._trials, len(trials), tids, idxs, vals)
                return tids, idxs, vals
        tids = []
        idxs = {k: [] for k in self._labels}
        vals = {k: [] for k in self._labels}
        for doc in sorted(trials, key=lambda d: d["tid"]):
            self._extend_observed(doc, tids, idxs, vals)
        self._obs_cache = (self._trials, len(trials), tids, idxs, vals)
        return tids, idxs, vals

    @staticmethod
    def _extend_observed(doc: Mapping[str, Any], tids: list, idxs: dict, vals: dict) -> None:
        tids.append(doc["tid"])
        misc = doc["misc"]
        for label in idxs:
            idxs[label].extend(misc["idxs"][label])
            vals[label].extend(misc["vals"][label])

    def _inject(self, config: Mapping[str, Any], key: str, refresh: bool = True) -> None:
        """Enter a config TPE did not suggest into the trials."""
        vals = hyperopt_vals(self._space, config)
        self._insert(self._next_tid, vals, refresh)
        self._tids[key] = self._next_tid
        self._next_tid += 1

    # -- strategy hooks -----------------------------------------------------------------------
    def _propose(self) -> Mapping[str, Any]:
        self._update_window()
        exhausted = self._window is not None and self._dup_rate > 0.5
        retries = 1 if exhausted else self.retries  # nearly exhausted: mutate a repeat at once
        last: dict[str, Any] | None = None
        for attempt in range(retries):
            seed = int(self._rng.integers(2**31 - 1))
            doc = self._suggest(seed)
            config = self._config_of(doc)
            key = self._space.key(config)
            if attempt == 0 and self._window is not None:
                self._dup_rate = 0.9 * self._dup_rate + 0.1 * (not self.is_new(key))
            if self.is_new(key):
                self._add(doc)
                self._tids[key] = self._next_tid
                self._next_tid += 1
                return config
            last = config
        assert last is not None
        # in a windowed, nearly exhausted search the neighbourhood is mostly seen: try it briefly
        child = self.mutate_new(last, tries=4 if exhausted else 32)
        self._inject(child, self._space.key(child))
        return child

    def _observe(self, obs: Observation, index: int, replaced: bool) -> None:
        from hyperopt import base

        tid = self._tids.get(obs.key)
        if tid is None:
            self._inject(obs.config, obs.key, refresh=False)  # refreshed below
            tid = self._tids[obs.key]
        doc = self._docs[tid]
        doc["state"] = base.JOB_STATE_DONE
        if self._window is not None and tid not in self._window:
            self._add(doc, refresh=False)  # told after it left the window (or never entered it)
            doc = self._docs[tid]
        if replaced:
            self._low_fidelity = any(o.fidelity < 1.0 for o in self._observations)
        self._low_fidelity = self._low_fidelity or obs.fidelity < 1.0
        if self._low_fidelity:
            self._rank_losses()
        else:
            loss = obs.losses[0] if obs.ok else _INFEASIBLE_LOSS
            self._set_loss(doc, float(loss))
        self._trials.refresh()  # O(trials): the window below keeps a long run of tells linear
        self._update_window()

    def _rank_losses(self) -> None:
        """Results of several fidelities: each told result's loss becomes its place in the
        (violation, fidelity descending, loss) order. hyperopt's TPE splits the trials into good
        and bad ones by the order of their losses alone, so this is exactly the documented
        treatment of low-fidelity results (see :mod:`raynas.strategies.base`)."""

        obs = self._observations
        for place, i in enumerate(sorted(range(len(obs)), key=lambda i: obs[i].rank_key())):
            doc = self._docs[self._tids[obs[i].key]]
            self._set_loss(doc, float(place))

    def _extra_state(self) -> dict[str, Any]:
        docs = []
        for tid in sorted(self._docs):
            doc = self._docs[tid]
            vals = {k: _plain(v[0]) for k, v in doc["misc"]["vals"].items() if len(v)}
            loss = doc["result"].get("loss")
            docs.append([doc["tid"], vals, doc["state"], None if loss is None else float(loss)])
        window = None
        if self._window is not None:
            window = [self._window, self._window_size, self._window_good]
        return {
            "docs": docs,
            "tids": dict(self._tids),
            "next_tid": self._next_tid,
            "window": window,
            "dup_rate": self._dup_rate,
        }

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:

        self._setup()
        for tid, vals, job_state, loss in state["docs"]:
            doc = self._insert(int(tid), vals, refresh=False)
            doc["state"] = job_state
            if loss is not None:
                self._set_loss(doc, float(loss))
        self._trials.refresh()
        self._tids = {str(k): int(v) for k, v in state["tids"].items()}
        self._next_tid = int(state["next_tid"])
        self._dup_rate = float(state.get("dup_rate", 0.0))
        self._low_fidelity = any(o.fidelity < 1.0 for o in self._observations)
        if state.get("window") is not None:
            tids, size, good = state["window"]
            self._build_window([int(t) for t in tids], int(good), int(size))


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
