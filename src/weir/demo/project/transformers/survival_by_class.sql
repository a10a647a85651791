-- Survival rate by passenger class and sex, after the missing-value fill.
SELECT
    Pclass AS passenger_class,
    Sex AS sex,
    count(*) AS passengers,
    sum(Survived) AS survivors,
    round(avg(Survived), 3) AS survival_rate,
    round(avg(Age), 1) AS average_age
FROM {{ df_1 }}
GROUP BY Pclass, Sex
ORDER BY Pclass, Sex
