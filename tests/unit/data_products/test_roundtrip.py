"""Every kind of block output comes back from disk as it went in (or as documented)."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from weir.data_products import DataProductStore


class Thing:
    """A custom class: no codec knows it, so it is pickled."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Thing) and other.value == self.value

    __hash__ = None  # type: ignore[assignment]


def roundtrip(store: DataProductStore, value: object) -> tuple[object, str, str]:
    (info,) = store.write(7, "block", [value])
    return store.read_output(7, "block"), info.kind, info.format


def typed_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": np.array([1, 2, 3], dtype="int64"),
            "f": [1.5, np.nan, -0.0],
            "s": pd.Series(["a", None, "c"], dtype="str"),
            "ts": pd.to_datetime(["2024-01-01 00:00", None, "2024-03-01 12:00"]).tz_localize(
                "Europe/Paris"
            ),
            "b": [True, False, True],
            "c": pd.Categorical(["x", None, "y"], categories=["y", "x", "z"], ordered=True),
            "ni": pd.array([1, None, 3], dtype="Int64"),
            "nb": pd.array([True, None, False], dtype="boolean"),
            "u8": np.array([1, 2, 255], dtype="uint8"),
            "f32": np.array([1, 2, 3], dtype="float32"),
            "td": pd.to_timedelta([1, None, 3], unit="s"),
            "o": pd.Series(["p", "q", None], dtype=object),
            "d": [decimal.Decimal("1.10"), None, decimal.Decimal("-3")],
            "day": [dt.date(2020, 1, 1), None, dt.date(2021, 2, 3)],
        }
    )


def test_pandas_dtypes_and_nulls_survive(store: DataProductStore) -> None:
    frame = typed_frame()
    back, kind, fmt = roundtrip(store, frame)
    assert (kind, fmt) == ("pandas", store.table_format)
    assert isinstance(back, pd.DataFrame)
    pd.testing.assert_frame_equal(back, frame)
    assert back.dtypes.to_dict() == frame.dtypes.to_dict()
    assert str(back["ts"].dtype) == "datetime64[us, Europe/Paris]"
    assert back["c"].cat.categories.tolist() == ["y", "x", "z"]
    assert back["c"].cat.ordered
    assert back["o"].dtype == object
    assert back["o"].tolist() == ["p", "q", None]
    assert back["d"].tolist()[0] == decimal.Decimal("1.10")


def test_pandas_frames_read_back_are_writable(store: DataProductStore) -> None:
    # Blocks re-run alone mutate their inputs; zero-copy Arrow memory would be read-only.
    frame = typed_frame().assign(
        cat=pd.Categorical(["a", "b", "a"]),
        tz=pd.date_range("2024-01-01", periods=3, tz="UTC"),
        period=pd.period_range("2024-01", periods=3, freq="M"),
    )
    back, _, _ = roundtrip(store, frame)
    assert isinstance(back, pd.DataFrame)
    for position in range(back.shape[1]):
        back.iloc[0, position] = back.iloc[2, position]
    pd.testing.assert_frame_equal(back.iloc[1:], frame.iloc[1:])
    series, _, _ = roundtrip(store, frame["i"])
    assert isinstance(series, pd.Series)
    series.iloc[0] = 5
    assert series.tolist() == [5, 2, 3]


@pytest.mark.parametrize(
    "index",
    [
        pd.Index(["x", "y", "z"], name="key"),
        pd.Index([10, 20, 30]),
        pd.RangeIndex(5, 11, 2, name="r"),
        pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["l", "n"]),
        pd.date_range("2024-01-01", periods=3, tz="UTC", name="when"),
    ],
    ids=["named", "int", "range-step", "multi", "datetime"],
)
def test_pandas_non_default_index_survives(store: DataProductStore, index: pd.Index) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3]}, index=index)
    back, _, _ = roundtrip(store, frame)
    assert isinstance(back, pd.DataFrame)
    # A DatetimeIndex's `freq` is not stored by pyarrow; everything else is.
    pd.testing.assert_frame_equal(back, frame, check_freq=False)


def test_pandas_column_labels_survive(store: DataProductStore) -> None:
    ints = pd.DataFrame({0: [1], 1: ["a"]})
    multi = pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")]))
    for frame in (ints, multi, pd.DataFrame(), pd.DataFrame({"a": pd.Series([], dtype="int64")})):
        back, _, _ = roundtrip(store, frame)
        assert isinstance(back, pd.DataFrame)
        pd.testing.assert_frame_equal(back, frame)


def test_pandas_attrs_survive(store: DataProductStore) -> None:
    frame = pd.DataFrame({"a": [1]})
    frame.attrs = {"source": "api"}
    back, _, _ = roundtrip(store, frame)
    assert isinstance(back, pd.DataFrame)
    assert back.attrs == {"source": "api"}


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (pd.DataFrame({"m": [1, "a"]}), "mixed types"),
        (pd.DataFrame({"c": [1 + 2j, 3j]}), "complex"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "duplicate names"),
        (pd.DataFrame({"l": [[1, 2], [3], None]}), "python lists"),
        (pd.DataFrame({"s": [{"k": [1]}, {"k": [2]}]}), "lists inside dicts"),
        (pd.DataFrame({"d": [{"a": 1}, {"b": 2}]}), "dicts with different keys"),
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_pandas_frames_arrow_cannot_hold_exactly_are_pickled(
    store: DataProductStore, frame: pd.DataFrame, why: str
) -> None:
    back, kind, fmt = roundtrip(store, frame)
    assert (kind, fmt) == ("pickle", "pickle"), why
    assert isinstance(back, pd.DataFrame)
    pd.testing.assert_frame_equal(back, frame)
    assert [type(v) for v in back.iloc[:, 0] if v is not None] == [
        type(v) for v in frame.iloc[:, 0] if v is not None
    ]
    (info,) = store.info(7, "block")
    assert (info.rows, info.columns) == frame.shape
    assert sorted(p.name for p in info.path.parent.iterdir()) == ["data.pickle", "meta.json"]


@pytest.mark.parametrize("name", ["amount", None, 0, ("a", 1)])
def test_series_keeps_name_index_and_dtype(store: DataProductStore, name: object) -> None:
    series = pd.Series([1.5, None, 3.0], index=pd.Index(["x", "y", "z"], name="k"), name=name)
    back, kind, _ = roundtrip(store, series)
    assert kind == "series"
    assert isinstance(back, pd.Series)
    pd.testing.assert_series_equal(back, series)
    assert back.name == name


def test_series_of_categories_and_default_index(store: DataProductStore) -> None:
    series = pd.Series(pd.Categorical(["a", "b", None]), name="cat")
    back, _, _ = roundtrip(store, series)
    assert isinstance(back, pd.Series)
    pd.testing.assert_series_equal(back, series)


def test_arrow_table_and_record_batch(store: DataProductStore) -> None:
    table = pa.table(
        {
            "n": pa.array([1, None], pa.int32()),
            "t": pa.array([0, 1], pa.timestamp("ms", tz="UTC")),
            "l": pa.array([[1, 2], None], pa.list_(pa.int64())),
            "st": pa.array([{"a": "x"}, {"a": None}]),
        }
    )
    for value in (table, table.to_batches()[0]):
        back, kind, fmt = roundtrip(store, value)
        assert (kind, fmt) == ("arrow", store.table_format)
        assert isinstance(back, pa.Table)
        assert back.equals(table)
        assert back.schema.equals(table.schema)


def test_arrow_types_parquet_stores_differently_come_back_as_written(
    store: DataProductStore,
) -> None:
    table = pa.table(
        {
            "dict": pa.array(["a", "b", "a"]).cast(pa.large_string()).dictionary_encode(),
            "ts_s": pa.array([1, None, 3], pa.timestamp("s")),
            "date64": pa.array([0, 86_400_000, None], pa.date64()),
            "time_s": pa.array([1, 2, 3], pa.time32("s")),
            "big": pa.array([b"x", None, b"z"], pa.large_binary()),
        }
    )
    back, _, _ = roundtrip(store, table)
    assert isinstance(back, pa.Table)
    assert back.schema.equals(table.schema)
    assert back.equals(table)


def test_pandas_second_resolution_timestamps_survive(store: DataProductStore) -> None:
    frame = pd.DataFrame({"t": pd.to_datetime(["2024-01-01 00:00:01", None]).as_unit("s")})
    back, _, _ = roundtrip(store, frame)
    assert isinstance(back, pd.DataFrame)
    pd.testing.assert_frame_equal(back, frame)


def test_arrow_types_parquet_cannot_hold_are_written_as_arrow_ipc(
    parquet_store: DataProductStore,
) -> None:
    table = pa.table({"span": pa.array([None], pa.month_day_nano_interval()), "n": [1]})
    back, kind, fmt = roundtrip(parquet_store, table)
    assert (kind, fmt) == ("arrow", "arrow")
    assert isinstance(back, pa.Table)
    assert back.equals(table)
    (info,) = parquet_store.info(7, "block")
    assert info.path.name == "data.arrow"
    assert [p.name for p in info.path.parent.iterdir() if p.suffix == ".parquet"] == []


def test_polars_frame_round_trips_as_polars(store: DataProductStore) -> None:
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame(
        {
            "i": [1, None, 3],
            "s": ["a", None, "c"],
            "c": pl.Series(["x", "y", "x"], dtype=pl.Categorical),
            "e": pl.Series(["lo", "hi", "lo"], dtype=pl.Enum(["lo", "hi"])),
            "t": [dt.datetime(2024, 1, 1, tzinfo=dt.UTC)] * 3,
            "l": [[1, 2], [3], None],
            "st": [{"a": 1}, {"a": 2}, None],
            "u8": pl.Series([1, 2, 3], dtype=pl.UInt8),
        }
    )
    back, kind, fmt = roundtrip(store, frame)
    assert (kind, fmt) == ("polars", store.table_format)
    assert isinstance(back, pl.DataFrame)
    assert back.schema == frame.schema
    assert back.equals(frame)
    (info,) = store.info(7, "block")
    assert (info.rows, info.columns) == (3, 8)
    assert info.schema is not None
    assert info.schema[2] == ("c", "Categorical")


def test_json_values_round_trip_exactly(store: DataProductStore) -> None:
    nested = {"rows": [[1, 2], [3, [4, None]]], "ok": True, "name": "é", "x": 1.25, "n": None}
    for value in (nested, [nested, [], {}], "text", 42, 2.5, False, None, [], {}):
        back, kind, fmt = roundtrip(store, value)
        assert (kind, fmt) == ("json", "json")
        assert back == value
        assert type(back) is type(value)


def test_json_converts_documented_types_to_json_text(store: DataProductStore) -> None:
    value = {
        "when": dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC),
        "day": dt.date(2024, 5, 1),
        "amount": decimal.Decimal("10.10"),
        "count": np.int64(3),
        "ratio": np.float32(0.5),
        "vector": np.array([1, 2]),
        "pair": (1, 2),
    }
    back, kind, _ = roundtrip(store, value)
    assert kind == "json"
    assert back == {
        "when": "2024-05-01T12:30:00+00:00",
        "day": "2024-05-01",
        "amount": "10.10",
        "count": 3,
        "ratio": 0.5,
        "vector": [1, 2],
        "pair": [1, 2],
    }
    (info,) = store.info(7, "block")
    assert (info.rows, info.columns, info.schema) == (7, None, None)


@pytest.mark.parametrize(
    "value",
    [
        Thing(3),
        {1: "int key"},
        {"s": {1, 2}},
        (1, 2),
        {"big": 2**70},
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        np.arange(6).reshape(2, 3),
    ],
    ids=["custom-class", "int-keys", "set", "tuple", "big-int", "datetime", "ndarray"],
)
def test_everything_else_is_pickled_exactly(store: DataProductStore, value: object) -> None:
    back, kind, fmt = roundtrip(store, value)
    assert (kind, fmt) == ("pickle", "pickle")
    if isinstance(value, np.ndarray):
        assert isinstance(back, np.ndarray)
        assert np.array_equal(back, value)
    else:
        assert back == value
        assert type(back) is type(value)


def test_pickled_array_reports_its_shape(store: DataProductStore) -> None:
    store.write(1, "b", [np.zeros((4, 2)), np.zeros(5), np.zeros((1, 1, 1)), Thing(1)])
    shapes = [(i.rows, i.columns) for i in store.info(1, "b")]
    assert shapes == [(4, 2), (5, None), (None, None), (None, None)]


def test_several_outputs_come_back_in_order(store: DataProductStore) -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    outputs = [frame, {"k": 1}, Thing(2), frame["a"]]
    infos = store.write(3, "multi", outputs)
    assert [i.index for i in infos] == [0, 1, 2, 3]
    assert [i.kind for i in infos] == ["pandas", "json", "pickle", "series"]
    back = store.read(3, "multi")
    assert len(back) == 4
    assert isinstance(back[0], pd.DataFrame)
    pd.testing.assert_frame_equal(back[0], frame)
    assert back[1:3] == ({"k": 1}, Thing(2))
    assert store.read_output(3, "multi", 2) == Thing(2)


def test_read_does_not_hold_on_to_the_writers_objects(tmp_path: Path) -> None:
    store = DataProductStore(tmp_path)
    frame = pd.DataFrame({"a": [1, 2]})
    store.write(1, "b", [frame])
    frame.loc[0, "a"] = 99
    back = store.read_output(1, "b")
    assert isinstance(back, pd.DataFrame)
    assert back["a"].tolist() == [1, 2]
