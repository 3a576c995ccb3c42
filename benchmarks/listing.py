"""Generated catalogue pages: `count` realistic product cards, the same bytes on every run.

Each card has nested markup, several classes per element, relative and absolute links, a price with an
occasional old price, a rating, tags, stock and a description; a few cards miss a field, as real listings do.
The page has a head with a stylesheet and a script, a header and a footer, so the parse is not only cards.
"""

from __future__ import annotations

import random
from functools import cache
from html import escape

__all__ = ["LISTING_URL", "listing_html"]

LISTING_URL = "https://shop.example.com/catalogue/page-1.html"

_WORDS = (
    "light", "attic", "velvet", "sharp", "objects", "sapiens", "requiem", "dream", "boys", "boat", "black", "maria",
    "starving", "hearts", "garden", "winter", "stone", "city", "glass", "paper", "golden", "hour", "north", "wind",
    "river", "silent", "copper", "harbour", "meadow", "lantern", "orchard",
)  # fmt: skip
_BRANDS = ("Northwind", "Acme", "Globex", "Initech", "Umbrella", "Stark & Co", "Wayne Goods", "Hooli")
_TAGS = ("new", "sale", "eco", "bestseller", "limited", "gift", "bundle", "refurbished")
_STOCK = ("In stock", "Only 3 left", "Back-order", "Out of stock")

_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Catalogue - page 1 | Example Shop</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/css/shop.css">
<style>.product-card{display:flex}.price-box .price{font-weight:700}.sr-only{position:absolute}</style>
<script>window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);}</script>
</head><body class="catalogue listing">
<header class="site-header"><nav class="main-nav"><ul>
<li><a href="/">Home</a></li><li><a href="/catalogue/">Catalogue</a></li><li><a href="/offers/">Offers</a></li>
<li><a href="/basket/" class="basket">Basket <span class="badge">0</span></a></li></ul></nav>
<form class="search" action="/search"><input type="search" name="q" placeholder="Search"></form></header>
<main id="content"><h1 class="page-title">All products</h1>
<ol class="breadcrumb"><li><a href="/">Home</a></li><li class="active">All products</li></ol>
<ul class="products grid">
"""

_FOOT = """</ul>
<nav class="pager"><a class="prev" href="page-0.html">previous</a> <a class="next" href="page-2.html">next</a></nav>
</main><footer class="site-footer"><p>&copy; Example Shop. Prices include VAT.</p>
<script src="/static/js/shop.js" async></script></footer></body></html>
"""


def _card(n: int, rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(2, 6))]
    title = " ".join(words).title()
    slug = "-".join(words) + f"_{n}"
    sku = f"SKU-{rng.getrandbits(32):08X}"
    price = rng.uniform(3, 250)
    old = f' <del class="price old-price">£{price * rng.uniform(1.1, 1.6):,.2f}</del>' if rng.random() < 0.25 else ""
    stars = rng.randint(1, 5)
    rating = (
        f'<div class="rating" data-stars="{stars}"><span class="stars">{"★" * stars}{"☆" * (5 - stars)}</span> '
        f'<a class="count" href="/p/{slug}/reviews">({rng.randint(1, 4000)} reviews)</a></div>'
        if rng.random() < 0.9
        else ""
    )
    brand = (
        f'<p class="brand">by <span class="brand-name">{escape(rng.choice(_BRANDS))}</span></p>'
        if rng.random() < 0.95
        else ""
    )
    tags = "".join(f'<li class="tag">{t}</li>' for t in rng.sample(_TAGS, rng.randint(0, 3)))
    description = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(12, 30)))
    stock = rng.choice(_STOCK)
    image = f"https://cdn.example.com/img/{rng.getrandbits(48):012x}.jpg"
    return f"""<li class="product-card col-sm-6 col-md-3" data-sku="{sku}" data-position="{n + 1}">
<article class="card product">
<a class="card-link image-link" href="/p/{slug}/">
<img class="thumb lazy" src="{image}" alt="{escape(title)}" width="200" height="200"></a>
<div class="card-body">
<h3 class="title"><a href="/p/{slug}/" title="{escape(title)}">{escape(title[:40])}</a></h3>
{brand}
<div class="price-box"><span class="sr-only">Price:</span>
<span class="price current-price">£{price:,.2f}</span>{old}</div>
{rating}
<ul class="tags">{tags}</ul>
<p class="stock {"in-stock" if stock != "Out of stock" else "out-of-stock"}">{stock}</p>
<p class="desc">{description}</p>
<button class="btn add-to-basket" data-action="add" data-sku="{sku}">Add to basket</button>
</div></article></li>
"""


@cache
def listing_html(count: int, seed: int = 20240601) -> bytes:
    """The page with `count` cards, as UTF-8 bytes (deterministic for a given `count` and `seed`)."""
    rng = random.Random(seed)
    cards = "".join(_card(n, rng) for n in range(count))
    return (_HEAD + cards + _FOOT).encode("utf-8")
