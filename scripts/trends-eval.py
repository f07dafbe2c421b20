#!/usr/bin/env python3
"""Spike detection of `tandem trends` on streams built from real customer text, with bursts.

Each stream is 60 days of conversations drawn from real text in ../shared/data (Chinese:
the bq-dev and lcqmc-dev questions and the waimai-10k reviews; English: the banking77 and
clinc150-val questions), around 150 a day with quieter weekends. A burst stream adds, on days
40 to 42, a product problem written by us in a dozen different wordings (Chinese: a charger
running hot; English: the app crashing at sign-in), 15, 25 and 20 conversations a day. Control
streams have no burst. The data is read at run time and never copied into the repository.

Prints, per stream: the day the burst is first flagged, the share of flagged conversations
that belong to the burst, the share of the burst flagged, and the alerts on control streams;
then the time `tandem trends` takes on 100,000 conversations.

    cargo build --release -p tandem
    python3 scripts/trends-eval.py [../shared/data]
"""
import datetime
import json
import os
import random
import subprocess
import sys
import time

DAYS = 60
PER_DAY = 150
BURST_DAYS = {40: 15, 41: 25, 42: 20}
START = datetime.date(2026, 8, 1)

# Written for this evaluation: one problem, many wordings.
BURST = {
    "zh": [
        "充电器用了十分钟就烫得不行",
        "新买的充电器特别烫手，正常吗",
        "充电头发热很严重，有点担心安全",
        "你们的充电器充电时发烫还有焦味",
        "充电器插上没多久就很烫，能换吗",
        "为什么充电器会这么热",
        "充电器烫到不敢碰了",
        "快充头发烫，手机也跟着热",
        "充电器外壳烫手，是不是质量问题",
        "用原装充电器充电，充电器烫得厉害",
        "充电器发烫严重，要退货",
        "充电的时候充电器很烫怎么办",
    ],
    "en": [
        "the app crashes every time i try to sign in",
        "app keeps crashing at login since the update",
        "cannot log in, the app closes itself",
        "after updating, the app crashes on the login screen",
        "your app crashes when i enter my password",
        "login makes the app crash on my phone",
        "app shuts down as soon as i press sign in",
        "the new version crashes at sign in",
        "every time i log in the app force closes",
        "app crash on login, please fix",
        "i get kicked out of the app when logging in, it just crashes",
        "sign in crashes the app on android",
    ],
}


def lines(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def pool(data, language):
    texts = []
    if language == "zh":
        for name in ("bq-dev", "lcqmc-dev"):
            texts += [case["text"] for case in lines(os.path.join(data, "eval", name, "cases.jsonl"))]
        texts += [row["text"] for row in lines(os.path.join(data, "signals", "waimai-10k.jsonl"))]
    else:
        for name in ("banking77", "clinc150-val"):
            texts += [case["text"] for case in lines(os.path.join(data, "eval", name, "cases.jsonl"))]
    return texts


def stream(texts, language, seed, burst):
    rng = random.Random(seed)
    conversations, planted = [], set()
    for day in range(DAYS):
        date = START + datetime.timedelta(days=day)
        weekend = date.weekday() >= 5
        count = int(rng.gauss(PER_DAY * (0.6 if weekend else 1.0), 10))
        for _ in range(max(count, 0)):
            conversations.append((date, rng.choice(texts)))
        if burst and day in BURST_DAYS:
            for _ in range(BURST_DAYS[day]):
                conversations.append((date, rng.choice(BURST[language])))
                planted.add(len(conversations) - 1)
    rows = []
    for index, (date, text) in enumerate(conversations):
        hour = rng.randrange(8, 23)
        rows.append({
            "id": f"s{seed}-{index}",
            "created_at": f"{date.isoformat()}T{hour:02d}:{rng.randrange(60):02d}:00+08:00",
            "messages": [{"author": "customer", "text": text}],
        })
    return rows, {f"s{seed}-{index}" for index in planted}


def trends(rows):
    binary = os.path.join(os.path.dirname(__file__), "..", "target", "release", "tandem")
    payload = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    started = time.time()
    out = subprocess.run([binary, "trends", "--json"], input=payload, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out), time.time() - started


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
    burst_first = (START + datetime.timedelta(days=min(BURST_DAYS))).isoformat()
    for language in ("zh", "en"):
        texts = pool(data, language)
        for seed in (1, 2, 3):
            rows, planted = stream(texts, language, seed, burst=True)
            result, _ = trends(rows)
            flagged = {id for alert in result["alerts"] for id in alert["conversation_ids"]}
            hit = [alert for alert in result["alerts"] if planted & set(alert["conversation_ids"])]
            first = min((alert["first_day"] for alert in hit), default=None)
            precision = 100.0 * len(flagged & planted) / len(flagged) if flagged else 0.0
            recall = 100.0 * len(flagged & planted) / len(planted)
            print(json.dumps({
                "stream": f"{language}-burst-{seed}", "conversations": len(rows),
                "burst_starts": burst_first, "first_flagged": first,
                "flagged_in_burst_pct": round(precision, 1), "burst_flagged_pct": round(recall, 1),
                "alerts": len(result["alerts"]),
                "labels": [alert["label"] for alert in result["alerts"]],
            }, ensure_ascii=False))
        for seed in (11, 12, 13):
            rows, _ = stream(texts, language, seed, burst=False)
            result, _ = trends(rows)
            print(json.dumps({
                "stream": f"{language}-control-{seed}", "conversations": len(rows),
                "alerts": len(result["alerts"]),
                "labels": [alert["label"] for alert in result["alerts"]],
            }, ensure_ascii=False))
    # Time on 100,000 conversations: both languages, about 830 a day over four months.
    rng = random.Random(7)
    texts = pool(data, "zh") + pool(data, "en")
    rows = []
    for index in range(100_000):
        date = START + datetime.timedelta(days=index * 120 // 100_000)
        rows.append({"id": f"big-{index}", "created_at": f"{date.isoformat()}T12:00:00Z",
                     "messages": [{"author": "customer", "text": rng.choice(texts)}]})
    result, seconds = trends(rows)
    print(json.dumps({"stream": "100k", "conversations": result["conversations"],
                      "topics": len(result["topics"]), "alerts": len(result["alerts"]),
                      "seconds": round(seconds, 1)}))


if __name__ == "__main__":
    main()
