#!/usr/bin/env python3
"""The peer most teams would reach for, measured on the same sets as `tandem eval`.

scikit-learn TF-IDF (word 1-2 grams + char 2-4 grams) with logistic regression and a confidence
threshold for out of scope; on question-matching sets (one question per article) the same
TF-IDF as a nearest-neighbour retriever. Prints one JSON object per set, with the field names
of `tandem eval --json`.

    pip install scikit-learn
    python3 scripts/peer_eval.py ../shared/data/eval/banking77 [more set folders...]
"""
import json
import sys
import time

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import normalize

THRESHOLD = 0.35


def load(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def accepts(expect, article_id):
    if expect is None:
        return False
    return article_id in expect if isinstance(expect, list) else article_id == expect


def evaluate(folder):
    articles = load(f"{folder}/kb.jsonl")
    cases = load(f"{folder}/cases.jsonl")
    texts, labels = [], []
    for article in articles:
        for question in article.get("questions") or [article["title"]]:
            texts.append(question)
            labels.append(article["id"])
    vectorizer = FeatureUnion([
        ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
        ("char", TfidfVectorizer(analyzer="char", ngram_range=(2, 4), sublinear_tf=True)),
    ])
    matrix = vectorizer.fit_transform(texts)
    queries = vectorizer.transform([case["text"] for case in cases])
    started = time.perf_counter()
    one_per_article = len(texts) <= len(articles) * 1.5
    if one_per_article:
        similarity = normalize(queries) @ normalize(matrix).T
        best = similarity.argmax(axis=1).A1
        predicted = [labels[index] for index in best]
        confidence = [similarity[row, index] for row, index in enumerate(best)]
        mode = "nearest neighbour"
    else:
        # C=10 reproduces the reference figures quoted in the issue within half a point; the
        # default C=1 is a weaker peer.
        model = LogisticRegression(C=10.0, max_iter=2000)
        model.fit(matrix, labels)
        probabilities = model.predict_proba(queries)
        best = probabilities.argmax(axis=1)
        predicted = [model.classes_[index] for index in best]
        confidence = probabilities.max(axis=1)
        mode = "logistic regression"
    elapsed = time.perf_counter() - started
    in_scope = [i for i, case in enumerate(cases) if case["expect"] is not None]
    out_of_scope = [i for i, case in enumerate(cases) if case["expect"] is None]
    answered = [i for i in range(len(cases)) if confidence[i] >= THRESHOLD]
    right = lambda i: accepts(cases[i]["expect"], predicted[i])
    pct = lambda part, whole: round(100.0 * part / whole, 1) if whole else None
    return {
        "set": folder.rstrip("/").split("/")[-1],
        "peer": mode,
        "cases": len(cases),
        "threshold": THRESHOLD,
        "top1": pct(sum(right(i) for i in in_scope), len(in_scope)),
        "inscope_acc": pct(sum(right(i) and confidence[i] >= THRESHOLD for i in in_scope), len(in_scope)),
        "oos_recall": pct(sum(confidence[i] < THRESHOLD for i in out_of_scope), len(out_of_scope)),
        "answer_precision": pct(sum(right(i) for i in answered), len(answered)),
        "fit_and_predict_s": round(elapsed, 2),
    }


if __name__ == "__main__":
    for folder in sys.argv[1:]:
        print(json.dumps(evaluate(folder)), flush=True)
