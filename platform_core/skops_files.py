"""Identical models, identical bytes: skops names each array file and each `__id__` in its schema
after the Python object's id(), so two dumps of one estimator differ and the registry, which
names versions by content, would store a new version for a retrain of identical content. The
canonical form renumbers those ids in order of first appearance and writes the archive with
fixed timestamps; it loads to the same estimator."""

from __future__ import annotations

import io
import re
import zipfile

_ID = re.compile(r'("__id__": )(\d+)|("file": ")(\d+)(\.npy")')
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def canonical_skops(data: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = source.read("schema.json").decode()
    numbering: dict[str, str] = {}

    def renumber(match: re.Match) -> str:
        if match.group(2) is not None:
            return match.group(1) + numbering.setdefault(match.group(2), str(len(numbering)))
        return match.group(3) + numbering.setdefault(match.group(4), str(len(numbering))) + match.group(5)

    schema = _ID.sub(renumber, schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        members = {"schema.json": schema.encode()}
        for info in source.infolist():
            if info.filename != "schema.json":
                stem = info.filename.removesuffix(".npy")
                members[f"{numbering.get(stem, stem)}.npy" if info.filename.endswith(".npy") else info.filename] = \
                    source.read(info)
        for name in sorted(members):
            target.writestr(zipfile.ZipInfo(name, date_time=_FIXED_TIME), members[name], compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
