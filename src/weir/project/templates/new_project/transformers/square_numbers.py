from utils.numbers import squares

if "transformer" not in globals():
    from weir import transformer


@transformer
def transform(data, *args, **kwargs):
    """Add the square of each number."""
    logger = kwargs["logger"]
    logger.info("squaring %d numbers", len(data))
    return data.assign(square=squares(data["n"].tolist()))
