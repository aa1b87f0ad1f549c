"""The shared registry: versions labelled by any partition, champion pointers per (job, slot)
that parallel promotions cannot corrupt."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from platform_core.registry import ModelRef, ModelRegistry


@pytest.mark.parametrize("label", ["2025q3", "2025-08-15", "2025-07", "e0042"])
def test_versions_are_labelled_by_any_partition(tmp_path, label):
    ref = ModelRegistry(tmp_path).register("wait_times", "forecast", label, {"model.ubj": label.encode()}, {})
    assert ref.version.startswith(f"{label}-") and ModelRef.parse("wait_times", str(ref)) == ref


@pytest.mark.parametrize("label", ["2025Q3", "../x", "a b", "", "2025q3;drop"])
def test_labels_that_could_reach_outside_their_folder_are_refused(tmp_path, label):
    with pytest.raises(ValueError, match="invalid partition label"):
        ModelRegistry(tmp_path).register("predict_age", "xgboost", label, {"m": b"1"}, {})


def test_parallel_promotions_of_many_slots_lose_nothing(tmp_path):
    registry = ModelRegistry(tmp_path)
    refs = {f"e{i:04d}": registry.register("wait_times", "forecast", f"e{i:04d}", {"m": str(i).encode()}, {}) for i in range(40)}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda item: registry.promote("wait_times", {"forecast": item[1]}, "trained", slot=item[0]),
                      refs.items()))
    assert registry.slots("wait_times") == sorted(refs)
    assert all(registry.champion("wait_times", slot)["forecast"] == ref for slot, ref in refs.items())


def test_concurrent_promotions_of_one_slot_both_land_in_its_history(tmp_path):
    registry = ModelRegistry(tmp_path)
    a = registry.register("engagement", "pipeline", "2025-07", {"m": b"a"}, {})
    b = registry.register("engagement", "pipeline", "2025-08", {"m": b"b"}, {})
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda ref: registry.promote("engagement", {"pipeline": ref}, str(ref)), [a, b]))
    history = registry.champion_history("engagement")
    assert sorted(h["reason"] for h in history) == sorted([str(a), str(b)])
    assert registry.champion("engagement")["pipeline"].version == history[-1]["models"]["pipeline"]


def test_rollback_walks_down_the_promotions_and_is_not_undone_automatically(tmp_path):
    registry = ModelRegistry(tmp_path)
    a, b, c = (registry.register("engagement", "pipeline", f"2025-0{m}", {"m": str(m).encode()}, {}) for m in (5, 6, 7))
    for ref in (a, b, c):
        assert registry.promote("engagement", {"pipeline": ref}, "trained")
    assert registry.rollback("engagement", "c is bad")["pipeline"] == b
    assert registry.rollback("engagement", "b is bad too")["pipeline"] == a  # not back to c
    assert not registry.promote("engagement", {"pipeline": c}, "a re-run trained c again")  # refused: rolled back
    assert registry.champion("engagement")["pipeline"] == a
    assert registry.promote("engagement", {"pipeline": c}, "a person says so", force=True)
    assert registry.champion("engagement")["pipeline"] == c


def test_a_registry_from_before_the_slot_logs_keeps_its_champion_and_history(tmp_path):
    """champion.json of the single-pointer registry is read as the start of the default slot."""
    import json

    registry = ModelRegistry(tmp_path)
    a, b = (registry.register("predict_age", "xgboost", q, {"m": q.encode()}, {}) for q in ("2025q1", "2025q2"))
    history = [{"models": {"xgboost": a.version}, "reason": "first", "at": "t1"},
               {"models": {"xgboost": b.version}, "reason": "second", "at": "t2"},
               {"models": {"xgboost": a.version}, "reason": "rollback: bad", "at": "t3"}]
    (tmp_path / "predict_age" / "champion.json").write_text(json.dumps({"current": history[-1], "history": history}))
    assert registry.champion("predict_age")["xgboost"] == a
    assert not registry.promote("predict_age", {"xgboost": b}, "a re-run")  # rolled back in the old format too
    c = registry.register("predict_age", "xgboost", "2025q3", {"m": b"c"}, {})
    assert registry.promote("predict_age", {"xgboost": c}, "third")
    assert registry.champion("predict_age")["xgboost"] == c  # the new log continues the old history
    assert registry.rollback("predict_age", "c is bad")["xgboost"] == a


def test_a_forced_promotion_lifts_an_earlier_rollback(tmp_path):
    registry = ModelRegistry(tmp_path)
    a, b = (registry.register("engagement", "pipeline", m, {"m": m.encode()}, {}) for m in ("2025-05", "2025-06"))
    registry.promote("engagement", {"pipeline": a}, "first")
    registry.promote("engagement", {"pipeline": b}, "second")
    registry.rollback("engagement", "b looked bad")
    assert registry.promote("engagement", {"pipeline": b}, "it was fine", force=True)
    registry.promote("engagement", {"pipeline": a}, "a again")
    assert registry.promote("engagement", {"pipeline": b}, "a re-run reproduces b")  # no longer refused


def test_prune_keeps_the_newest_versions_the_champion_and_its_rollback_targets(tmp_path):
    registry = ModelRegistry(tmp_path)
    refs = [registry.register("wait_times", "entity_00001", f"2025-08-{d:02d}", {"m": str(d).encode()}, {})
            for d in range(1, 9)]
    registry.promote("wait_times", {"entity_00001": refs[0]}, "first", slot="entity_00001")
    registry.promote("wait_times", {"entity_00001": refs[1]}, "second", slot="entity_00001")  # the champion
    removed = registry.prune("wait_times", "entity_00001", keep=3, slot="entity_00001")
    kept = registry.versions("wait_times", "entity_00001")
    assert sorted(removed) == sorted(r.version for r in refs[2:5])
    assert sorted(kept) == sorted(r.version for r in [refs[0], refs[1], *refs[5:]])
    assert registry.rollback("wait_times", "second is bad", slot="entity_00001")["entity_00001"] == refs[0]
    assert registry.load_file(refs[0], "m") == b"1"  # the rollback target was kept
    with pytest.raises(ValueError):
        registry.prune("wait_times", "entity_00001", keep=0, slot="entity_00001")


def test_registering_identical_content_again_heals_a_tampered_file(tmp_path):
    from platform_core.registry import ModelIntegrityError

    registry = ModelRegistry(tmp_path)
    files = {"model.json": b'{"trees": [1, 2, 3]}', "extra.json": b"{}"}
    ref = registry.register("toy", "model", "2025q3", files, {"mae": 1.0})
    stored = tmp_path / "toy" / "model" / ref.version / "model.json"
    stored.write_bytes(b'{"trees": [666]}')
    with pytest.raises(ModelIntegrityError):
        registry.load_file(ref, "model.json")
    assert registry.register("toy", "model", "2025q3", files, {"mae": 1.0}) == ref  # the same version, not a new one
    assert registry.load_file(ref, "model.json") == files["model.json"]
    assert registry.versions("toy", "model") == [ref.version]
