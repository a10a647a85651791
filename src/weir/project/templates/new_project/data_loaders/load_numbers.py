import pandas as pd

if "data_loader" not in globals():
    from weir import data_loader
if "test" not in globals():
    from weir import test


@data_loader
def load_data(*args, **kwargs):
    """Load the numbers 1..count (variable `count`, default 10)."""
    count = int(kwargs.get("count", 10))
    return pd.DataFrame({"n": range(1, count + 1)})


@test
def test_output(output, *args) -> None:
    assert output is not None, "The output is undefined"
    assert len(output) > 0, "No rows loaded"
