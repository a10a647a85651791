import pandas as pd

if "transformer" not in globals():
    from mage_ai.data_preparation.decorators import transformer
if "test" not in globals():
    from mage_ai.data_preparation.decorators import test


@transformer
def transform(sales, *args, **kwargs):
    """Typed dates, the month of each sale, and each line's total."""
    invoice_date = pd.to_datetime(sales["invoice_date"])
    return sales.assign(
        invoice_date=invoice_date,
        month=invoice_date.dt.to_period("M").dt.to_timestamp(),
        line_total=(sales["unit_price"] * sales["quantity"]).round(2),
    )


@test
def test_totals(output, *args) -> None:
    assert (output["line_total"] > 0).all(), "every invoice line must have a positive total"
