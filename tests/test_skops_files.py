"""Two dumps of one estimator are the same bytes once canonical, and load to the same model."""

import numpy as np
import skops.io
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from platform_core.skops_files import canonical_skops


def test_identical_content_gives_identical_bytes_and_loads_to_the_same_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + rng.normal(scale=0.5, size=300) > 0).astype(int)
    for model in (LogisticRegression().fit(X, y), RandomForestClassifier(n_estimators=5, random_state=1).fit(X, y)):
        first, second = skops.io.dumps(model), skops.io.dumps(model)
        assert first != second  # skops names arrays after object ids
        assert canonical_skops(first) == canonical_skops(second)
        data = canonical_skops(first)
        loaded = skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_a_retrained_identical_model_is_the_same_bytes():
    X = np.random.default_rng(1).normal(size=(200, 3))
    y = (X[:, 1] > 0).astype(int)
    fits = [LogisticRegression().fit(X, y) for _ in range(2)]
    assert canonical_skops(skops.io.dumps(fits[0])) == canonical_skops(skops.io.dumps(fits[1]))
