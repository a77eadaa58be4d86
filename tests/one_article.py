"""Pages of our own for the one-article tests: an article as an HTML page and as page text, and its variants."""

from __future__ import annotations

TITLE = "Lisbon opens a new ferry terminal on the Tagus"
PARAS = [
    "The port authority of Lisbon opened a new ferry terminal on Monday after three years of construction work "
    "on the northern bank of the Tagus river.",
    "Officials said the terminal would carry four million passengers a year between Lisbon, Barreiro and Seixal, "
    "and would replace two older piers.",
    "Local businesses welcomed the project, which cost more than forty million euros, most of it paid by the "
    "European Union's cohesion fund.",
    "The first ferries left at six in the morning, and the mayor travelled on the second one with a group of "
    "schoolchildren from Barreiro.",
]
CANONICAL = "https://harbour.example/news/2024/06/lisbon-ferry-terminal"

OTHER_TITLE = "Porto airport adds a second runway for summer flights"
OTHER_PARAS = [
    "Porto's airport will open a second runway in July, the operator said on Tuesday, to cope with a record "
    "number of summer flights from northern Europe.",
    "The runway was built in eighteen months on land bought from three farms, and will be used mostly by "
    "low-cost airlines flying to Paris, London and Berlin.",
    "Residents of the nearby villages asked for limits on night flights, which the operator said it would "
    "discuss with the city council in the autumn.",
]


def html_page(
    title: str = TITLE,
    paras: list[str] = PARAS,
    canonical: str | None = CANONICAL,
    site: str = "Harbour News",
    published: str = "2024-06-03T09:00:00Z",
) -> str:
    """The article as its site serves it: title, canonical link, site name, author, date, menus and footer."""
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    body = "".join(f"<p>{p}</p>" for p in paras)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} | {site}</title>{link}'
        f'<meta property="og:site_name" content="{site}"><meta name="author" content="Ana Costa">'
        f'<meta property="article:published_time" content="{published}"></head>'
        f'<body><nav><a href="/">Home</a> <a href="/news">News</a></nav><article><h1>{title}</h1>'
        f'<p class="byline">By Ana Costa</p>{body}</article>'
        f"<footer>Copyright {site} 2024. All rights reserved.</footer></body></html>"
    )


def page_text(title: str = TITLE, paras: list[str] = PARAS) -> str:
    """The same article as page text, as a copy from the browser gives it: no URL, no site name."""
    return title + "\n\n" + "\n\n".join(paras) + "\n"


#: A third article's paragraphs (published under the first one's title in the tests: a different article)
THIRD_PARAS = [
    "The city museum of Coimbra reopened its medieval wing on Saturday after a two-year restoration paid for "
    "by a private foundation and the regional government.",
    "Visitors queued from early morning to see the restored altarpieces, several of which had not been shown "
    "to the public since the nineteen-seventies.",
    "The curator said the wing would host a new exhibition every spring, starting with manuscripts lent by the "
    "university library.",
]
