if "transformer" not in globals():
    from mage_ai.data_preparation.decorators import transformer
if "test" not in globals():
    from mage_ai.data_preparation.decorators import test


@transformer
def transform(passengers, *args, **kwargs):
    """Fill the missing values: Age by the median of the passenger's class and sex, Embarked by
    the most common port, Cabin by its deck letter ('U' for unknown).
    """
    logger = kwargs["logger"]
    missing = passengers[["Age", "Cabin", "Embarked"]].isna().sum().to_dict()
    logger.info("missing values before the fill: %s", missing)
    median_age = passengers.groupby(["Pclass", "Sex"])["Age"].transform("median")
    return passengers.assign(
        Age=passengers["Age"].fillna(median_age).round(1),
        Embarked=passengers["Embarked"].fillna(passengers["Embarked"].mode()[0]),
        Deck=passengers["Cabin"].str[0].fillna("U"),
        HasCabin=passengers["Cabin"].notna(),
    ).drop(columns=["Cabin"])


@test
def test_no_missing(output, *args) -> None:
    missing = output[["Age", "Embarked", "Deck"]].isna().sum().sum()
    assert missing == 0, f"{missing} values are still missing"
