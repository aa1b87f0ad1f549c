"""Models as registry entries in non-executable formats, the seed's metadata, and champions.

A version holds `preprocessing.json` (algorithm, encoding, decision threshold, feature names and
every fitted encoder/scaler number), the model itself (`model.ubj`: the XGBoost Booster;
`model.skops`: a scikit-learn estimator) and `drift_reference.json` (the training distributions
monitoring compares against). The registry records each file's SHA-256 and refuses a file that
no longer matches. A skops file is loaded only when every type it needs that skops does not
trust by default is in `SKOPS_ALLOWLIST`, and only when it holds the estimator class expected.

metadata.json carries exactly the seed's fields (model_name, training_date, temporal_splits,
feature_count, training_samples, test_samples, oot_samples, performance.test/oot, config); the
registry adds the per-file hashes (`files`) and its own bookkeeping. Champions are chosen on
TEST AUC only (overall: the simplest algorithm not significantly worse than the best, by default):
the OOT window is the untouched estimate of how the chosen model will do.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np

from platform_assets.readmission.logic.evaluation import performance
from platform_assets.readmission.logic.model_config import Champion, ModelConfig
from platform_assets.readmission.logic.preprocessing import Preprocessor
from platform_assets.readmission.logic.training import ENCODING, ReadmissionModel, TrainedModel
from platform_core.gates import GateResult
from platform_core.metrics import paired_auc_difference
from platform_core.registry import ModelRef, ModelRegistry, NoChampionError
from platform_core.skops_files import canonical_skops
from platform_core.verdicts import passes, verdict

SKOPS_ALLOWLIST = {"sklearn.tree._tree.Tree"}  # what a random forest needs beyond skops' defaults
SKLEARN_CLASSES = {"logistic_regression": "sklearn.linear_model._logistic.LogisticRegression",
                   "random_forest": "sklearn.ensemble._forest.RandomForestClassifier"}
SEED_FIELDS = ("model_name", "training_date", "temporal_splits", "feature_count", "training_samples", "test_samples",
               "oot_samples", "performance", "config")
OVERALL_SLOT = "champion"


class UntrustedModelError(ValueError):
    """A stored model needs a type outside the allowlist, or is not the estimator expected."""


def model_files(model: ReadmissionModel, drift_reference: dict) -> dict[str, bytes]:
    """The files of one registry version (no pickle anywhere)."""
    preprocessing = {"algorithm": model.algorithm, "encoding": model.encoding, "threshold": model.threshold,
                     "feature_names": model.preprocessor.feature_names(model.encoding),
                     "preprocessor": json.loads(model.preprocessor.to_json())}
    files = {"preprocessing.json": json.dumps(preprocessing, indent=1, sort_keys=True).encode(),
             "drift_reference.json": json.dumps(drift_reference, sort_keys=True).encode()}
    if model.algorithm == "xgboost":
        files["model.ubj"] = bytes(model.estimator.save_raw("ubj"))
    else:
        import skops.io

        files["model.skops"] = canonical_skops(skops.io.dumps(model.estimator))  # a retrain of identical content: one version
    return files


def _load_skops(data: bytes, algorithm: str):
    import skops.io

    untrusted = set(skops.io.get_untrusted_types(data=data))
    refused = sorted(untrusted - SKOPS_ALLOWLIST)
    if refused:
        raise UntrustedModelError(f"model.skops needs types outside the allowlist: {refused}; refusing to load it")
    estimator = skops.io.loads(data, trusted=sorted(untrusted))
    kind = f"{type(estimator).__module__}.{type(estimator).__qualname__}"
    if kind != SKLEARN_CLASSES[algorithm]:
        raise UntrustedModelError(f"model.skops holds a {kind}, not the {SKLEARN_CLASSES[algorithm]} of {algorithm}")
    return estimator


def load_model(files: dict[str, bytes], nthread: int = 2) -> ReadmissionModel:
    """A ReadmissionModel from its files (as `model_files` wrote them)."""
    preprocessing = json.loads(files["preprocessing.json"])
    algorithm = preprocessing["algorithm"]
    if algorithm not in ENCODING:
        raise UntrustedModelError(f"preprocessing.json names an unknown algorithm {algorithm!r}")
    preprocessor = Preprocessor(**preprocessing["preprocessor"])
    if algorithm == "xgboost":
        import xgboost as xgb

        estimator = xgb.Booster(model_file=bytearray(files["model.ubj"]))
        estimator.set_param({"nthread": nthread})
    else:
        estimator = _load_skops(files["model.skops"], algorithm)
    return ReadmissionModel(algorithm, preprocessor, estimator, float(preprocessing["threshold"]))


def model_file_names(algorithm: str) -> list[str]:
    return ["preprocessing.json", "drift_reference.json", "model.ubj" if algorithm == "xgboost" else "model.skops"]


def load_registered(registry: ModelRegistry, ref: ModelRef, nthread: int = 2) -> ReadmissionModel:
    """A registered version, every file checked against its recorded SHA-256 by the registry."""
    return load_model({name: registry.load_file(ref, name) for name in model_file_names(ref.model) if name != "drift_reference.json"},
                      nthread)


def drift_reference_of(registry: ModelRegistry, ref: ModelRef) -> dict:
    return json.loads(registry.load_file(ref, "drift_reference.json"))


def seed_metadata(algorithm: str, trained: TrainedModel, evaluation: dict, config: ModelConfig, samples: dict[str, int],
                  training_date: str) -> dict:
    """Exactly the seed's metadata fields; `config` holds what this model was built with."""
    model = trained.model
    record = {
        "model_name": algorithm,
        "training_date": training_date,
        "temporal_splits": {name: {"start": str(w.start), "end": str(w.end)} for name, w in config.windows.items()},
        "feature_count": len(model.preprocessor.feature_names(model.encoding)),
        "training_samples": samples["train"], "test_samples": samples["test"], "oot_samples": samples["oot"],
        "performance": performance(evaluation, algorithm),
        "config": {"algorithm": algorithm, "encoding": model.encoding, "params": trained.params,
                          "decision_threshold": round(model.threshold, 6), "threshold_policy": config.threshold.policy,
                          "cv_auc": round(trained.cv_auc, 4),
                          "search": {"strategy": trained.search["strategy"], "candidates": trained.search["candidates"],
                                     "fits": trained.search["fits"], "folds": config.search.folds,
                                     "scoring": config.search.scoring, "grouped_by": "patient_nbr"}},
    }
    return record


def register_models(registry: ModelRegistry, job: str, label: str, trained: dict[str, TrainedModel], evaluation: dict,
                    config: ModelConfig, samples: dict[str, int], training_date: str,
                    drift_references: dict[str, dict]) -> dict[str, ModelRef]:
    """One immutable registry version per algorithm."""
    return {algorithm: registry.register(job, algorithm, label, model_files(t.model, drift_references[algorithm]),
                                         seed_metadata(algorithm, t, evaluation, config, samples, training_date))
            for algorithm, t in trained.items()}


def choose_champion(candidates: dict[str, dict]) -> str:
    """The key of the candidate with the highest TEST AUC (ties: the first name). OOT is never read."""
    return max(sorted(candidates), key=lambda key: candidates[key]["performance"]["test"]["auc_roc"])


def choose_overall(y_test: np.ndarray, test_probability: dict[str, np.ndarray], rule: Champion) -> tuple[str, list[dict]]:
    """The overall champion among per-algorithm champions (`test_probability` ordered simplest
    first), from their probabilities on the TEST rows only. `highest`: the best test AUC;
    `simplest_not_worse`: the first that qualifies. Each contender's shortfall against the best
    (paired DeLong interval) is judged three ways against `margin` (platform_core/verdicts.py): `pass`,
    not worse by more than the margin; `fail`, worse; `inconclusive`, the test window cannot tell,
    which qualifies with a warning unless `inconclusive` is `block` (with margin 0 and `warn`: the
    first not significantly below the best). Returns the choice and each contender's comparison."""
    from sklearn.metrics import roc_auc_score

    auc = {a: float(roc_auc_score(y_test, p)) for a, p in test_probability.items()}
    best = max(auc, key=auc.get)
    comparison = []
    for algorithm, probability in test_probability.items():
        difference = paired_auc_difference(y_test, test_probability[best], probability, rule.confidence_level)
        outcome = verdict(-difference["high"], -difference["low"], rule.margin)  # the shortfall must not exceed the margin
        comparison.append({"algorithm": algorithm, "test_auc": round(auc[algorithm], 4), "minus_best": difference["difference"],
                           "low": difference["low"], "high": difference["high"], "verdict": outcome,
                           "qualifies": passes(outcome, rule.inconclusive)})
    if rule.rule == "highest":
        return best, comparison
    return next(row["algorithm"] for row in comparison if row["qualifies"]), comparison


def promote_champions(registry: ModelRegistry, job: str, refs: dict[str, ModelRef], gates: dict[str, GateResult],
                      test_probability_of: Callable[[ModelRef], np.ndarray], y_test: np.ndarray, config: ModelConfig) -> dict:
    """Per algorithm: the new version replaces its slot's champion when it passed its blocking gates
    and its test AUC is higher. Overall: `choose_overall` among the per-algorithm champions, in the
    config's order of algorithms (simplest first), each scored on the same test rows."""
    outcome: dict = {"per_algorithm": {}, "overall": None, "overall_comparison": []}
    for algorithm, ref in refs.items():
        contenders = {str(ref): registry.metadata(ref)} if gates[algorithm].passed else {}
        try:
            current = registry.champion(job, algorithm)[algorithm]
            contenders[str(current)] = registry.metadata(current)
        except NoChampionError:
            current = None
        if not contenders:
            outcome["per_algorithm"][algorithm] = None
            continue
        best = ModelRef.parse(job, choose_champion(contenders))
        if best != current:
            registry.promote(job, {algorithm: best}, f"highest test AUC of {algorithm}", slot=algorithm)
        outcome["per_algorithm"][algorithm] = best
    standing = {a: outcome["per_algorithm"][a] for a in config.algorithms if outcome["per_algorithm"].get(a) is not None}
    if standing:
        choice, comparison = choose_overall(y_test, {a: test_probability_of(r) for a, r in standing.items()}, config.champion)
        registry.promote(job, {choice: standing[choice]}, f"{config.champion.rule} on test AUC of the per-algorithm champions")
        outcome["overall"], outcome["overall_comparison"] = standing[choice], comparison
    return outcome
