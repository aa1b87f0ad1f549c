"""Synthetic person snapshots in the format of SOURCE_CONTRACT.md, with ground truth kept apart.

No real person data exists here, so the platform ships a world that behaves like one: features
carry nonlinear signal about age (first-name cohorts, life stage, tenure, technology habits),
raw ages and birth years arrive as messy strings, and whether a usable age exists depends on
the age itself (missing not at random), so accuracy on the rows that were missing can differ
from accuracy on the rows that were not. Generation is chunked and deterministic for a seed:
chunk i always draws from the same seed stream, whatever the chunk size of other chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from platform_core.periods import Quarter
from platform_core.storage import SUCCESS_MARKER, Location, write_once_dir

PID_BASE = 1_000_000_000
DATA_START = date(1995, 1, 1)

# (name, peak birth year, spread in years, relative popularity)
FEMALE_NAMES = [
    ("Mary", 1930, 14, 3.0), ("Dorothy", 1928, 8, 1.6), ("Helen", 1927, 9, 1.4),
    ("Betty", 1932, 8, 1.5), ("Margaret", 1933, 12, 1.4), ("Ruth", 1930, 10, 1.0),
    ("Shirley", 1937, 7, 1.2), ("Barbara", 1940, 9, 1.8), ("Patricia", 1947, 10, 2.0),
    ("Joan", 1936, 8, 0.8), ("Linda", 1950, 7, 2.2), ("Susan", 1955, 8, 1.8),
    ("Deborah", 1957, 6, 1.5), ("Karen", 1960, 7, 1.6), ("Donna", 1955, 8, 1.2),
    ("Cynthia", 1958, 7, 1.0), ("Sandra", 1952, 8, 1.1), ("Lisa", 1965, 6, 1.8),
    ("Kimberly", 1968, 7, 1.5), ("Michelle", 1970, 7, 1.4), ("Jennifer", 1975, 7, 2.4),
    ("Amy", 1974, 6, 1.2), ("Melissa", 1977, 6, 1.3), ("Angela", 1972, 8, 1.0),
    ("Heather", 1978, 6, 1.0), ("Jessica", 1986, 6, 2.2), ("Ashley", 1988, 5, 2.0),
    ("Amanda", 1985, 6, 1.6), ("Sarah", 1986, 10, 1.5), ("Nicole", 1984, 7, 1.0),
    ("Brittany", 1990, 4, 1.1), ("Megan", 1989, 6, 1.0), ("Emily", 1996, 7, 1.8),
    ("Samantha", 1994, 6, 1.3), ("Hannah", 1997, 5, 1.2), ("Taylor", 1995, 5, 1.0),
    ("Madison", 2001, 4, 1.4), ("Olivia", 2004, 5, 1.3), ("Emma", 2004, 5, 1.3),
    ("Abigail", 2003, 4, 1.0), ("Chloe", 2005, 4, 0.8),
]
MALE_NAMES = [
    ("Robert", 1945, 16, 3.0), ("James", 1955, 22, 3.0), ("John", 1950, 20, 3.0),
    ("William", 1945, 20, 2.2), ("Richard", 1945, 11, 2.0), ("Charles", 1938, 14, 1.6),
    ("Donald", 1937, 9, 1.4), ("George", 1933, 12, 1.3), ("Frank", 1930, 10, 1.0),
    ("Harold", 1928, 8, 0.9), ("Walter", 1929, 9, 0.8), ("Raymond", 1938, 10, 0.8),
    ("Gary", 1952, 7, 1.4), ("Larry", 1950, 7, 1.2), ("Dennis", 1952, 6, 1.0),
    ("Steven", 1960, 8, 1.6), ("Mark", 1961, 8, 1.6), ("Jeffrey", 1963, 8, 1.3),
    ("Michael", 1970, 14, 3.2), ("David", 1962, 14, 2.4), ("Kevin", 1968, 8, 1.4),
    ("Brian", 1972, 7, 1.4), ("Jason", 1977, 6, 1.7), ("Scott", 1968, 7, 1.0),
    ("Eric", 1975, 8, 1.1), ("Christopher", 1983, 8, 2.4), ("Matthew", 1985, 8, 1.8),
    ("Joshua", 1986, 6, 1.6), ("Justin", 1988, 6, 1.1), ("Andrew", 1988, 9, 1.3),
    ("Ryan", 1988, 7, 1.1), ("Brandon", 1991, 6, 1.1), ("Tyler", 1994, 5, 1.2),
    ("Austin", 1995, 5, 0.9), ("Kyle", 1990, 5, 0.9), ("Jacob", 1998, 7, 1.5),
    ("Ethan", 2002, 5, 1.3), ("Noah", 2005, 5, 1.2), ("Logan", 2003, 5, 1.0),
    ("Mason", 2005, 4, 1.0), ("Liam", 2006, 4, 1.0),
]
UNISEX_NOISE_NAMES = ["Alex", "Jordan", "Casey", "Jamie", "Morgan", "Lee", "Pat", "Chris"]

STATES = {
    "CA": 11.7, "TX": 9.0, "FL": 6.7, "NY": 5.9, "PA": 3.9, "IL": 3.8, "OH": 3.5, "GA": 3.3,
    "NC": 3.2, "MI": 3.0, "NJ": 2.8, "VA": 2.6, "WA": 2.3, "AZ": 2.2, "MA": 2.1, "TN": 2.1,
    "IN": 2.0, "MO": 1.8, "MD": 1.8, "WI": 1.8, "CO": 1.7, "MN": 1.7, "SC": 1.6, "AL": 1.5,
    "LA": 1.4, "KY": 1.4, "OR": 1.3, "OK": 1.2, "CT": 1.1, "UT": 1.0, "IA": 1.0, "NV": 0.9,
    "AR": 0.9, "MS": 0.9, "KS": 0.9, "NM": 0.6, "NE": 0.6, "ID": 0.6, "WV": 0.5, "HI": 0.4,
    "NH": 0.4, "ME": 0.4, "RI": 0.3, "MT": 0.3, "DE": 0.3, "SD": 0.3, "ND": 0.2, "AK": 0.2,
    "DC": 0.2, "VT": 0.2, "WY": 0.2,
}
RETIREE_STATES = {"FL", "AZ", "NV", "SC"}

MESSY_AGE = ["", "U", "0", "00", "120", "7", "150", "-1", "4O", "abc", "N/A"]
MESSY_AGE_P = [0.30, 0.22, 0.12, 0.06, 0.06, 0.04, 0.04, 0.04, 0.04, 0.04, 0.04]
MESSY_YEAR = ["", "0", "0000", "FUTURE", "19x5", "1890", "abcd"]
MESSY_YEAR_P = [0.40, 0.15, 0.12, 0.10, 0.08, 0.08, 0.07]


@dataclass(frozen=True)
class GeneratedSnapshot:
    quarter: Quarter | None
    rows: int
    landing_dir: Location
    truth_dir: Location
    files: int


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _strings(index: np.ndarray, vocab: list[str], null_mask: np.ndarray | None = None) -> pa.Array:
    """Strings from indices into a vocabulary, built columnar (no per-row Python)."""
    indices = pa.array(index.astype(np.int32), mask=null_mask)
    return pa.DictionaryArray.from_arrays(indices, pa.array(vocab, pa.string())).cast(pa.string())


def _ints(values: np.ndarray, null_mask: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.int32), mask=null_mask, type=pa.int32())


def _choice_by_row(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row from a row-wise probability matrix (rows x categories)."""
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(probs))[:, None]
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


def _age_weights(min_age: int = 18, max_age: int = 100) -> tuple[np.ndarray, np.ndarray]:
    ages = np.arange(min_age, max_age + 1)
    weights = np.where(ages <= 60, 1.0, np.maximum(0.03, 1.0 - (ages - 60) / 42.0))
    return ages, weights / weights.sum()


def _name_table() -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    names = [n for n, *_ in FEMALE_NAMES] + [n for n, *_ in MALE_NAMES]
    peak = np.array([p for _, p, _, _ in FEMALE_NAMES + MALE_NAMES], dtype=float)
    spread = np.array([s for _, _, s, _ in FEMALE_NAMES + MALE_NAMES], dtype=float)
    pop = np.array([w for *_, w in FEMALE_NAMES + MALE_NAMES], dtype=float)
    female = np.array([True] * len(FEMALE_NAMES) + [False] * len(MALE_NAMES))
    return names, peak, spread, pop, female


def generate_chunk(ref: date, rows: int, chunk_index: int, seed: int, pid_start: int) -> tuple[pa.Table, pa.Table]:
    """One chunk of the snapshot (as of the reference date `ref`) and its ground truth."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, chunk_index]))
    ref_year = ref.year
    n = rows
    pid = np.arange(pid_start, pid_start + n, dtype=np.int64)

    ages, age_p = _age_weights()
    age = rng.choice(ages, size=n, p=age_p)
    year_fraction = (ref.timetuple().tm_yday - 1) / 365.0
    birthday_passed = rng.random(n) < year_fraction
    birth_year = ref_year - age - np.where(birthday_passed, 0, 1)

    gender_u = rng.random(n)
    gender = np.select([gender_u < 0.485, gender_u < 0.97, gender_u < 0.99], [0, 1, 2], 3)  # M F U ''
    sparse = rng.random(n) < 0.004  # records with almost nothing known: the default rule's cases

    # First names: popularity by birth cohort, per gender; a few cross-cohort and junk names.
    names, peak, spread, pop, female = _name_table()
    vocab_names = names + UNISEX_NOISE_NAMES + [""]
    name_idx = np.empty(n, dtype=np.int64)
    for is_female in (True, False):
        rows_g = np.flatnonzero((gender == 1) == is_female)
        cols = np.flatnonzero(female == is_female)
        for year in np.unique(birth_year[rows_g]):
            sel = rows_g[birth_year[rows_g] == year]
            w = pop[cols] * np.exp(-0.5 * ((year - peak[cols]) / spread[cols]) ** 2) + 1e-4
            name_idx[sel] = cols[rng.choice(len(cols), size=len(sel), p=w / w.sum())]
    noise_u = rng.random(n)
    name_idx = np.where(noise_u < 0.06, len(names) + rng.integers(0, len(UNISEX_NOISE_NAMES), n), name_idx)
    name_idx = np.where((noise_u > 0.97) | sparse, len(vocab_names) - 1, name_idx)
    case = rng.integers(0, 10, n)  # mostly Title, some UPPER, some lower
    vocab_cased = vocab_names + [v.upper() for v in vocab_names] + [v.lower() for v in vocab_names]
    name_idx = name_idx + len(vocab_names) * np.select([case == 8, case == 9], [1, 2], 0)

    state_codes = list(STATES)
    base_p = np.array(list(STATES.values()))
    base_p = base_p / base_p.sum()
    retiree = np.array([s in RETIREE_STATES for s in state_codes])
    older = age >= 65
    state_idx = rng.choice(len(state_codes), size=n, p=base_p)
    boost_p = np.where(retiree, base_p * 2.5, base_p)
    state_idx[older] = rng.choice(len(state_codes), size=int(older.sum()), p=boost_p / boost_p.sum())
    zip5 = rng.integers(501, 99951, n)

    a = age.astype(float)
    marital = _choice_by_row(rng, np.stack([
        3.0 * _sigmoid((30 - a) / 4) + 0.2,           # S
        2.0 * _sigmoid((a - 27) / 4) * _sigmoid((80 - a) / 6) + 0.1,  # M
        0.6 * _sigmoid((a - 35) / 6) + 0.02,          # D
        2.5 * _sigmoid((a - 74) / 5) + 0.01,          # W
        np.full(n, 0.25),                             # U
    ], axis=1))
    life_stage = np.exp(-0.5 * ((a - 40) / 9) ** 2)
    household_size = np.clip(1 + rng.poisson(0.6 + 2.4 * life_stage), 1, 9)
    num_children = np.clip(rng.poisson(0.1 + 2.0 * life_stage), 0, 8)
    homeowner = _choice_by_row(rng, np.stack([
        0.85 * _sigmoid((a - 33) / 7) + 0.05, 1.0 - 0.85 * _sigmoid((a - 33) / 7), np.full(n, 0.12)], axis=1))
    residence = np.minimum(a - 18, rng.exponential(2 + 0.28 * (a - 18))).astype(np.int64)
    income = np.clip(np.round(3 + 6 * np.exp(-0.5 * ((a - 50) / 14) ** 2) + rng.normal(0, 1.6, n)), 0, 11).astype(np.int64)
    net_worth = np.clip(np.round(1 + 6 * _sigmoid((a - 48) / 10) + rng.normal(0, 1.2, n)), 0, 8).astype(np.int64)
    education = _choice_by_row(rng, np.stack([
        0.3 + 0.5 * _sigmoid((a - 65) / 8),           # HS
        0.3 + 0.8 * _sigmoid((24 - a) / 2),           # SC
        np.full(n, 0.35), np.full(n, 0.15),           # BA GR
        np.full(n, 0.1),                              # U
    ], axis=1))
    occupation = _choice_by_row(rng, np.stack([
        3.0 * _sigmoid((23 - a) / 1.5),               # STUDENT
        0.8 * _sigmoid((a - 24) / 3) * _sigmoid((66 - a) / 3),  # PROFESSIONAL
        0.6 * _sigmoid((66 - a) / 3),                 # CLERICAL
        0.6 * _sigmoid((66 - a) / 3),                 # TRADES
        3.0 * _sigmoid((a - 65) / 2.5),               # RETIRED
        np.full(n, 0.15),                             # HOMEMAKER
        np.full(n, 0.3),                              # U
    ], axis=1))
    vehicle_count = np.clip(rng.poisson(0.4 + 1.6 * np.exp(-0.5 * ((a - 45) / 16) ** 2)), 0, 6)
    vehicle_age = rng.exponential(np.maximum(1.0, 9 - 0.06 * (a - 18)))
    newest_vehicle_year = (ref_year + 1 - vehicle_age).astype(np.int64)
    landline = rng.random(n) < 0.05 + 0.85 * _sigmoid((a - 58) / 8)
    mobile = rng.random(n) < 0.98 - 0.35 * _sigmoid((a - 78) / 5)
    email = _choice_by_row(rng, np.stack([
        2.0 * _sigmoid((45 - a) / 8) + 0.3,           # gmail
        0.9 * np.exp(-0.5 * ((a - 55) / 12) ** 2) + 0.1,  # yahoo
        1.2 * _sigmoid((a - 62) / 6) + 0.02,          # aol
        0.6 * np.exp(-0.5 * ((a - 45) / 10) ** 2) + 0.05,  # hotmail
        1.0 * _sigmoid((35 - a) / 5) + 0.05,          # icloud
        0.5 * _sigmoid((a - 25) / 3) * _sigmoid((65 - a) / 3),  # corporate
        1.5 * _sigmoid((23 - a) / 1.5),               # edu
        np.full(n, 0.15),                             # other
        np.full(n, 0.25),                             # ''
    ], axis=1))
    social = rng.poisson(5.0 * np.exp(-(a - 18) / 22))
    cards = rng.poisson(0.5 + 3.5 * _sigmoid((a - 30) / 7))
    voter = _choice_by_row(rng, np.stack([
        0.4 + 0.5 * _sigmoid((a - 35) / 10), 0.6 - 0.5 * _sigmoid((a - 35) / 10), np.full(n, 0.1)], axis=1))

    adult_since = (birth_year + 18 - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    start = np.maximum(adult_since, np.datetime64(DATA_START))
    ref_day = np.datetime64(ref)
    span = (ref_day - start).astype(np.int64)
    first_seen = start + (rng.random(n) ** 2.5 * np.maximum(span, 1)).astype("timedelta64[D]")
    last_activity = ref_day - rng.exponential(45 + 2.0 * (a - 18), n).astype("timedelta64[D]")
    last_activity = np.maximum(last_activity, first_seen)

    # Existing ages, missing not at random: older people are more often known.
    has_age = (rng.random(n) < 0.07 + 0.38 * _sigmoid((a - 52) / 9)) & ~sparse
    has_year = (rng.random(n) < 0.05 + 0.28 * _sigmoid((a - 55) / 10)) & ~sparse
    age_vocab = [str(i) for i in range(0, 131)] + [f" {i}" for i in range(0, 131)] + MESSY_AGE
    approx = np.clip(age + rng.choice([-1, 0, 0, 0, 0, 1], size=n), 18, 100)
    padded = rng.random(n) < 0.03
    age_idx = np.where(padded, 131 + approx, approx)
    messy_age = 262 + rng.choice(len(MESSY_AGE), size=n, p=MESSY_AGE_P)
    age_idx = np.where(has_age, age_idx, messy_age)
    age_null = ~has_age & (rng.random(n) < 0.25)

    year_vocab = [str(y) for y in range(1880, ref_year + 12)] + MESSY_YEAR
    year_idx = birth_year - 1880
    messy_year = rng.choice(len(MESSY_YEAR), size=n, p=MESSY_YEAR_P)
    future = ref_year + rng.integers(1, 10, n) - 1880
    messy_year_idx = np.where(messy_year == MESSY_YEAR.index("FUTURE"), future, len(year_vocab) - len(MESSY_YEAR) + messy_year)
    messy_year_idx = np.where(messy_year == MESSY_YEAR.index("1890"), 1890 - 1880, messy_year_idx)
    year_idx = np.where(has_year, year_idx, messy_year_idx)
    year_null = ~has_year & (rng.random(n) < 0.3)

    def missing(rate: float) -> np.ndarray:
        return sparse | (rng.random(n) < rate)

    yes_no = ["Y", "N", ""]
    columns = {
        "pid": pa.array(pid, pa.int64()),
        "approximate_age": _strings(age_idx, age_vocab, age_null),
        "birth_year": _strings(year_idx, year_vocab, year_null),
        "gender": _strings(gender, ["M", "F", "U", ""]),
        "first_name": _strings(name_idx, vocab_cased),
        "state": _strings(state_idx, state_codes, sparse),
        "zip5": pa.array(np.char.zfill(zip5.astype(str), 5)),
        "marital_status": _strings(marital, ["S", "M", "D", "W", "U"], sparse),
        "household_size": _ints(household_size, missing(0.10)),
        "num_children": _ints(num_children, missing(0.15)),
        "homeowner": _strings(homeowner, ["Y", "N", "U"], sparse),
        "length_of_residence": _ints(residence, missing(0.12)),
        "income_band": _strings(np.where(missing(0.08), 12, income), list("ABCDEFGHIJKL") + ["U"]),
        "net_worth_band": _strings(np.where(missing(0.10), 9, net_worth), list("ABCDEFGHI") + ["U"]),
        "education": _strings(education, ["HS", "SC", "BA", "GR", "U"], sparse),
        "occupation_group": _strings(
            occupation, ["STUDENT", "PROFESSIONAL", "CLERICAL", "TRADES", "RETIRED", "HOMEMAKER", "U"], sparse),
        "vehicle_count": _ints(vehicle_count, missing(0.10)),
        "newest_vehicle_year": _ints(newest_vehicle_year, missing(0.15) | (vehicle_count == 0)),
        "has_landline": _strings(np.where(missing(0.05), 2, np.where(landline, 0, 1)), yes_no),
        "has_mobile": _strings(np.where(missing(0.05), 2, np.where(mobile, 0, 1)), yes_no),
        "email_domain_type": _strings(
            email, ["gmail", "yahoo", "aol", "hotmail", "icloud", "corporate", "edu", "other", ""], sparse),
        "social_profiles": _ints(social, missing(0.10)),
        "credit_card_count": _ints(cards, missing(0.10)),
        "voter_registered": _strings(voter, ["Y", "N", "U"], sparse),
        "first_seen_date": pa.array(first_seen, pa.date32(), mask=missing(0.05)),
        "last_activity_date": pa.array(last_activity, pa.date32(), mask=missing(0.05)),
    }
    snapshot = pa.table(columns)
    truth = pa.table({"pid": pa.array(pid, pa.int64()), "true_age": pa.array(age.astype(np.int32))})
    return snapshot, truth


def generate_snapshot(
    landing_dir: Location,
    truth_dir: Location,
    quarter: Quarter,
    rows: int,
    seed: int = 7,
    chunk_rows: int = 1_000_000,
) -> GeneratedSnapshot:
    """Write the quarter's snapshot (Parquet parts + `_SUCCESS`) and its ground truth, atomically."""
    if rows <= 0:
        raise ValueError(f"rows must be positive, got {rows}")
    files = 0
    with write_once_dir(landing_dir, SUCCESS_MARKER) as land_tmp, write_once_dir(truth_dir, SUCCESS_MARKER) as truth_tmp:
        for files, start in enumerate(range(0, rows, chunk_rows), start=1):
            size = min(chunk_rows, rows - start)
            snapshot, truth = generate_chunk(quarter.start, size, files - 1, seed, PID_BASE + start)
            pq.write_table(snapshot, land_tmp / f"part-{files - 1:05d}.parquet", compression="zstd")
            pq.write_table(truth, truth_tmp / f"part-{files - 1:05d}.parquet", compression="zstd")
        for done in (land_tmp, truth_tmp):
            (done / SUCCESS_MARKER).write_text(f"rows={rows}\nseed={seed}\n")
    return GeneratedSnapshot(quarter, rows, landing_dir, truth_dir, files)


DAILY_PID_BASE = 5_000_000_000


def generate_daily_arrivals(landing_dir: Location, truth_dir: Location, day: date, rows: int, seed: int = 7) -> GeneratedSnapshot:
    """New records arriving on `day` between snapshots: same columns, pids unique to the day."""
    pid_start = DAILY_PID_BASE + (day.toordinal() % 1_000_000) * 10_000_000
    with write_once_dir(landing_dir, SUCCESS_MARKER) as land_tmp, write_once_dir(truth_dir, SUCCESS_MARKER) as truth_tmp:
        snapshot, truth = generate_chunk(day, rows, day.toordinal(), seed, pid_start)
        pq.write_table(snapshot, land_tmp / "part-00000.parquet", compression="zstd")
        pq.write_table(truth, truth_tmp / "part-00000.parquet", compression="zstd")
        for done in (land_tmp, truth_tmp):
            (done / SUCCESS_MARKER).write_text(f"rows={rows}\nseed={seed}\n")
    return GeneratedSnapshot(None, rows, landing_dir, truth_dir, 1)
