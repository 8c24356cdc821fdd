"""Benchmark: duplicate detection on a project where duplicates were planted at known rates.

Questions are built from (subject, group, intent, setting) combinations; each intent has several
phrasings that ask the same thing. A project gets N questions: unique combinations, plus planted
duplicates of earlier ones: exact copies (case and punctuation changed), paraphrases in the same
tag, and paraphrases filed under another tag. Two questions are truly duplicates when they share
their combination; questions that differ in one slot ("... for sprinters" / "... for swimmers")
are the hard negatives. Every slot changes what is asked (another practice, audience, goal,
question or setting: "who want to avoid injuries" / "who are coming back from injury" are
different people), and a planted paraphrase only rewords the question's frame, so neither kind
of mistake is built into the data.

Prints, for the semantic scan at the default threshold (and a sweep of thresholds from the same
vectors): precision of the reported duplicates and recall per planted kind and of the two
reworded kinds together, "paraphrases" (target: recall of paraphrases >= 0.9 at precision
>= 0.9); for the lexical scan (MinHash/LSH) the same figures; and the time and peak memory
of each scan, with the lexical scan timed against the pairwise test it replaced (ratio
pairwise/LSH, measured in the same run up to --pairwise-max questions).

    .venv/bin/python bench/dedup.py [--n 2000] [--threshold 0.85] [--cache FILE]
    .venv/bin/python bench/dedup.py --n 100000 --negatives dense --no-sweep   # the 100k scan
"""

from __future__ import annotations

import argparse
import random
import resource
import sqlite3
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from distillset.config import load_settings
from distillset.domain import text_hash
from distillset.generation.dedup import comparison_key, is_near_duplicate
from distillset.projects import lifecycle as projects
from distillset.quality.embedders import CachedEmbedder, Embedder, LocalEmbedder
from distillset.quality.semantic import (
    DEFAULT_THRESHOLD,
    group_rows,
    near_miss_check,
    question_vectors,
)
from distillset.review.duplicates import find_duplicates
from distillset.store import Store, open_store
from distillset.tags.tree import add_tag_path

SUBJECTS = [
    "interval training",
    "strength training",
    "static stretching",
    "dynamic stretching",
    "foam rolling",
    "plyometric drills",
    "altitude training",
    "hill repeats",
    "tempo runs",
    "core exercises",
    "balance training",
    "a structured warm-up",
    "a cool-down routine",
    "protein intake",
    "carbohydrate loading",
    "hydration",
    "caffeine use",
    "sleep",
    "active recovery",
    "ice baths",
    "massage",
    "yoga",
    "pilates",
    "swimming drills",
    "cycling as cross-training",
    "rowing intervals",
    "sprint starts",
    "agility ladder work",
    "resistance bands",
    "kettlebell swings",
    "heart rate monitoring",
    "video analysis",
    "mental rehearsal",
    "breathing exercises",
    "nutrition timing",
    "tapering",
    "deload weeks",
    "cold weather training",
]  # noqa: SIM905
GROUPS = [
    "marathon runners",
    "sprinters",
    "swimmers",
    "youth footballers",
    "older adults",
    "beginners",
    "tennis players",
    "cyclists",
    "basketball players",
    "rowers",
    "gymnasts",
    "triathletes",
    "wheelchair athletes",
    "coaches",
]  # noqa: SIM905
GOALS = [
    " who want to run faster",
    " who want to avoid injuries",
    " who want to lose weight",
    " who want more endurance",
    " who want to jump higher",
    " who are coming back from injury",
    " who train twice a day",
    " who compete at a national level",
    " who train alone",
    " who have little time",
    " who are over forty",
]  # noqa: SIM905
SETTINGS = ("", " during the off-season", " before a competition", " in hot weather")
# Each intent: phrasings that ask the same thing ({s} subject, {g} group, {c} setting).
INTENTS = [
    [
        "What are the benefits of {s} for {g}{c}?",
        "How do {g} benefit from {s}{c}?",
        "In what ways does {s} help {g}{c}?",
        "Why is {s} good for {g}{c}?",
    ],
    [
        "What are the risks of {s} for {g}{c}?",
        "What dangers does {s} pose to {g}{c}?",
        "Can {s} be harmful for {g}{c}?",
        "What could go wrong when {g} rely on {s}{c}?",
    ],
    [
        "How often should {g} do {s}{c}?",
        "What is the right weekly frequency of {s} for {g}{c}?",
        "How many sessions of {s} per week suit {g}{c}?",
    ],
    [
        "How should {g} get started with {s}{c}?",
        "What is a good way for {g} to begin {s}{c}?",
        "What first steps should {g} take with {s}{c}?",
    ],
    [
        "What are common mistakes {g} make with {s}{c}?",
        "Which errors do {g} often make when doing {s}{c}?",
        "What do {g} usually get wrong about {s}{c}?",
    ],
    [
        "How can {g} measure progress from {s}{c}?",
        "How do {g} track their improvement from {s}{c}?",
        "Which measurements show whether {s} works for {g}{c}?",
    ],
]
KINDS = ("exact", "paraphrase", "cross_tag")


def combinations(negatives: str, rng: random.Random) -> list[tuple[int, ...]]:
    """(subject, group, goal, intent, setting) index tuples in a random order. ``dense``: all
    of them, so some differ in one slot only (the same question for swimmers instead of
    sprinters: near misses that are not duplicates). ``spread``: the subject is fixed by the
    other slots, so any two differ in at least two slots."""
    sizes = (len(GROUPS), len(GOALS), len(INTENTS), len(SETTINGS))
    others = [
        (g, o, i, c)
        for g in range(sizes[0])
        for o in range(sizes[1])
        for i in range(sizes[2])
        for c in range(sizes[3])
    ]
    if negatives == "spread":
        combos = [(sum(rest) % len(SUBJECTS), *rest) for rest in others]
    else:
        combos = [(s, *rest) for s in range(len(SUBJECTS)) for rest in others]
    rng.shuffle(combos)
    return combos


def plant(
    n: int, rates: dict[str, float], seed: int, negatives: str = "dense"
) -> list[tuple[str, str, tuple, str]]:
    """(subject tag, text, combination, kind) rows: unique questions, then planted duplicates
    of them in a random order (a model repeats what it wrote before)."""
    rng = random.Random(seed)
    combos = combinations(negatives, rng)
    planted = {kind: int(n * rate) for kind, rate in rates.items()}
    unique = n - sum(planted.values())
    if unique > len(combos):
        raise SystemExit(f"{negatives}: at most {len(combos)} unique questions")
    rows = [
        (SUBJECTS[combo[0]], _phrase(combo, rng.randrange(99)), combo, "unique")
        for combo in combos[:unique]
    ]
    copies: list[tuple[str, str, tuple, str]] = []
    for kind, count in planted.items():
        for _ in range(count):
            tag, text, combo, _ = rng.choice(rows[:unique])
            if kind == "exact":
                text = text.upper().rstrip("?") + " ?"
            else:
                variants = len(INTENTS[combo[3]])
                others = [k for k in range(variants) if _phrase(combo, k) != text]
                text = _phrase(combo, rng.choice(others))
                if kind == "cross_tag":
                    tag = rng.choice([s for s in SUBJECTS if s != tag])
            copies.append((tag, text, combo, kind))
    rng.shuffle(copies)
    return rows + copies


def _phrase(combo: tuple, variant: int) -> str:
    s, g, o, i, c = combo
    phrasings = INTENTS[i]
    group = GROUPS[g] + GOALS[o]
    return phrasings[variant % len(phrasings)].format(s=SUBJECTS[s], g=group, c=SETTINGS[c])


def seed_project(home: Path, rows: list[tuple[str, str, tuple, str]]) -> None:
    settings = load_settings(home=home)
    store = open_store(settings)
    with store.session() as session:
        project = projects.create_project(session, "Bench")
        tags = {s: add_tag_path(session, project, f"Training > {s}").id for s in SUBJECTS}
        project_id = project.id
    store.close()
    database = sqlite3.connect(home / "distillset.sqlite3")
    now = datetime.now(UTC).isoformat(sep=" ")
    database.executemany(
        "INSERT INTO questions (id, project_id, tag_id, text, text_hash, origin, created_at,"
        " answer_attempt) VALUES (?, ?, ?, ?, ?, 'distilled', ?, 0)",
        [
            (index + 1, project_id, tags[tag], text, f"{text_hash(text)}{index}", now)
            for index, (tag, text, _, _) in enumerate(rows)
        ],
    )
    database.executemany(
        "INSERT INTO answers (question_id, project_id, variant, answer, confirmed, labels,"
        " created_at) VALUES (?, ?, 0, 'An answer.', 0, '[]', ?)",
        [(index + 1, project_id, now) for index in range(len(rows))],
    )
    database.commit()
    database.close()


def score(groups: list[list[int]], rows: list[tuple[str, str, tuple, str]]) -> dict[str, float]:
    """Per question: a reported duplicate (any member of a group but its first) is right when
    it was planted (an earlier question asks the same); recall per planted kind."""
    reported = {member for group in groups for member in group[1:]}
    planted = Counter(row[3] for row in rows if row[3] != "unique")
    found = Counter(rows[member][3] for member in reported if rows[member][3] != "unique")
    right = sum(found.values())
    figures = {"precision": right / len(reported) if reported else 1.0, "reported": len(reported)}
    for kind in KINDS:
        figures[f"recall_{kind}"] = found[kind] / planted[kind] if planted[kind] else 1.0
    figures["recall"] = right / sum(planted.values()) if planted else 1.0
    reworded = planted["paraphrase"] + planted["cross_tag"]
    figures["recall_reworded"] = (
        (found["paraphrase"] + found["cross_tag"]) / reworded if reworded else 1.0
    )
    return figures


def line(label: str, figures: dict[str, float], seconds: float) -> str:
    recalls = " ".join(f"{kind} {figures[f'recall_{kind}']:.3f}" for kind in KINDS)
    return (
        f"{label:<22} precision {figures['precision']:.3f}  recall {figures['recall']:.3f} "
        f"({recalls}; paraphrases {figures['recall_reworded']:.3f})  "
        f"reported {int(figures['reported'])}  {seconds:.1f}s"
    )


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pairwise_groups(texts: list[str]) -> list[list[int]]:
    """The scan the LSH index replaced: every text against every group head."""
    heads: list[tuple[int, str]] = []
    groups: dict[int, list[int]] = {}
    for index, text in enumerate(texts):
        key = comparison_key(text)
        head = next((h for h, other in heads if is_near_duplicate(key, other)), None)
        if head is None:
            heads.append((index, key))
            groups[index] = [index]
        else:
            groups[head].append(index)
    return [group for group in groups.values() if len(group) > 1]


def lexical_scan(store: Store, rows: list, pairwise_max: int) -> None:
    with store.session() as session:
        project = projects.get_project(session, "Bench")
        started = time.perf_counter()
        groups = find_duplicates(session, project, across_tags=True)
        seconds = time.perf_counter() - started
    lexical = [[record - 1 for record in g.record_ids] for g in groups if g.part == "question"]
    print(line("lexical (MinHash/LSH)", score(lexical, rows), seconds))
    if len(rows) > pairwise_max:
        return
    started = time.perf_counter()
    pairwise = pairwise_groups([text for _, text, _, _ in rows])
    pairwise_seconds = time.perf_counter() - started
    same = sorted(map(sorted, pairwise)) == sorted(map(sorted, lexical))
    print(
        f"{'lexical (pairwise)':<22} {pairwise_seconds:.1f}s: pairwise/LSH time ratio "
        f"{pairwise_seconds / seconds:.1f}, same groups: {same}"
    )


def semantic_scan(
    store: Store, rows: list, threshold: float, cache: Path | None, sweep: bool
) -> None:
    before = peak_mb()
    with store.session() as session:
        project = projects.get_project(session, "Bench")
        started = time.perf_counter()
        embedder: Embedder = LocalEmbedder()
        if cache is not None:
            embedder = CachedEmbedder(embedder, cache)
        question_rows, vectors = question_vectors(session, project, embedder)
        embed_seconds = time.perf_counter() - started
    check = near_miss_check([row.text for row in question_rows], embedder)
    started = time.perf_counter()
    semantic = group_rows(vectors, threshold, check)
    group_seconds = time.perf_counter() - started
    figures = score([[index for index, _ in group] for group in semantic], rows)
    print(line(f"semantic >= {threshold:g}", figures, embed_seconds + group_seconds))
    print(
        f"  embedding {len(question_rows)} questions {embed_seconds:.1f}s "
        f"({len(question_rows) / embed_seconds:.0f}/s{', cached' if cache else ''}), grouping "
        f"(with the near-miss check) {group_seconds:.2f}s, peak RSS {peak_mb():.0f} MB "
        f"(before the scan {before:.0f} MB)"
    )
    for other in (0.8, 0.85, 0.88, 0.885, 0.89, 0.9, 0.92, 0.95) if sweep else (threshold,):
        for label, same in (("", check), (", vectors only", None)):
            grouped = group_rows(vectors, other, same)
            figures = score([[index for index, _ in group] for group in grouped], rows)
            text = line(f"  threshold {other:g}{label}", figures, 0.0).removesuffix("  0.0s")
            print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1500, help="questions in the project")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--exact", type=float, default=0.05, help="share of exact copies")
    parser.add_argument("--paraphrase", type=float, default=0.10, help="paraphrases, same tag")
    parser.add_argument("--cross-tag", type=float, default=0.05, help="paraphrases, other tag")
    parser.add_argument(
        "--negatives",
        choices=("spread", "dense", "both"),
        default="both",
        help="distinct questions differ in two slots or more (spread), or may differ in one "
        "(dense: near misses)",
    )
    parser.add_argument("--pairwise-max", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, help="an embeddings cache kept between runs")
    parser.add_argument(
        "--no-sweep",
        action="store_true",
        help="only the given threshold (with and without the near-miss check)",
    )
    args = parser.parse_args()
    rates = {"exact": args.exact, "paraphrase": args.paraphrase, "cross_tag": args.cross_tag}
    for negatives in ("spread", "dense") if args.negatives == "both" else (args.negatives,):
        rows = plant(args.n, rates, args.seed, negatives)
        with tempfile.TemporaryDirectory() as folder:
            home = Path(folder)
            seed_project(home, rows)
            store = open_store(load_settings(home=home))
            kinds = dict(Counter(row[3] for row in rows))
            print(f"\n{negatives}: {len(rows)} questions, {kinds}")
            lexical_scan(store, rows, args.pairwise_max)
            semantic_scan(store, rows, args.threshold, args.cache, not args.no_sweep)
            store.close()


if __name__ == "__main__":
    main()
