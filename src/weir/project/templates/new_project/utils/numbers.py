"""Project code shared by blocks: importable as `from utils.numbers import ...`."""


def squares(values):
    return [value * value for value in values]
