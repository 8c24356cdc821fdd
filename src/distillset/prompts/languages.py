"""Generation languages: any language code is accepted (checked and written one way), and the
English name of each, for the instruction that asks a model to write in it.

A code is BCP 47 as far as distillset needs it: a language (ISO 639-1, or one of a few
common three-letter codes), then optionally a script (``Hant``) and a region (``TW``,
``419``): ``fr``, ``pt-BR``, ``zh-Hant-TW``. en, zh and tr have prompt templates of their
own (``LANGUAGES``); any other language gets the English ones with an instruction.
"""

from __future__ import annotations

import re

from distillset.domain import LANGUAGES, InvalidInputError

# The longest code a project stores (its column holds 10 characters on every database).
MAX_LANGUAGE_LENGTH = 10

_CODE = re.compile(
    r"(?P<language>[A-Za-z]{2,3})(?:[-_](?P<script>[A-Za-z]{4}))?"
    r"(?:[-_](?P<region>[A-Za-z]{2}|\d{3}))?"
)

# ISO 639-1 (every two-letter code), then a few common languages that have only a
# three-letter code. English names (spaces written _), as a model reads them in an English
# instruction.
_TABLE = (
    "aa:Afar ab:Abkhazian ae:Avestan af:Afrikaans ak:Akan am:Amharic an:Aragonese "
    "ar:Arabic as:Assamese av:Avaric ay:Aymara az:Azerbaijani ba:Bashkir be:Belarusian "
    "bg:Bulgarian bi:Bislama bm:Bambara bn:Bengali bo:Tibetan br:Breton bs:Bosnian "
    "ca:Catalan ce:Chechen ch:Chamorro co:Corsican cr:Cree cs:Czech cu:Church_Slavonic "
    "cv:Chuvash cy:Welsh da:Danish de:German dv:Divehi dz:Dzongkha ee:Ewe el:Greek "
    "en:English eo:Esperanto es:Spanish et:Estonian eu:Basque fa:Persian ff:Fulah "
    "fi:Finnish fj:Fijian fo:Faroese fr:French fy:Western_Frisian ga:Irish "
    "gd:Scottish_Gaelic gl:Galician gn:Guarani gu:Gujarati gv:Manx ha:Hausa he:Hebrew "
    "hi:Hindi ho:Hiri_Motu hr:Croatian ht:Haitian_Creole hu:Hungarian hy:Armenian "
    "hz:Herero ia:Interlingua id:Indonesian ie:Interlingue ig:Igbo ii:Sichuan_Yi "
    "ik:Inupiaq io:Ido is:Icelandic it:Italian iu:Inuktitut ja:Japanese jv:Javanese "
    "ka:Georgian kg:Kongo ki:Kikuyu kj:Kuanyama kk:Kazakh kl:Greenlandic kn:Kannada "
    "km:Khmer ko:Korean kr:Kanuri ks:Kashmiri ku:Kurdish kv:Komi kw:Cornish ky:Kyrgyz "
    "la:Latin lb:Luxembourgish lg:Ganda li:Limburgish ln:Lingala lo:Lao lt:Lithuanian "
    "lu:Luba-Katanga lv:Latvian mg:Malagasy mh:Marshallese mi:Maori mk:Macedonian "
    "ml:Malayalam mn:Mongolian mr:Marathi ms:Malay mt:Maltese my:Burmese na:Nauru "
    "nb:Norwegian_Bokmål nd:North_Ndebele ne:Nepali ng:Ndonga nl:Dutch "
    "nn:Norwegian_Nynorsk no:Norwegian nr:South_Ndebele nv:Navajo ny:Chichewa "
    "oc:Occitan oj:Ojibwa om:Oromo or:Odia os:Ossetian pa:Punjabi pi:Pali pl:Polish "
    "ps:Pashto pt:Portuguese qu:Quechua rm:Romansh rn:Kirundi ro:Romanian ru:Russian "
    "rw:Kinyarwanda sa:Sanskrit sc:Sardinian sd:Sindhi se:Northern_Sami sg:Sango "
    "si:Sinhala sk:Slovak sl:Slovenian sm:Samoan sn:Shona so:Somali sq:Albanian "
    "sr:Serbian ss:Swati st:Southern_Sotho su:Sundanese sv:Swedish sw:Swahili ta:Tamil "
    "te:Telugu tg:Tajik th:Thai ti:Tigrinya tk:Turkmen tl:Tagalog tn:Tswana to:Tongan "
    "tr:Turkish ts:Tsonga tt:Tatar tw:Twi ty:Tahitian ug:Uyghur uk:Ukrainian ur:Urdu "
    "uz:Uzbek ve:Venda vi:Vietnamese vo:Volapük wa:Walloon wo:Wolof xh:Xhosa "
    "yi:Yiddish yo:Yoruba za:Zhuang zh:Chinese zu:Zulu "
    "ceb:Cebuano fil:Filipino haw:Hawaiian hmn:Hmong yue:Cantonese"
)
NAMES = {
    code: name.replace("_", " ") for code, name in (pair.split(":") for pair in _TABLE.split())
}


def checked_language(code: str) -> str:
    """A generation language as stored: a known language, optionally with a script and a
    region, written the one way (``PT-br`` -> ``pt-BR``, ``zh_hant`` -> ``zh-Hant``);
    InvalidInputError for anything else."""
    text = code.strip() if isinstance(code, str) else ""
    match = _CODE.fullmatch(text)
    if match is None or match["language"].lower() not in NAMES:
        shown = text[:40] + ("…" if len(text) > 40 else "")
        raise InvalidInputError(
            f"unknown language {shown!r}: give a language code such as en, zh, tr, fr or "
            "pt-BR (ISO 639-1, optionally with a script and a region: zh-Hant-TW)"
        )
    parts = [match["language"].lower()]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    canonical = "-".join(parts)
    if len(canonical) > MAX_LANGUAGE_LENGTH:
        raise InvalidInputError(
            f"language code {canonical!r} is too long (at most {MAX_LANGUAGE_LENGTH} characters)"
        )
    return canonical


def language_name(code: str) -> str:
    """The English name of a stored language code: ``English``, ``Portuguese (pt-BR)``; the
    code itself for one distillset does not know."""
    primary = code.split("-", 1)[0].lower()
    name = NAMES.get(primary)
    if name is None:
        return code
    return name if primary == code else f"{name} ({code})"


def has_own_templates(code: str) -> bool:
    """Whether distillset ships prompt templates written in this language."""
    return code in LANGUAGES
