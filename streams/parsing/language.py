"""Language detection from stop words and scripts (no model): a declared language wins when the text agrees."""

from __future__ import annotations

import re

from streams.parsing.words import WORD

_STOPWORDS = {
    "en": "the of and to in is that for it on was with as are be this by at from have has not but an they his her which were you will said",
    "fr": "le la les de des et est un une du dans que qui pour pas sur au avec ce il elle sont par plus se ont été aux cette",
    "es": "el la los las de del y en que es un una por con para se su al lo como más pero sus fue ha son esta",
    "pt": "o a os as de do da dos das e em que é um uma para com não no na por se mais ao pelo pela foi são",
    "it": "il lo la i gli le di del della e è un una per con non che in si da al sono nel alla anche più",
    "de": "der die das und ist nicht ein eine zu den mit von sich des auf für im dem auch es sie wird wurde ich",
    "nl": "de het een en van is dat op te in niet zijn voor met die er aan ook om als door maar",
    "sv": "och att det som en är på av för med den till inte har om ett de var jag",
    "da": "og at det som en er på af for med den til ikke har om et de var jeg",
    "no": "og at det som en er på av for med den til ikke har om et de var jeg",
    "pl": "i w na z się nie do to że jest o jak po od za przez dla jako czy",
    "ru": "и в не на что я с он как это по но из к у за от же то все она так",
    "uk": "і в не на що я з він як це по але із до у за від же та все вона так",
    "tr": "ve bir bu da de için ile olarak çok daha gibi ne kadar olan en",
    "id": "dan yang di ini itu dengan untuk dari tidak ke dalam akan pada juga",
}
_STOPSETS = {lang: set(words.split()) for lang, words in _STOPWORDS.items()}


_SCRIPTS = {
    "ja": re.compile(r"[\u3040-\u30ff]"),
    "zh": re.compile(r"[\u4e00-\u9fff]"),
    "ko": re.compile(r"[\uac00-\ud7af]"),
    "ar": re.compile(r"[\u0600-\u06ff]"),
    "he": re.compile(r"[\u0590-\u05ff]"),
    "el": re.compile(r"[\u0370-\u03ff]"),
    "th": re.compile(r"[\u0e00-\u0e7f]"),
    "hi": re.compile(r"[\u0900-\u097f]"),
    "cyr": re.compile(r"[\u0400-\u04ff]"),
}
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")


def detect_language(text: str, hint: str | None = None) -> str | None:
    """Guess the ISO 639-1 language of ``text``.

    Scripts decide first (Han/Kana -> zh/ja, Hangul -> ko, Arabic, Hebrew,
    Greek, Thai, Devanagari); otherwise the language whose stopwords are most
    frequent among the first 2,000 words wins if they are at least 8 % of the
    words. ``hint`` (e.g. an HTML ``lang`` attribute, ``"en-US"``) is used when
    the text is too short or ambiguous. Returns None without evidence.
    """
    hint_code = None
    if hint:
        m = re.match(r"^\s*([a-zA-Z]{2,3})(?:[-_]|$)", hint)
        if m:
            hint_code = m.group(1).lower()
            hint_code = {"nb": "no", "nn": "no"}.get(hint_code, hint_code)
            if len(hint_code) != 2:
                hint_code = None
    sample = text[:20000]
    head = sample[:5000]
    scripts = {name: len(rx.findall(head)) for name, rx in _SCRIPTS.items()}
    scripts["latin"] = len(_LATIN.findall(head))
    total = sum(scripts.values())
    if total:
        top = max(scripts, key=scripts.__getitem__)
        if top not in ("latin", "cyr") and scripts[top] > 0.3 * total:
            if top == "zh" and scripts["ja"] > 0.05 * total:
                return "ja"
            return top
    words = WORD.findall(sample[:15000].lower())[:2000]
    if len(words) < 5:
        return hint_code
    scores = {lang: sum(1 for w in words if w in stops) for lang, stops in _STOPSETS.items()}
    if scripts["cyr"] > scripts["latin"]:
        scores = {k: v for k, v in scores.items() if k in ("ru", "uk")}
    else:
        scores.pop("ru", None), scores.pop("uk", None)
    best = max(scores, key=scores.__getitem__)
    ratio = scores[best] / len(words)
    if hint_code and hint_code in scores and scores[hint_code] >= 0.8 * scores[best]:
        return hint_code
    if ratio >= 0.08 or (len(words) < 60 and ratio >= 0.05):
        if best in ("da", "no") and hint_code in ("da", "no"):
            return hint_code
        return best
    return hint_code
