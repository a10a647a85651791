-- Runs in the embedded DuckDB engine; {{ df_1 }} is the upstream block's output, queried in place.
SELECT
    count(*) AS numbers,
    sum(n) AS total,
    sum(square) AS total_of_squares
FROM {{ df_1 }}
