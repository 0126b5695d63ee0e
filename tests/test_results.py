"""NASResults without Ray: the front, the table and the frame, with warm-start candidates."""

from __future__ import annotations

from raynas.results import Candidate, NASResults


def _cand(i: int, acc: float, lat: float, *, warm: bool = False, ok: bool = True) -> Candidate:
    extra = {"warm_start": "/runs/first"} if warm else {}
    metrics = {"val_acc": acc, "latency_p50_ms": lat, "epoch": 3}
    return Candidate(f"t{i}", {"width": i}, metrics, ok, "" if ok else "boom", extra=extra)


def _results() -> NASResults:
    return NASResults(
        [
            _cand(0, 0.90, 2.0, warm=True),
            _cand(1, 0.80, 1.0, warm=True),
            _cand(2, 0.99, 0.5, warm=True, ok=False),  # failed: stays off the front
            _cand(3, 0.95, 3.0),
            _cand(4, 0.85, 2.5),  # dominated by t0, an earlier candidate
        ],
        ["val_acc:max", "latency_p50_ms:min"],
    )


def test_the_front_spans_earlier_and_new_candidates() -> None:
    front = _results().pareto_front()
    assert [c.trial_id for c in front] == ["t3", "t0", "t1"]


def test_the_table_and_the_frame_say_where_each_candidate_comes_from() -> None:
    res = _results()
    table = res.summary_table()
    header, _, *rows = table.splitlines()
    assert "from" in header.split()
    assert [("warm start" in r) for r in rows] == [False, True, True]
    df = res.to_dataframe()
    origin = df.set_index("trial_id")["warm_start"]
    assert origin[["t0", "t1", "t2"]].tolist() == ["/runs/first"] * 3
    assert origin[["t3", "t4"]].isna().all()


def test_without_a_warm_start_nothing_changes() -> None:
    res = NASResults([_cand(0, 0.9, 1.0)], ["val_acc:max", "latency_p50_ms:min"])
    assert "from" not in res.summary_table().splitlines()[0].split()
    assert "warm_start" not in res.to_dataframe().columns
