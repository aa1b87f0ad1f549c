import pytest

from platform_assets.predict_age.partitions import batch_key, parse_batch


@pytest.mark.parametrize("bad", ["1; DROP", "../1", "ab", "1"])
def test_invalid_batch_keys_are_refused(bad):
    with pytest.raises(ValueError, match="invalid batch key"):
        parse_batch(bad)


def test_batch_keys_round_trip():
    assert [parse_batch(batch_key(i)) for i in (0, 7, 123)] == [0, 7, 123] and batch_key(7) == "007"
