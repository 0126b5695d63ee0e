"""PredictorGuided with several objectives: sharing within function classes, Pareto local search."""

from __future__ import annotations

import numpy as np
import pytest

from raynas.search_spaces import Choice, SearchSpace
from raynas.strategies import Acquisition, Neighbourhood, PredictorGuided, StrategyError


class DeadSpace(SearchSpace):
    """``width`` decides the function; ``dead`` is computed but never used (it costs time only)."""

    def __init__(self) -> None:
        super().__init__({"width": Choice(list(range(8))), "dead": Choice(list(range(6)))})

    def function_key(self, config):
        return f"width={self.validate(config)['width']}"


def metrics(config, rng):
    acc = [60, 64, 70, 71, 75, 80, 81, 90][config["width"]] + 0.05 * rng.standard_normal()
    return {"acc": acc, "latency": 1.0 + config["width"] + 3.0 * config["dead"] ** 0.5}


def searched(space, seed, num_initial, n, rng, **kwargs):
    """A two-objective PredictorGuided (``kwargs`` its other arguments) told ``n`` results."""
    s = PredictorGuided(
        space,
        objectives=["acc:max", "latency:min"],
        seed=seed,
        num_initial=num_initial,
        **kwargs,
    )
    for _ in range(n):
        c = s.ask()
        s.tell(c, metrics(c, rng))
    return s


def test_accuracy_is_shared_within_a_function_class_and_latency_is_not():
    space, rng = DeadSpace(), np.random.default_rng(0)
    s = searched(space, 0, 6, 30, rng)
    s._fit(len(s.observations), 0)
    assert set(s._shared) == {0}  # acc (loss column 0) only
    assert s._shared[0] < 0.05  # the within-class variance of acc: its noise, 0.05 ** 2
    # an unseen member of an observed class is predicted at the class's observed accuracy
    seen = {o.key for o in s.observations}
    config = next(
        c
        for w in range(8)
        for d in range(6)
        if space.key(c := {"width": w, "dead": d}) not in seen
        and any(o.config["width"] == w for o in s.observations)
    )
    observed = [o.metrics["acc"] for o in s.observations if o.config["width"] == config["width"]]
    mean, std = s._predict(np.array([space.features(config)]))
    s._share([(space.key(config), config)], mean, std)
    assert mean[0, 0] == np.mean([-a for a in observed])  # losses: -acc
    assert 0 < std[0, 0] < 0.1


def test_without_equivalents_nothing_is_shared():
    space = SearchSpace({"width": Choice(list(range(8))), "dead": Choice(list(range(6)))})
    s = searched(space, 0, 6, 20, np.random.default_rng(1))
    s._fit(len(s.observations), 0)
    assert s._shared == {}


def test_several_objectives_default_to_pareto_local_search():
    space = DeadSpace()
    assert PredictorGuided(space, objectives=["acc:max", "latency:min"]).local_rate == 1.0
    assert PredictorGuided(space, objectives=["acc:max"]).local_rate == 0.5
    assert (
        PredictorGuided(space, objectives=["acc:max"], local=Neighbourhood(rate=0.2)).local_rate
        == 0.2
    )
    late = PredictorGuided(space)  # objectives from the Tune adapter, later
    late.set_objectives(["acc:max", "latency:min"])
    assert late.local_rate == 1.0


def test_pareto_local_search_proposes_neighbours_of_the_front():
    space, rng = DeadSpace(), np.random.default_rng(2)
    s = searched(space, 3, 8, 8, rng)
    front = [o.config for o in s.pareto_front()]
    for _ in range(5):
        c = s.ask()
        assert any(sum(c[k] != f[k] for k in c) == 1 for f in front)
        s.tell(c, metrics(c, rng))
        front = [o.config for o in s.pareto_front()]


def test_long_searches_rank_once_per_fit_and_keep_the_state_round_trip():
    # refit_every >= 10 switches to ranked queues: one fit, then the best unseen candidates
    from raynas.testing import conditional_space, synthetic_metrics

    space = conditional_space()
    s = PredictorGuided(space, objectives=["score"], seed=4, num_initial=5, refit_every=10)
    for _ in range(25):
        c = s.ask()
        s.tell(c, synthetic_metrics(space, c))
    assert s._queues  # the queue path ran
    fits = s._fitted_on
    twin = PredictorGuided(space, objectives=["score"], seed=99, num_initial=5, refit_every=10)
    twin.load_state_dict(s.state_dict())
    for _ in range(5):
        a, b = s.ask(), twin.ask()
        assert a == b
        m = synthetic_metrics(space, a)
        s.tell(a, m)
        twin.tell(b, m)
    assert len({o.key for o in s.observations}) == len(s.observations)  # no repeats
    assert s._fitted_on > fits or len(s.observations) - fits < 10


def test_nondominated_probability_two_objectives_matches_sampling():
    from raynas.strategies._acquisition import nondominated_probability

    rng = np.random.default_rng(0)
    front = np.array([[0.1, 0.9], [0.4, 0.5], [0.8, 0.2]])
    mean = rng.uniform(0, 1, size=(6, 2))
    std = rng.uniform(0.05, 0.3, size=(6, 2))
    exact = nondominated_probability(mean, std, front, rng)
    draws = mean + std * rng.standard_normal((200_000, 6, 2))
    dominated = np.zeros((200_000, 6), dtype=bool)
    for point in front:
        dominated |= np.all(draws >= point, axis=2)
    np.testing.assert_allclose(exact, 1 - dominated.mean(axis=0), atol=0.005)
    # three objectives take the Monte Carlo path; a third loss always behind the front leaves
    # the figure unchanged (within the sampling error)
    mean3, std3 = np.c_[mean, np.full(6, 0.5)], np.c_[std, np.full(6, 1e-9)]
    front3 = np.c_[front, np.zeros(3)]
    mc = nondominated_probability(mean3, std3, front3, rng, samples=20_000)
    np.testing.assert_allclose(mc, exact, atol=0.03)


def test_nondominated_probability_limits():
    from raynas.strategies._acquisition import nondominated_probability

    rng = np.random.default_rng(0)
    front = np.array([[0.5, 0.5]])
    # certain predictions: dominated (behind the front), not (ahead of it in one objective)
    p = nondominated_probability(
        np.array([[0.6, 0.6], [0.4, 0.9], [0.9, 0.4]]), np.full((3, 2), 1e-9), front, rng
    )
    np.testing.assert_allclose(p, [0.0, 1.0, 1.0], atol=1e-9)
    # on the front's corner with equal spread: dominated only when both losses fall behind
    p = nondominated_probability(np.array([[0.5, 0.5]]), np.full((1, 2), 0.1), front, rng)
    np.testing.assert_allclose(p, [0.75], atol=1e-9)
    # nothing observed yet: nothing dominates
    empty = nondominated_probability(np.zeros((2, 2)), np.ones((2, 2)), np.zeros((0, 2)), rng)
    np.testing.assert_array_equal(empty, [1.0, 1.0])


def test_dominated_matches_pairwise_comparison():
    from raynas.strategies._acquisition import _dominated

    rng = np.random.default_rng(1)
    for k in (2, 3):
        points = rng.integers(0, 6, size=(60, k)).astype(float)  # ties and repeats too
        le = np.all(points[:, None] >= points[None], axis=2)
        lt = np.any(points[:, None] > points[None], axis=2)
        expected = np.any(le & lt, axis=1)
        got = _dominated(points)
        assert np.all(got[expected])  # every dominated point is flagged
        kept = points[~got]
        if k == 2:  # the sorted path keeps one copy of a repeated non-dominated point
            assert len(kept) == len({tuple(p) for p in points[~expected]})
        else:
            np.testing.assert_array_equal(got, expected)
        assert {tuple(p) for p in kept} == {tuple(p) for p in points[~expected]}


def test_joint_front_probability_limits_and_competition():
    from raynas.strategies._acquisition import joint_front_probability, nondominated_probability

    rng = np.random.default_rng(0)
    front = np.array([[0.5, 0.5]])
    certain = np.full((3, 2), 1e-9)
    p = joint_front_probability(np.array([[0.6, 0.6], [0.4, 0.9], [0.9, 0.4]]), certain, front, rng)
    np.testing.assert_allclose(p, [0.0, 1.0, 1.0])
    # two candidates predicted alike: each is dominated by the other in a quarter of the draws
    alike = joint_front_probability(
        np.full((2, 2), 0.2), np.full((2, 2), 0.1), front, rng, samples=20_000
    )
    np.testing.assert_allclose(alike, [0.75, 0.75], atol=0.02)
    # many alike: unlike the probability against the observed front alone, each one's share
    # of the front falls, while a candidate standing apart keeps its chance
    mean = np.vstack([np.full((20, 2), 0.3), [[0.05, 0.45]]])
    std = np.full((21, 2), 0.05)
    joint = joint_front_probability(mean, std, front, rng, samples=2000)
    alone = nondominated_probability(mean, std, front, rng)
    assert np.all(alone > 0.99)
    assert joint[:20].max() < 0.5 < 0.9 < joint[20]
    assert len(joint_front_probability(np.zeros((0, 2)), np.zeros((0, 2)), front, rng)) == 0


def test_pnd_ranks_a_likely_front_member_over_a_likely_dominated_one():
    space, rng = DeadSpace(), np.random.default_rng(5)
    s = searched(space, 0, 8, 20, rng, acquisition=Acquisition(multi_objective="pnd"))
    s._fit(len(s.observations), 0)
    assert s._residual is not None and s._residual.shape == (2,)
    unseen = [
        (space.key(c), c)
        for w in range(8)
        for d in range(6)
        if s.is_new(space.key(c := {"width": w, "dead": d}))
    ]
    scores = s._rank(unseen, greedy=False)
    assert np.all((scores >= 0) & (scores <= 1))
    best = unseen[int(np.argmax(scores))][1]
    worst = unseen[int(np.argmin(scores))][1]
    # dead operations only cost latency: the likeliest front member has fewer of them
    assert best["dead"] < worst["dead"] or best["width"] > worst["width"]


def test_unknown_multi_objective_acquisition_is_refused():
    with pytest.raises(
        ValueError,
        match=r"`Acquisition.multi_objective` must be one of \['hvi', 'parego', 'pnd', 'pfront', "
        r"'eps'\]",
    ):
        PredictorGuided(DeadSpace(), acquisition={"multi_objective": "ehvi"})


def _function_view(space):
    """The space keyed by function, as a single-objective search on accuracy sees it."""
    import copy

    view = copy.copy(space)
    view.key = space.function_key
    return view


def test_focus_first_is_a_single_objective_search_over_function_classes():
    space = DeadSpace()
    s = PredictorGuided(
        space,
        objectives=["acc:max", "latency:min"],
        seed=3,
        num_initial=3,
        acquisition=Acquisition(multi_objective="eps"),
        focus=6,
    )
    # what the focus phase must propose: a single-objective search keyed by function
    alone = PredictorGuided(_function_view(space), objectives=["acc:max"], seed=3, num_initial=3)
    rng = np.random.default_rng(0)
    for _ in range(6):
        c, expected = s.ask(), alone.ask()
        assert c == expected
        m = metrics(c, rng)
        s.tell(c, m)
        alone.tell(c, m)
    assert len({space.function_key(o.config) for o in s.observations}) == 6
    # then the front walk: members of classes already seen (their dead operations) come too
    for _ in range(20):
        c = s.ask()
        s.tell(c, metrics(c, rng))
    assert len({space.function_key(o.config) for o in s.observations}) < len(s.observations)


def test_focus_phase_survives_a_state_round_trip():
    space, rng = DeadSpace(), np.random.default_rng(1)
    kwargs = dict(
        objectives=["acc:max", "latency:min"],
        num_initial=3,
        acquisition=Acquisition(multi_objective="eps"),
        focus=5,
    )
    s = PredictorGuided(space, seed=0, **kwargs)
    for stop in (2, 7):  # inside the focus phase, then after it
        while len(s.observations) < stop:
            c = s.ask()
            s.tell(c, metrics(c, rng))
        twin = PredictorGuided(space, seed=42, **kwargs)
        twin.load_state_dict(s.state_dict())
        state = s.state_dict()
        for _ in range(3):
            a, b = s.ask(), twin.ask()
            assert a == b
            m = metrics(a, rng)
            s.tell(a, m)
            twin.tell(b, m)
        s.load_state_dict(state)  # back to the saved point for the next stop


def test_focus_phase_hands_over_when_every_function_class_is_seen():
    space, rng = DeadSpace(), np.random.default_rng(2)  # 8 function classes
    s = PredictorGuided(
        space, objectives=["acc:max", "latency:min"], seed=0, num_initial=3, focus=20
    )
    for _ in range(12):
        c = s.ask()
        s.tell(c, metrics(c, rng))
    assert len({space.function_key(o.config) for o in s.observations}) == 8
    assert len(s.observations) == 12


class _LowDraws(np.random.Generator):
    """A generator whose single uniform draws are 0 (the rest is the wrapped generator's)."""

    def __init__(self, generator):
        super().__init__(generator.bit_generator)

    def random(self, *args, **kwargs):
        return super().random(*args, **kwargs) if args or kwargs else 0.0


def test_eps_walks_the_front_and_probes_its_corner():
    space, rng = DeadSpace(), np.random.default_rng(3)
    s = PredictorGuided(
        space, objectives=["acc:max", "latency:min"], acquisition=Acquisition(multi_objective="eps")
    )
    # everything but widths 0 and 1 without dead operations: the fastest seen is width 2
    for c in [{"width": w, "dead": d} for w in range(8) for d in range(6) if w > 1 or d]:
        s.tell(c, metrics(c, rng))
    # the corner: with every draw below 1 / (front + 1), the fastest config is proposed
    s._ensure_fitted()
    generator = s._rng
    s._rng = _LowDraws(generator)
    assert s._propose_eps() == {"width": 0, "dead": 0}
    s._rng = generator

    # the walk: the true front is every width without dead operations
    s = searched(space, 1, 6, 24, rng, acquisition=Acquisition(multi_objective="eps"))
    found = {o.config["width"] for o in s.observations if o.config["dead"] == 0}
    assert len(found) >= 7


def test_eps_refuses_more_than_two_objectives():
    with pytest.raises(ValueError, match=r"exactly two objectives, but got 3: \['a', 'b', 'c'\]"):
        PredictorGuided(
            DeadSpace(),
            objectives=["a:max", "b:min", "c:min"],
            acquisition=Acquisition(multi_objective="eps"),
        )
    # a constraint on a third metric leaves one objective: nothing to walk, nothing refused
    PredictorGuided(
        DeadSpace(), objectives=["a:max", "b <= 3"], acquisition=Acquisition(multi_objective="eps")
    )


@pytest.mark.parametrize("name", ["predictor", "nsga2"])
def test_multi_objective_searches_evaluate_the_extremes_first(name):
    from raynas.strategies import get_strategy

    space = DeadSpace()
    small, large = space.extremes()
    assert (small, large) == ({"width": 0, "dead": 0}, {"width": 7, "dead": 5})

    def first(n, objectives, **kwargs):
        # the constructor's defaults: the preset has a focus phase before the extremes
        s = get_strategy(name, space=space, objectives=objectives, seed=1, preset=None, **kwargs)
        rng, out = np.random.default_rng(0), []
        for _ in range(n):
            c = s.ask()
            s.tell(c, metrics(c, rng))
            out.append(c)
        return s, out

    s, asked = first(2, ["acc:max", "latency:min"], sandwich=True)
    assert asked == [small, large]
    assert first(1, ["acc:max", "latency:min"], sandwich="smallest")[1] == [small]
    assert first(2, ["acc:max", "latency:min"], sandwich="smallest")[1][1] != large
    # a restored search does not propose them again, and draws the same next config
    restored = get_strategy(
        name, space=space, objectives=["acc:max", "latency:min"], seed=5, sandwich=True, preset=None
    )
    restored.load_state_dict(s.state_dict())
    assert restored.ask() == s.ask()
    assert first(2, ["acc:max", "latency:min"])[1] != [small, large]  # off by default
    if name == "predictor":
        # with a focus phase the extremes come right after it, not among the focus's own asks
        asked = first(6, ["acc:max", "latency:min"], sandwich=True, focus=4)[1]
        assert asked[:2] != [small, large]
        rest = [c for c in (small, large) if c not in asked[:4]]  # the focus may ask one itself
        assert rest and asked[4 : 4 + len(rest)] == rest
        # a single objective (the other one a constraint) has no front
        assert first(2, ["acc:max", "latency <= 10"], sandwich=True)[1] != [small, large]
    with pytest.raises(
        Exception, match=r"`sandwich` must be True .*'smallest' or False, but got 'yes'"
    ):
        get_strategy(name, space=space, objectives=["acc:max", "latency:min"], sandwich="yes")


class TwoDeadSpace(SearchSpace):
    """``width`` decides the function; two dead decisions cost time only, so a config's cheapest
    equivalent is two decisions away."""

    def __init__(self) -> None:
        super().__init__(
            {
                "width": Choice(list(range(8))),
                "dead": Choice(list(range(4))),
                "dead2": Choice(list(range(4))),
            }
        )

    def function_key(self, config):
        return f"width={self.validate(config)['width']}"

    def equivalents(self, config):
        c = self.validate(config)
        return [
            {"width": c["width"], "dead": a, "dead2": b}
            for a in range(4)
            for b in range(4)
            if (a, b) != (c["dead"], c["dead2"])
        ]


def two_dead_metrics(config, rng):
    m = metrics({"width": config["width"], "dead": 0}, rng)
    m["latency"] += 2.0 * (config["dead"] + config["dead2"])
    return m


@pytest.mark.parametrize("twins", [False, True])
def test_twins_join_the_pareto_local_search(twins):
    space, rng = TwoDeadSpace(), np.random.default_rng(4)
    s = PredictorGuided(
        space,
        objectives=["acc:max", "latency:min"],
        seed=0,
        num_initial=6,
        local=Neighbourhood(twins=twins),
    )
    # the front's configs all carry both dead decisions at their costliest
    for width in (2, 5, 7):
        c = {"width": width, "dead": 3, "dead2": 3}
        s.tell(c, two_dead_metrics(c, rng))
    for width in (0, 1, 3):
        c = {"width": width, "dead": 3, "dead2": 2}
        s.tell(c, two_dead_metrics(c, rng))
    front = [o.config for o in s.pareto_front()]
    s._ensure_fitted()
    local = {k for k, _ in s._local()}
    cheapest = {space.key({**f, "dead": 0, "dead2": 0}) for f in front}
    assert (cheapest <= local) is twins  # two decisions away: only as an equivalent
    far = []  # asks two decisions from every front config: equivalents, not neighbours
    for _ in range(6):
        c = s.ask()
        far.append(all(sum(c[k] != f[k] for k in c) >= 2 for f in front))
        s.tell(c, two_dead_metrics(c, rng))
        front = [o.config for o in s.pareto_front()]
    assert any(far) is twins


@pytest.mark.parametrize("bad", ["yes", 1.5, -0.1, None])
def test_twins_must_be_a_probability(bad):
    with pytest.raises(
        StrategyError,
        match=rf"`Neighbourhood.twins` must be a number in \[0, 1\], but got {bad!r}",
    ):
        PredictorGuided(DeadSpace(), objectives=["acc:max", "latency:min"], local={"twins": bad})


def test_pareto_front_ranks_gives_the_next_non_dominated_ranks_front_first():
    space, rng = TwoDeadSpace(), np.random.default_rng(5)
    s = PredictorGuided(space, objectives=["acc:max", "latency:min"], seed=0)
    told = {}
    for width in range(8):
        for dead in (0, 3):
            c = {"width": width, "dead": dead, "dead2": 0}
            told[space.key(c)] = two_dead_metrics(c, rng)
            s.tell(c, told[space.key(c)])
    first = s.pareto_front()
    both = s.pareto_front(ranks=2)
    assert both[: len(first)] == first and len(both) > len(first)
    second = both[len(first) :]

    # each of the second rank is dominated by the front only, and not by its own rank
    def dominates(a, b):
        return a.losses[0] <= b.losses[0] and a.losses[1] <= b.losses[1] and a.losses != b.losses

    rest = [o for o in s.observations if o not in both]
    assert all(any(dominates(f, o) for f in first) for o in second)
    assert not any(dominates(a, b) for a in second for b in second)
    assert all(any(dominates(o, r) for o in second) for r in rest)
    assert len(s.pareto_front(ranks=100)) == len(s.observations)
