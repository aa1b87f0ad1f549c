import pytest

from platform_core.periods import Quarter


@pytest.mark.parametrize("text", ["2025q3", "2025Q3", " 2025q3 ", "2025-07-01"])
def test_label_and_key_are_the_same_quarter(text):
    q = Quarter.parse(text)
    assert (q.label, q.partition_key, q.start.isoformat()) == ("2025q3", "2025-07-01", "2025-07-01")


@pytest.mark.parametrize("bad", ["2025q5", "2025q3; DROP VIEW x", "../../etc", "2025-08-01", "", "2025q3/../x"])
def test_invalid_quarters_are_refused(bad):
    with pytest.raises(ValueError, match="invalid quarter"):
        Quarter.parse(bad)


def test_previous_quarter_wraps_the_year():
    assert Quarter.parse("2025q1").previous().label == "2024q4"
    assert Quarter.parse("2025q3").previous().label == "2025q2"
