"""The verifier's wording analysis: what it keeps in memory."""

from apps.cache import wording


def test_only_short_texts_are_kept_in_the_analysis_caches():
    # A 2,000-character text's analysis is ~80 KB: caching 4,096 of them would hold ~300 MB.
    wording.analyse.cache_clear()
    short, long = "How do I reverse a list in Python?", "Explain the trade-offs of these options. " * 40
    assert wording.analyse(short) == wording.analyse(short)
    assert wording.analyse(long) == wording.analyse(long)
    assert wording.analyse.cache_info().currsize == 1
