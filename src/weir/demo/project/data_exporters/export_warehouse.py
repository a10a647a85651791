import duckdb
from utils.paths import OUTPUT, WAREHOUSE

if "data_exporter" not in globals():
    from mage_ai.data_preparation.decorators import data_exporter


@data_exporter
def export_data(revenue, passengers, survival, *args, **kwargs):
    """Write each result to the DuckDB warehouse and to Parquet; return what was built."""
    tables = {
        "revenue_by_country_month": revenue,
        "titanic_passengers_filled": passengers,
        "titanic_survival_by_class": survival,
    }
    OUTPUT.mkdir(exist_ok=True)
    built = []
    with duckdb.connect(str(WAREHOUSE)) as warehouse:
        for name, frame in tables.items():
            warehouse.register("frame", frame)
            # DuckDB 2 wants each result fetched before the connection runs anything else.
            warehouse.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM frame").fetchall()
            warehouse.unregister("frame")
            rows = warehouse.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
            parquet = OUTPUT / f"{name}.parquet"
            frame.to_parquet(parquet, index=False)
            built.append(
                {"table": name, "rows": rows, "warehouse": str(WAREHOUSE), "parquet": str(parquet)}
            )
    return built
