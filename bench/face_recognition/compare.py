#!/usr/bin/env python3
"""The two halves of bench/face_recognition/run.sh that are neither tool:

  compare.py list   --lfw DIR --folds 1 --out LIST
      the distinct images of the LFW pairs of those folds, in order of first
      appearance in pairs.csv (the same order `facegate eval speed --lfw`
      uses); both tools are then given this one list.

  compare.py report --lfw DIR --folds 1 --rounds R --dir OUT --tools T1,T2,face_recognition
                    --out results.json [--meta JSON]
      reads, per tool, OUT/TOOL.pass.json + TOOL.templates.json (one pass over
      every image) and OUT/TOOL.round1..R.json (the speed rounds);
      speed: per image the fastest of the R rounds, then per-stage median and
      p95 over the images, recomputed here from the per-image records with one
      function for every tool; each round's median; the ratios of medians;
      accuracy: on the official pairs of the folds, with one protocol for all.

Accuracy protocol (the same for every tool):
  * score: Facegate fr-feature = cosine similarity; dlib ResNet (Facegate's
    ONNX rebuild or face_recognition) = negative Euclidean distance;
  * pairs are split in two halves (even / odd position in pairs.csv, so each
    half has the same number of same and different pairs); the threshold that
    maximises accuracy on one half is applied to the other, and vice versa;
    the reported accuracy is the mean of the two;
  * for the dlib ResNet, also the documented threshold: same person when the
    distance is <= 0.6 (face_recognition.compare_faces' default tolerance);
  * only the pairs whose two images are in the measured list count;
  * a pair with an image where the tool found no face counts as an error,
    whatever the label, and their number is reported.
"""

import argparse
import csv
import json
import math
import os
import sys
from datetime import datetime, timezone

STAGES = ["decode", "detect", "landmarks", "align_embed", "total_without_decode", "total"]
FACE_ONLY = {"landmarks", "align_embed"}


def read_pairs(lfw, folds):
    with open(os.path.join(lfw, "pairs.csv"), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        (int(r["fold"]), r["is_same"] == "1", r["image_a"], r["image_b"])
        for r in rows
        if not folds or int(r["fold"]) in folds
    ]


def distinct_images(pairs):
    seen, out = set(), []
    for _, _, a, b in pairs:
        for img in (a, b):
            if img not in seen:
                seen.add(img)
                out.append(img)
    return out


def summary(values):
    """Median (mean of the middle two), nearest-rank p95, mean, min, max (ms)."""
    v = sorted(values)
    n = len(v)
    if n == 0:
        return {"n": 0, "median": 0.0, "p95": 0.0, "mean": 0.0, "min": 0.0, "max": 0.0}
    median = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0
    rank = min(max(math.ceil(0.95 * n), 1), n)
    return {"n": n, "median": median, "p95": v[rank - 1], "mean": sum(v) / n, "min": v[0], "max": v[-1]}


def stage_summary(records):
    return {
        s: summary([r["ms"][s] for r in records if r["face"] or s not in FACE_ONLY]) for s in STAGES
    }


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / max(na * nb, 1e-12)


def neg_euclidean(a, b):
    return -math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))


def best_threshold(scored):
    """Threshold maximising accuracy of `score >= t` => same; middle of the best range."""
    s = sorted(scored)
    if not s:
        return 0.0
    values = sorted({x for x, _ in s})
    candidates = [values[0] - 1.0] + [(values[i] + values[i + 1]) / 2 for i in range(len(values) - 1)]
    candidates.append(values[-1] + 1.0)
    best, best_ts = -1, []
    for t in candidates:
        correct = sum(1 for x, same in s if (x >= t) == same)
        if correct > best:
            best, best_ts = correct, [t]
        elif correct == best:
            best_ts.append(t)
    return (best_ts[0] + best_ts[-1]) / 2


def accuracy(pairs_scores, threshold):
    """pairs_scores: (score or None, same). None (no face) is always an error."""
    if not pairs_scores:
        return 0.0
    correct = sum(1 for x, same in pairs_scores if x is not None and (x >= threshold) == same)
    return correct / len(pairs_scores)


def evaluate(name, metric, templates, pairs, documented=None):
    index = {img: i for i, img in enumerate(templates["images"])}
    vectors = templates["templates"][templates["_model"]]
    scored, missing = [], 0
    for _, same, a, b in pairs:
        if a not in index or b not in index:
            continue
        va, vb = vectors[index[a]], vectors[index[b]]
        if va is None or vb is None:
            scored.append((None, same))
            missing += 1
        else:
            scored.append((metric(va, vb), same))
    halves = [scored[0::2], scored[1::2]]
    folds = []
    for k in (0, 1):
        train = [(x, s) for x, s in halves[k] if x is not None]
        t = best_threshold(train)
        folds.append({"threshold_from_half": k, "threshold": t, "test_pairs": len(halves[1 - k]),
                      "accuracy": accuracy(halves[1 - k], t)})
    out = {
        "tool": name,
        "score": "cosine" if metric is cosine else "negative Euclidean distance",
        "pairs": len(scored),
        "same_pairs": sum(1 for _, s in scored if s),
        "pairs_with_no_face": missing,
        "images_with_no_face": sum(1 for v in vectors if v is None),
        "two_fold_accuracy": sum(f["accuracy"] for f in folds) / 2,
        "folds": folds,
    }
    if documented is not None:
        out["documented_threshold"] = {"distance": documented,
                                       "accuracy": accuracy(scored, -documented)}
    return out


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def cmd_list(args):
    images = distinct_images(read_pairs(args.lfw, args.folds))
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(images) + "\n")
    print(f"{len(images)} images of the pairs of fold(s) {args.folds or 'all'} -> {args.out}")


def display(tool):
    return f"facegate ({tool[len('facegate-'):]})" if tool.startswith("facegate-") else tool


def best_of(rounds):
    """Per image, the record of the round with the smallest total."""
    return [min(recs, key=lambda r: r["ms"]["total"]) for recs in zip(*(r["records"] for r in rounds))]


def cmd_report(args):
    pairs = read_pairs(args.lfw, args.folds)
    tools = [t for t in args.tools.split(",") if t]
    if "face_recognition" not in tools:
        sys.exit("--tools must include face_recognition")
    runs = {}
    for tool in tools:
        base = os.path.join(args.dir, tool)
        templates = load(base + ".templates.json")
        templates["_model"] = 0
        model = templates["models"][0]
        runs[tool] = {
            "pass": load(base + ".pass.json"),
            "templates": templates,
            "rounds": [load(f"{base}.round{k}.json") for k in range(1, args.rounds + 1)],
            "metric": cosine if "fr-feature" in model else neg_euclidean,
            "documented": 0.6 if ("dlib" in model or tool == "face_recognition") else None,
        }

    def image_list(report):
        return tuple(r["image"] for r in report["records"])

    passes = {image_list(r["pass"]) for r in runs.values()}
    round_lists = {image_list(rep) for r in runs.values() for rep in r["rounds"]}
    if len(passes) != 1 or len(round_lists) != 1:
        sys.exit("the tools did not measure the same images in the same order")
    all_images, speed_images = next(iter(passes)), next(iter(round_lists))
    if speed_images != all_images[: len(speed_images)]:
        sys.exit("the speed images are not the first images of the accuracy pass")

    speed = {}
    for tool, r in runs.items():
        best = best_of(r["rounds"])
        speed[display(tool)] = {
            "best_of_rounds": stage_summary(best),
            "round_medians": {s: [stage_summary(rep["records"])[s]["median"] for rep in r["rounds"]] for s in STAGES},
            "single_pass_all_images": stage_summary(r["pass"]["records"]),
            "faces_found_speed_images": sum(1 for x in best if x["face"]),
            "faces_found_all_images": sum(1 for x in r["pass"]["records"] if x["face"]),
            "warmup": r["pass"]["warmup"],
            "machine_during_pass": r["pass"]["machine"],
            "load_during_rounds": [[rep["machine"]["load_before"], rep["machine"]["load_after"]] for rep in r["rounds"]],
        }
        for key in ("runtime", "embedders", "detector", "intra_op_threads", "versions"):
            if key in r["pass"]:
                speed[display(tool)][key] = r["pass"][key]
    fr = speed["face_recognition"]
    ratios = {}
    for name, sp in speed.items():
        if name == "face_recognition":
            continue
        ratios[name] = {}
        for stage in ("total_without_decode", "total"):
            per_round = [a / max(b, 1e-9) for a, b in zip(fr["round_medians"][stage], sp["round_medians"][stage])]
            ratios[name][stage] = {
                "best_of_rounds": fr["best_of_rounds"][stage]["median"] / max(sp["best_of_rounds"][stage]["median"], 1e-9),
                "per_round": per_round,
                "single_pass_all_images": fr["single_pass_all_images"][stage]["median"]
                / max(sp["single_pass_all_images"][stage]["median"], 1e-9),
            }

    acc = [evaluate(display(tool), r["metric"], r["templates"], pairs, r["documented"]) for tool, r in runs.items()]

    results = {
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "lfw_folds": args.folds,
        "images_all": len(all_images),
        "images_speed": len(speed_images),
        "rounds": args.rounds,
        "method": "per-stage ms per image on one core (taskset), one thread; speed: per image the fastest of "
                  "the rounds (tools interleaved, order rotated), then median / nearest-rank p95 over the images",
        "meta": load(args.meta) if args.meta else None,
        "speed": speed,
        "ratio_of_medians_face_recognition_over_facegate": ratios,
        "accuracy": acc,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)

    labels = {"decode": "read + decode", "detect": "detect", "landmarks": "landmarks",
              "align_embed": "align + embed", "total_without_decode": "**detect + align + embed**",
              "total": "total with decode"}
    names = list(speed)
    print(f"\n### Per-image latency, ms, one core: {len(speed_images)} images, fastest of {args.rounds} rounds")
    print("| stage | " + " | ".join(f"{n} median / p95" for n in names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for stage in STAGES:
        cells = [f"{speed[n]['best_of_rounds'][stage]['median']:.2f} / {speed[n]['best_of_rounds'][stage]['p95']:.2f}"
                 for n in names]
        print(f"| {labels[stage]} | " + " | ".join(cells) + " |")
    print("| median of detect + align + embed in each round | "
          + " | ".join(", ".join(f"{m:.1f}" for m in speed[n]["round_medians"]["total_without_decode"]) for n in names)
          + " |")
    print(f"| single pass over all {len(all_images)} images: median / p95 of detect + align + embed | "
          + " | ".join(f"{speed[n]['single_pass_all_images']['total_without_decode']['median']:.2f} / "
                       f"{speed[n]['single_pass_all_images']['total_without_decode']['p95']:.2f}" for n in names)
          + " |")
    for name, r in ratios.items():
        ratio = r["total_without_decode"]["best_of_rounds"]
        verdict = "met" if ratio >= 10 else ("met (5x), short of the 10x aim" if ratio >= 5 else "NOT met")
        rounds = ", ".join(f"{x:.1f}" for x in r["total_without_decode"]["per_round"])
        print(f"ratio of medians face_recognition / {name}: detect+align+embed {ratio:.1f}x "
              f"(rounds: {rounds}; single pass: {r['total_without_decode']['single_pass_all_images']:.1f}x), "
              f"with decode {r['total']['best_of_rounds']:.1f}x  -- target >= 5x, aim 10x: {verdict}")
    print(f"\n### Accuracy on the {acc[0]['pairs']} pairs of fold(s) {args.folds} (2-fold thresholds)")
    print("| tool | pairs | pairs with no face | images with no face | 2-fold accuracy | at distance 0.6 |")
    print("|---|---|---|---|---|---|")
    for a in acc:
        doc = f"{a['documented_threshold']['accuracy'] * 100:.2f}%" if "documented_threshold" in a else "–"
        print(f"| {a['tool']} | {a['pairs']} | {a['pairs_with_no_face']} | {a['images_with_no_face']} | "
              f"{a['two_fold_accuracy'] * 100:.2f}% | {doc} |")
    print(f"\nresults: {args.out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("list")
    p.add_argument("--lfw", required=True)
    p.add_argument("--folds", type=lambda s: [int(x) for x in s.split(",") if x], default=[])
    p.add_argument("--out", required=True)
    p = sub.add_parser("report")
    p.add_argument("--lfw", required=True)
    p.add_argument("--folds", type=lambda s: [int(x) for x in s.split(",") if x], default=[])
    p.add_argument("--speed-images", type=int, default=200, help="(informational; the rounds' files decide)")
    p.add_argument("--rounds", type=int, required=True)
    p.add_argument("--dir", required=True, help="folder with TOOL.pass.json, TOOL.templates.json, TOOL.roundK.json")
    p.add_argument("--tools", required=True, help="comma-separated: facegate-fr-feature,...,face_recognition")
    p.add_argument("--meta", help="JSON with the run's facts (command, loads, build flags)")
    p.add_argument("--out", required=True)
    args = ap.parse_args()
    cmd_list(args) if args.cmd == "list" else cmd_report(args)


if __name__ == "__main__":
    main()
