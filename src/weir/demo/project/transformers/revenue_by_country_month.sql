-- Revenue per customer country and month; {{ df_1 }} is clean_sales, queried in place by DuckDB.
SELECT
    country,
    month,
    count(DISTINCT invoice_id) AS invoices,
    sum(quantity) AS tracks_sold,
    round(sum(line_total), 2) AS revenue
FROM {{ df_1 }}
GROUP BY country, month
ORDER BY country, month
