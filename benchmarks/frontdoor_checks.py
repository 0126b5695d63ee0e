"""The front door's figures: how soon a request no node can meet is refused, and how small the
plan file stays beside a large array.

Prints, in one run:
- seconds from ``raynas.search(..., resources_per_trial={"gpu": 0.3})`` on a CPU-only local Ray
  to its error, against the seconds ``ray.init`` itself takes here (the baseline);
- the plan file's size (``raynas_search.pkl``) of a search over a ``--mb`` MB array, against the
  array's size, and the search's wall time.

Run:  python benchmarks/frontdoor_checks.py [--mb 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200.0, help="size of the array searched over")
    args = parser.parse_args()

    import numpy as np
    import ray

    import raynas
    from raynas.frontdoor import ConfigError
    from raynas.search_spaces import Choice, MLPSpace

    t0 = time.time()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    init_s = time.time() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        try:
            raynas.search(
                "mlp",
                "digits",
                resources_per_trial={"gpu": 0.3, "cpu": 1},
                storage_path=tmp,
                verbose=0,
            )
            raise SystemExit("the GPU request was not refused")
        except ConfigError as e:
            refuse_s = time.time() - t0
            print(f"refused: {e}")
        print(
            f"GPU request on CPU-only Ray refused after {refuse_s:.2f} s "
            f"(ray.init here: {init_s:.2f} s; ratio {refuse_s / init_s:.2f})"
        )

        n = int(args.mb * 1e6 / (32 * 32 * 4))
        rng = np.random.default_rng(0)
        x = rng.normal(size=(n, 1, 32, 32)).astype("float32")
        y = (x[:, 0, 0, :4].sum(axis=1) > 0).astype("int64")
        space = MLPSpace(
            input_shape=(1, 32, 32),
            num_classes=2,
            max_layers=1,
            width=Choice([16, 32]),
            batch_size=512,
            learning_rate=1e-3,
        )
        t0 = time.time()
        results = raynas.search(
            space,
            (x, y),
            budget=2,
            max_epochs=1,
            train_fraction=0.1,
            storage_path=tmp,
            name="big",
            verbose=0,
        )
        wall = time.time() - t0
        plan = os.path.getsize(os.path.join(results.path, "raynas_search.pkl"))
        data = os.path.getsize(os.path.join(results.path, "raynas_data.pkl"))
        print(
            f"array {x.nbytes / 1e6:.0f} MB: plan file {plan / 1e3:.1f} kB "
            f"(ratio to the array {plan / x.nbytes:.2e}), data file beside it {data / 1e6:.0f} MB; "
            f"{len(results.feasible())}/{len(results)} candidates feasible, {wall:.1f} s wall"
        )
    ray.shutdown()


if __name__ == "__main__":
    main()
