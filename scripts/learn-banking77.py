#!/usr/bin/env python3
"""`tandem learn` measured on BANKING77, as a bank that starts small would meet it.

Builds, in a scratch folder (never in the repository: the data is for evaluation only):
- kb.jsonl: every intent with two question variants, except every 7th intent, which is left
  out (the knowledge base's gaps);
- history.jsonl: half of the official test questions as conversations people answered: the
  customer's question, the bot's hand-off line, and an agent's reply that is the intent's
  answer in the agent's own framing (a greeting before it, an offer after it);
- cases.jsonl: the other half, to measure on (questions of left-out intents are out of scope).

Then runs `tandem eval` before, `tandem learn --apply`, `tandem eval` after, and reports top-1
and in-scope answered before and after, how many left-out intents came out as gaps and how
pure the gap clusters are (the share of each gap's conversations from its main intent).

    cargo build --release -p tandem
    python3 scripts/learn-banking77.py [../shared/data/eval/banking77] [--out DIR]
"""
import argparse
import collections
import json
import os
import subprocess
import tempfile

GREETINGS = ["Hi, thanks for waiting.", "Hello!", "Thanks for reaching out.", "Sorry for the wait."]
CLOSINGS = ["Anything else I can help with?", "Let me know if that helps.", "", "Have a nice day."]


def load(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write(path, rows):
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def tandem(*args):
    binary = os.path.join(os.path.dirname(__file__), "..", "target", "release", "tandem")
    return subprocess.run([binary, *args], check=True, capture_output=True, text=True).stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?", default="../shared/data/eval/banking77")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="learn-banking77-")
    os.makedirs(out, exist_ok=True)
    intents = load(os.path.join(args.data, "kb.jsonl"))
    cases = load(os.path.join(args.data, "cases.jsonl"))
    missing = {intent["id"] for index, intent in enumerate(intents) if index % 7 == 3}
    answers = {intent["id"]: intent["answer"] for intent in intents}
    write(
        os.path.join(out, "kb.jsonl"),
        [
            {**intent, "questions": intent["questions"][:2]}
            for intent in intents
            if intent["id"] not in missing
        ],
    )
    history, evaluation = [], []
    for index, case in enumerate(cases):
        intent = case["expect"]
        if index % 2 == 0:
            reply = " ".join(
                part
                for part in [GREETINGS[index % 4], answers[intent], CLOSINGS[(index // 4) % 4]]
                if part
            )
            history.append(
                {
                    "id": f"b77-{index}",
                    "created_at": "2026-09-01T08:00:00Z",
                    "intent": intent,
                    "messages": [
                        {"author": "customer", "text": case["text"]},
                        {"author": "bot", "text": "Let me get you to a colleague."},
                        {"author": "agent", "agent": "agent@example.com", "text": reply},
                    ],
                }
            )
        else:
            evaluation.append({"text": case["text"], "expect": None if intent in missing else intent})
    write(os.path.join(out, "history.jsonl"), history)
    write(os.path.join(out, "cases.jsonl"), evaluation)

    kb, applied = os.path.join(out, "kb.jsonl"), os.path.join(out, "applied.jsonl")
    cases_path = os.path.join(out, "cases.jsonl")
    before = json.loads(tandem("eval", "--kb", kb, "--cases", cases_path, "--json"))
    learnt = json.loads(
        tandem("learn", "--kb", kb, "--history", os.path.join(out, "history.jsonl"),
               "--json", "--apply", applied)
    )
    after = json.loads(tandem("eval", "--kb", applied, "--cases", cases_path, "--json"))

    intent_of = {conversation["id"]: conversation["intent"] for conversation in history}
    found, pure, counted = set(), 0, 0
    for gap in learnt["gaps"]:
        tally = collections.Counter(intent_of[id] for id in gap["conversation_ids"])
        intent, count = tally.most_common(1)[0]
        pure += count
        counted += len(gap["conversation_ids"])
        if intent in missing:
            found.add(intent)
    right_variants = sum(
        1
        for variant in learnt["variants"]
        for id in variant["conversation_ids"]
        if intent_of[id] == variant["article"]
    )
    all_variants = sum(len(variant["conversation_ids"]) for variant in learnt["variants"])
    report = {
        "folder": out,
        "history": len(history),
        "cases": len(evaluation),
        "before": {key: before[key] for key in ("top1", "inscope_acc", "oos_recall", "answer_precision", "threshold")},
        "after": {key: after[key] for key in ("top1", "inscope_acc", "oos_recall", "answer_precision", "threshold")},
        "effect_on_history": learnt["effect"],
        "variants": len(learnt["variants"]),
        "variants_right_article": round(100.0 * right_variants / max(all_variants, 1), 1),
        "gaps": len(learnt["gaps"]),
        "missing_intents": len(missing),
        "missing_intents_found": len(found),
        "gap_purity": round(100.0 * pure / max(counted, 1), 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
