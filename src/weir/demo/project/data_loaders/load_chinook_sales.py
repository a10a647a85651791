import sqlite3

import pandas as pd
from utils.paths import DATA

if "data_loader" not in globals():
    from mage_ai.data_preparation.decorators import data_loader
if "test" not in globals():
    from mage_ai.data_preparation.decorators import test

QUERY = """
SELECT il.InvoiceLineId AS invoice_line_id,
       i.InvoiceId      AS invoice_id,
       i.InvoiceDate    AS invoice_date,
       c.Country        AS country,
       g.Name           AS genre,
       il.UnitPrice     AS unit_price,
       il.Quantity      AS quantity
FROM InvoiceLine il
JOIN Invoice i  ON i.InvoiceId = il.InvoiceId
JOIN Customer c ON c.CustomerId = i.CustomerId
JOIN Track t    ON t.TrackId = il.TrackId
LEFT JOIN Genre g ON g.GenreId = t.GenreId
ORDER BY il.InvoiceLineId
"""


@data_loader
def load_data(*args, **kwargs):
    """Every invoice line of the Chinook store with its customer's country and track's genre."""
    with sqlite3.connect(DATA / "chinook.sqlite") as connection:
        return pd.read_sql_query(QUERY, connection)


@test
def test_output(output, *args) -> None:
    assert len(output) == 2240, f"expected 2240 invoice lines, got {len(output)}"
