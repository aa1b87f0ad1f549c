"""A versioned, immutable model registry on the data directory.

`models/<job>/<model>/<version>/` holds the model files (non-executable formats only) and
`metadata.json` with their SHA-256. A version is `<partition label>-<content hash>` (`2025q3-…`,
`2025-08-15-…`, `e0042-…`), so training the same data with the same code twice gives the same
version, and a version once written is never changed. Every load re-hashes the file and
refuses a mismatch.

Champions: one pointer per (job, slot), where a slot is a set of models promoted together
(predict_age's three models) or one model or entity. A pointer is an append-only log under
`models/<job>/_champions/<slot>/`: each promotion or rollback writes one new immutable entry
(one atomic file write; no read-modify-write), and the current champion is the newest entry.
Parallel promotions of different slots never touch the same file; two of the same slot both
land in the history and the later one wins.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from platform_core.storage import (Location, atomic_file, location, partition_label, read_json, remove_tree, write_json,
                                   write_once_dir)

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_VERSION = re.compile(r"^[0-9a-z][0-9a-z_-]{0,63}-[0-9a-f]{12}$")
DEFAULT_SLOT = "champion"
FORBIDDEN_SUFFIXES = (".pkl", ".pickle", ".joblib")


class ModelIntegrityError(RuntimeError):
    """A stored model file does not match the checksum recorded when it was registered."""


class NoChampionError(LookupError):
    pass


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_name(kind: str, value: str, pattern: re.Pattern) -> str:
    if not pattern.match(value):
        raise ValueError(f"invalid {kind} {value!r}")
    return value


@dataclass(frozen=True)
class ModelRef:
    job: str
    model: str
    version: str

    def __str__(self) -> str:
        return f"{self.model}/{self.version}"

    @classmethod
    def parse(cls, job: str, text: str) -> "ModelRef":
        """The inverse of str(): `xgboost/2025q3-0123456789ab` as written in `model_version`."""
        model, _, version = text.partition("/")
        _check_name("model", model, _NAME)
        _check_name("version", version, _VERSION)
        return cls(job, model, version)


class ModelRegistry:
    def __init__(self, root: Location | str):
        self.root = location(root)

    def _dir(self, job: str, model: str, version: str | None = None) -> Location:
        path = self.root / _check_name("job", job, _NAME) / _check_name("model", model, _NAME)
        return path / _check_name("version", version, _VERSION) if version else path

    def register(self, job: str, model: str, label: str, files: dict[str, bytes], metadata: dict) -> ModelRef:
        """Store a new immutable version (or return the identical one already stored)."""
        for name in files:
            if name.endswith(FORBIDDEN_SUFFIXES) or "/" in name:
                raise ValueError(f"refusing to store {name!r}: models are stored in non-executable formats only")
        checksums = {name: sha256(data) for name, data in sorted(files.items())}
        fingerprint = sha256(json.dumps({"files": checksums, "metadata": metadata}, sort_keys=True, default=str).encode())
        version = f"{partition_label(label)}-{fingerprint[:12]}"
        target = self._dir(job, model, version)
        if (target / "metadata.json").exists():
            self._restore(target, files, checksums)
        else:
            with write_once_dir(target, last="metadata.json") as tmp:
                for name, data in files.items():
                    (tmp / name).write_bytes(data)
                record = {**metadata, "job": job, "model": model, "version": version, "files": checksums,
                          "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
                (tmp / "metadata.json").write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
        return ModelRef(job, model, version)

    @staticmethod
    def _restore(target: Location, files: dict[str, bytes], checksums: dict[str, str]) -> None:
        """A stored version's file that no longer matches its checksum (tampered, truncated,
        deleted) is rewritten from the identical content being registered again, so a retrain
        heals the registry instead of reusing a broken folder."""
        for name, data in files.items():
            path = target / name
            if not path.exists() or sha256(path.read_bytes()) != checksums[name]:
                with atomic_file(path) as tmp:
                    tmp.write_bytes(data)

    def metadata(self, ref: ModelRef) -> dict:
        return read_json(self._dir(ref.job, ref.model, ref.version) / "metadata.json")

    def load_file(self, ref: ModelRef, name: str) -> bytes:
        meta = self.metadata(ref)
        expected = meta["files"].get(name)
        if expected is None:
            raise FileNotFoundError(f"{ref}: no file {name!r} registered")
        path = self._dir(ref.job, ref.model, ref.version) / name
        data = path.read_bytes()
        actual = sha256(data)
        if actual != expected:
            raise ModelIntegrityError(
                f"{path}: SHA-256 {actual} does not match the registered {expected}; refusing to load a tampered model"
            )
        return data

    def models(self, job: str) -> list[str]:
        area = self.root / _check_name("job", job, _NAME)
        return sorted(p.name for p in area.iterdir() if _NAME.match(p.name)) if area.exists() else []

    def versions(self, job: str, model: str) -> list[str]:
        path = self._dir(job, model)
        return sorted(p.name for p in path.iterdir() if _VERSION.match(p.name)) if path.exists() else []

    def _champion_log(self, job: str, slot: str) -> Location:
        return self.root / _check_name("job", job, _NAME) / "_champions" / _check_name("slot", slot, _NAME)

    def champion_history(self, job: str, slot: str = DEFAULT_SLOT) -> list[dict]:
        log = self._champion_log(job, slot)
        entries = sorted(p.name for p in log.iterdir() if p.name.endswith(".json")) if log.exists() else []
        return self._legacy_history(job, slot) + [read_json(log / name) for name in entries]

    def _legacy_history(self, job: str, slot: str) -> list[dict]:
        """The single `champion.json` of registries written before the per-slot logs: read as the
        start of the job's default slot, so an upgraded registry keeps its champion and history."""
        legacy = self.root / _check_name("job", job, _NAME) / "champion.json"
        return read_json(legacy)["history"] if slot == DEFAULT_SLOT and legacy.exists() else []

    def champion(self, job: str, slot: str = DEFAULT_SLOT) -> dict[str, ModelRef]:
        history = self.champion_history(job, slot)
        if not history:
            raise NoChampionError(f"no champion model for {job!r} ({slot}) yet: materialize its models first")
        return {model: ModelRef(job, model, version) for model, version in history[-1]["models"].items()}

    def slots(self, job: str) -> list[str]:
        area = self.root / _check_name("job", job, _NAME) / "_champions"
        return sorted(p.name for p in area.iterdir() if _NAME.match(p.name)) if area.exists() else []

    def _append(self, job: str, slot: str, history: list[dict], entry: dict) -> None:
        """One new immutable entry, named after the history it follows (its sequence number
        first, so a writer whose clock is behind still lands after what it read)."""
        entry = {**entry, "models": dict(sorted(entry["models"].items())),
                 "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        name = f"{len(history) + 1:08d}-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        write_json(self._champion_log(job, slot) / name, entry)

    @staticmethod
    def _action(entry: dict) -> str:
        return entry.get("action") or ("rollback" if entry["reason"].startswith("rollback: ") else "promote")

    def _stack(self, history: list[dict]) -> tuple[list[dict], list[dict[str, str]]]:
        """The champions still standing (a promotion pushes, a rollback pops), and the model sets
        rolled back and not force-promoted since."""
        stack: list[dict] = []
        rolled_back: list[dict[str, str]] = []
        for entry in history:
            if self._action(entry) == "rollback" and stack:
                rolled_back.append(stack.pop()["models"])
            else:
                stack.append(entry)
                if entry.get("forced"):
                    rolled_back = [models for models in rolled_back if models != entry["models"]]
        return stack, rolled_back

    def promote(self, job: str, models: dict[str, ModelRef], reason: str, slot: str = DEFAULT_SLOT,
                force: bool = False) -> bool:
        """Make `models` the champion (True when they are). False, and nothing written, when a
        person rolled exactly these versions back (unless `force`, as the CLI's promote does)."""
        for ref in models.values():
            self.metadata(ref)  # must exist
        history = self.champion_history(job, slot)
        versions = {m: r.version for m, r in sorted(models.items())}
        if history and history[-1]["models"] == versions:
            return True
        if not force and versions in self._stack(history)[1]:
            return False
        self._append(job, slot, history, {"action": "promote", "models": versions, "reason": reason, "forced": force})
        return True

    def rollback(self, job: str, reason: str, slot: str = DEFAULT_SLOT) -> dict[str, ModelRef]:
        """Return to the champion before the current one (again and again, down the promotions);
        nothing is deleted, and the versions rolled back are not promoted again automatically."""
        history = self.champion_history(job, slot)
        stack = self._stack(history)[0]
        if len(stack) < 2:
            raise NoChampionError(f"{job!r} ({slot}) has no earlier champion to roll back to")
        previous = stack[-2]["models"]
        gone = [f"{m}/{v}" for m, v in previous.items() if v not in self.versions(job, m)]
        if gone:
            raise NoChampionError(f"{job!r} ({slot}): the previous champion {', '.join(gone)} is no longer kept (pruned)")
        self._append(job, slot, history, {"action": "rollback", "models": previous, "reason": f"rollback: {reason}"})
        return {m: ModelRef(job, m, v) for m, v in previous.items()}

    def prune(self, job: str, model: str, keep: int, slot: str = DEFAULT_SLOT) -> list[str]:
        """Remove all but the newest `keep` versions of a model (newest by creation time); never the
        current champion of `slot` nor the `keep` champions a rollback would walk down to. Returns
        the versions removed. Many models each promoted daily stay bounded at about `keep` versions."""
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        stack = self._stack(self.champion_history(job, slot))[0]
        protected = {entry["models"][model] for entry in stack[-keep:] if model in entry["models"]}
        created = {v: self.metadata(ModelRef(job, model, v))["created_at"] for v in self.versions(job, model)}
        newest_first = sorted(created, key=lambda v: (created[v], v), reverse=True)
        removed = [v for v in newest_first[keep:] if v not in protected]
        for version in removed:
            remove_tree(self._dir(job, model, version))
        return removed
