import pandas as pd
from utils.paths import DATA

if "data_loader" not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def load_data(*args, **kwargs):
    """The Titanic passenger list (891 rows, missing Age, Cabin and Embarked values)."""
    return pd.read_csv(DATA / "titanic.csv")
