"""Hard-case mode of the sample world: a HubSpot contacts and companies export from a CRM that is *not* the
default world, holding every construct that made entity resolution fail on real exports, with the truth.

Written from the description of what real exports hold (issue 16), not from the matcher: international
names (German, Dutch, French, Spanish, Portuguese, Japanese, Chinese, Swedish, Polish, Indian, English),
a different company vocabulary, multi-label TLDs, switchboards and role mailboxes.

Must merge (duplicate records of one person, `duplicate_kind` in the truth): diacritics dropped
(Müller/Muller), transliteration (Müller/Mueller, Satō/Sato/Satoh), initials (J. Schmidt), nicknames
(Bill/William), swapped first/last names (Zhang Wei / Wei Zhang), a double surname partly dropped
(García López / García), particles (van der Berg / Berg / Van Der Berg), a married name keeping the email,
a company acquisition changing the email domain but not the local part, a job change keeping LinkedIn and
mobile, a missing email, phone formats and extensions, LinkedIn URL variants (locale subdomains, paths,
query strings, percent-encoding), company legal-suffix variants, no-break spaces, typos.

Must not merge (`negative_kind`): two people with the same name at the same company (different office,
title, phone, LinkedIn); a colleague with the same surname recorded with an initial or with swapped names;
role mailboxes (info@, vertrieb@, contato@ ...) shared by several people; a switchboard number listed by
many people with or without their extension; junk and test rows (`is_junk`, `junk_kind`: test names and
emails, noreply@, foo@bar.com, keyboard mash, placeholder companies), each its own "person". Real records
that only look like junk (a "Student Success Manager", a company whose name contains "Test", the surname
Tester) are `negative_kind = junk_lookalike` and are not junk.

Accounts (`truth/companies.parquet`): foreign subsidiaries sharing the parent's email domain ("X America
Inc.", "X do Brasil Ltda."), the same trading name in two countries on different domains, children linked
by Parent Company ID (some on the parent's domain) are distinct accounts with `parent_account_id`; record
variants of one company (legal-suffix variants, no-break spaces, website formats, a missing domain) are
one account.

Keep `TUNING_SEED` for developing the matcher and measure on `MEASURING_SEED` only.
"""

from __future__ import annotations

import json
import shutil
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np
import polars as pl

from .util import BASE_NOW, DAY, rng_for, trunk_prefix

TUNING_SEED = 101
MEASURING_SEED = 202
MODE = "hard_cases"
FIRST_CONTACT_ID = 3_000_001
FIRST_COMPANY_ID = 7_000_001
NBSP = "\u00a0"

# ----------------------------------------------------------------------------------------------- vocabulary
# Name pools per culture: (given names, family names). Earlier entries are more common.
NAMES: dict[str, tuple[list[str], list[str]]] = {
    "de": (
        ["Jürgen", "Jörg", "Björn", "Günther", "Anna", "Lukas", "Sophie", "Maximilian", "Katharina", "Johannes",
         "Sören", "Matthias", "Stefan", "Uwe", "Käthe", "Jana", "Jens", "Julia", "Jan", "Andreas", "Sabine",
         "Thomas", "Michael", "Petra", "Hans", "Ursula", "Dieter", "Frauke", "Malte", "Helga", "Torsten", "Bärbel"],
        ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
         "Schäfer", "Schröder", "Köhler", "Weiß", "Groß", "Böhm", "Krüger", "Koch", "Richter", "Klein", "Wolf",
         "Neumann", "Schwarz", "Zimmermann", "Braun", "Hofmann", "Hartmann", "Lange", "Werner", "Krause",
         "Lehmann", "Jäger", "Vogel", "Lorenz", "Meyer-Schmidt", "Wolf-Köhler", "von Braun", "von der Heide",
         "Hirschsprung", "Schwarzschild", "Pfitzner"],
    ),
    "nl": (
        ["Jan", "Pieter", "Sanne", "Daan", "Femke", "Joris", "Eva", "Thijs", "Lotte", "Bram", "Sem", "Anouk"],
        ["van der Berg", "de Vries", "van Dijk", "Bakker", "Jansen", "Visser", "Smit", "de Jong", "van den Broek",
         "van Leeuwen", "de Boer", "Mulder", "van der Meer", "Dekker"],
    ),
    "fr": (
        ["François", "Hélène", "Zoë", "Éric", "Amélie", "Jérôme", "Céline", "Léa", "Benoît", "Gaëlle", "Chloé",
         "René", "Margaux", "Noël", "Thérèse", "Hugo"],
        ["Lefèvre", "Dubois", "Girard", "Mercier", "Bonnet", "Fontaine", "Rousseau", "Moreau", "Laurent",
         "de la Fontaine", "Le Gall", "Gauthier", "Chevalier", "Faure", "Bélanger", "Lefebvre"],
    ),
    "es": (
        ["José", "María", "Jesús", "Ángel", "Lucía", "Álvaro", "Sofía", "Iñigo", "Begoña", "Francisco", "Javier",
         "Carmen", "Pilar", "Raúl", "Inés", "Andrés"],
        ["García López", "Fernández Díaz", "Martínez Ruiz", "Sánchez Gómez", "Pérez Muñoz", "González Navarro",
         "Rodríguez Ortega", "de la Cruz", "García", "Fernández", "López", "Martínez", "Sánchez", "Jiménez",
         "Ruiz Castillo", "Núñez", "Ibáñez Moreno"],
    ),
    "pt": (
        ["João", "Luíza", "Gonçalo", "Inês", "Antônio", "Conceição", "Ana", "Pedro", "Mariana", "Tiago", "Letícia",
         "Rafael", "Beatriz", "Vinícius"],
        ["da Silva", "Souza Pereira", "dos Santos", "Oliveira", "Costa", "Rodrigues", "Almeida", "Ferreira Lima",
         "Gonçalves", "Araújo", "Carvalho Ribeiro", "Sousa", "Magalhães"],
    ),
    "jp": (
        ["Takeshi", "Yūki", "Haruto", "Sakura", "Kenji", "Shōta", "Yūko", "Jirō", "Kōji", "Aiko", "Hiroshi",
         "Naoko", "Daisuke", "Emi", "Ryōta", "Yōko"],
        ["Satō", "Itō", "Katō", "Saitō", "Gotō", "Kōno", "Ōta", "Tanaka", "Suzuki", "Watanabe", "Yamamoto",
         "Nakamura", "Kobayashi", "Yoshida", "Ōno", "Kondō"],
    ),
    "cn": (
        ["Wei", "Fang", "Na", "Min", "Jing", "Lei", "Yan", "Jun", "Hui", "Xin", "Yong", "Li", "Ming", "Hong",
         "Tao", "Xiaoming"],
        ["Zhang", "Wang", "Li", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma", "Zhu"],
    ),
    "sv": (
        ["Björn", "Åsa", "Sören", "Märta", "Lars", "Karin", "Øyvind", "Jørgen", "Ingrid", "Nils", "Sofia", "Anders"],
        ["Johansson", "Andersson", "Ångström", "Sørensen", "Øberg", "Lindqvist", "Nyström", "Berg", "Håkansson",
         "Åberg", "Sjöberg", "Karlsson"],
    ),
    "pl": (
        ["Łukasz", "Małgorzata", "Wojciech", "Zofia", "Paweł", "Agnieszka", "Michał", "Katarzyna", "Tomasz", "Ewa"],
        ["Kowalski", "Wiśniewski", "Wójcik", "Łukaszewski", "Żak", "Nowak", "Kamiński", "Lewandowski", "Zieliński",
         "Szymański", "Dąbrowski"],
    ),
    "in": (
        ["Rahul", "Priya", "Amit", "Sunita", "Venkatesh", "Anjali", "Arjun", "Deepa", "Sanjay", "Kavya", "Ravi",
         "Lakshmi"],
        ["Sharma", "Patel", "Iyer", "Reddy", "Venkataraman", "Gupta", "Singh", "Nair", "Rao", "Krishnan", "Mehta",
         "Banerjee"],
    ),
    "en": (
        ["Robert", "William", "Elizabeth", "Margaret", "James", "Richard", "Katherine", "Henry", "Charles", "Edward",
         "Michael", "Christopher", "Jennifer", "Patricia", "Susan", "Thomas", "Benjamin", "Nicholas", "Andrew",
         "Joseph", "Emily", "Olivia", "Daniel", "Sarah", "Laura", "Alexander", "Anthony", "Rebecca", "Samuel",
         "Theodore", "Dorothy", "Harriet"],
        ["Smith", "Johnson", "Brown", "O'Brien", "McDonald", "Taylor", "Wilson", "Davies", "Evans", "Thompson",
         "Walker", "Wright", "Robinson", "Hughes", "Edwards", "Green", "Hall", "Wood", "Harris", "Clarke",
         "Jackson", "Turner", "Hill", "Moore", "Cooper", "Ward", "Morgan", "Tester", "Ng"],
    ),
}
# Culture mix of the people working in each country.
COUNTRIES: dict[str, dict] = {
    "DE": dict(name="Germany", dial="49", nsn=10, tld=".de", weight=14,
               legal=["GmbH", "AG", "GmbH & Co. KG", "SE"], cultures={"de": 0.82, "pl": 0.05, "en": 0.05, "in": 0.04,
                                                                       "cn": 0.04},
               cities=[("Berlin", "10###"), ("München", "80###"), ("Köln", "50###"), ("Leipzig", "04###"),
                       ("Düsseldorf", "40###")],
               streets=["Hauptstraße", "Bahnhofstraße", "Schillerstraße", "Lindenallee", "Königsweg"],
               street_first=True),
    "US": dict(name="United States", dial="1", nsn=10, tld=".com", weight=18, legal=["Inc.", "LLC", "Corp."],
               cultures={"en": 0.62, "es": 0.1, "cn": 0.1, "in": 0.1, "jp": 0.04, "de": 0.04},
               cities=[("New York", "100##"), ("San Francisco", "941##"), ("Boston", "021##"), ("Austin", "787##"),
                       ("Chicago", "606##")],
               streets=["Main Street", "Market Street", "Park Avenue", "Oak Road", "Broadway"], street_first=False),
    "GB": dict(name="United Kingdom", dial="44", nsn=10, tld=".co.uk", weight=10, legal=["Ltd", "Limited", "PLC"],
               cultures={"en": 0.78, "in": 0.1, "pl": 0.06, "fr": 0.06},
               cities=[("London", "EC1A #AA"), ("Manchester", "M# #AA"), ("Leeds", "LS# #AA")],
               streets=["High Street", "Station Road", "Church Lane", "Victoria Road"], street_first=False),
    "FR": dict(name="France", dial="33", nsn=9, tld=".fr", weight=7, legal=["SAS", "SA", "SARL"],
               cultures={"fr": 0.9, "pt": 0.05, "es": 0.05},
               cities=[("Paris", "75###"), ("Lyon", "69###"), ("Marseille", "13###")],
               streets=["rue de la Paix", "avenue Victor Hugo", "boulevard Haussmann"], street_first=False),
    "ES": dict(name="Spain", dial="34", nsn=9, tld=".es", weight=6, legal=["S.L.", "S.A."],
               cultures={"es": 0.92, "en": 0.04, "fr": 0.04},
               cities=[("Madrid", "28###"), ("Barcelona", "08###"), ("Sevilla", "41###")],
               streets=["Calle Mayor", "Avenida de América", "Paseo de Gracia"], street_first=True),
    "BR": dict(name="Brazil", dial="55", nsn=11, tld=".com.br", weight=6, legal=["Ltda.", "S.A."],
               cultures={"pt": 0.92, "jp": 0.04, "es": 0.04},
               cities=[("São Paulo", "01###-###"), ("Rio de Janeiro", "20###-###"), ("Curitiba", "80###-###")],
               streets=["Avenida Paulista", "Rua Augusta", "Rua das Flores"], street_first=True),
    "JP": dict(name="Japan", dial="81", nsn=10, tld=".co.jp", weight=6, legal=["K.K.", "Co., Ltd."],
               cultures={"jp": 0.95, "en": 0.05},
               cities=[("Tokyo", "100-####"), ("Osaka", "530-####"), ("Yokohama", "220-####")],
               streets=["Chiyoda 1-chōme", "Umeda 2-chōme", "Minato Mirai 3-chōme"], street_first=True),
    "CN": dict(name="China", dial="86", nsn=11, tld=".com.cn", weight=5, legal=["Co., Ltd."],
               cultures={"cn": 0.97, "en": 0.03},
               cities=[("Shanghai", "200###"), ("Beijing", "100###"), ("Shenzhen", "518###")],
               streets=["Nanjing Road", "Chang'an Avenue", "Shennan Boulevard"], street_first=False),
    "NL": dict(name="Netherlands", dial="31", nsn=9, tld=".nl", weight=5, legal=["B.V.", "N.V."],
               cultures={"nl": 0.88, "de": 0.04, "en": 0.04, "in": 0.04},
               cities=[("Amsterdam", "10## AB"), ("Rotterdam", "30## AB"), ("Utrecht", "35## AB")],
               streets=["Keizersgracht", "Herengracht", "Coolsingel"], street_first=True),
    "SE": dict(name="Sweden", dial="46", nsn=9, tld=".se", weight=4, legal=["AB"],
               cultures={"sv": 0.92, "en": 0.04, "pl": 0.04},
               cities=[("Stockholm", "11# ##"), ("Göteborg", "41# ##"), ("Malmö", "21# ##")],
               streets=["Drottninggatan", "Kungsgatan", "Storgatan"], street_first=True),
    "PL": dict(name="Poland", dial="48", nsn=9, tld=".pl", weight=4, legal=["Sp. z o.o.", "S.A."],
               cultures={"pl": 0.95, "en": 0.05},
               cities=[("Warszawa", "00-###"), ("Kraków", "30-###"), ("Wrocław", "50-###")],
               streets=["ulica Marszałkowska", "ulica Floriańska", "ulica Świdnicka"], street_first=True),
    "IN": dict(name="India", dial="91", nsn=10, tld=".co.in", weight=5, legal=["Pvt Ltd", "Private Limited"],
               cultures={"in": 0.97, "en": 0.03},
               cities=[("Bengaluru", "560###"), ("Mumbai", "400###"), ("Pune", "411###")],
               streets=["MG Road", "Linking Road", "FC Road"], street_first=False),
}
# The words a foreign subsidiary adds to the parent's name, per its country.
SUBSIDIARY_NAMES = {
    "US": ["{b} America", "{b} USA", "{b} North America"], "GB": ["{b} UK", "{b} (UK)"],
    "DE": ["{b} Deutschland", "{b} Germany"], "FR": ["{b} France"], "ES": ["{b} España", "{b} Iberia"],
    "BR": ["{b} do Brasil", "{b} Brasil"], "JP": ["{b} Japan"], "CN": ["{b} (Shanghai)", "{b} China"],
    "NL": ["{b} Nederland", "{b} Benelux"], "SE": ["{b} Sverige", "{b} Nordic"], "PL": ["{b} Polska"],
    "IN": ["{b} India"],
}
# Legal-suffix spellings a CRM holds for one company ("GmbH" / "G.m.b.H." / "Gesellschaft mbH").
LEGAL_VARIANTS = {
    "GmbH": ["G.m.b.H.", "Gmbh", "GMBH", "Gesellschaft mbH"], "AG": ["A.G.", "Aktiengesellschaft"],
    "GmbH & Co. KG": ["GmbH & Co KG", "GmbH u. Co. KG"], "SE": ["S.E."],
    "Inc.": ["Inc", "Incorporated", "INC."], "LLC": ["L.L.C.", "llc"], "Corp.": ["Corporation", "Corp"],
    "Ltd": ["Ltd.", "Limited", "LTD"], "Limited": ["Ltd", "Ltd."], "PLC": ["plc", "P.L.C."],
    "SAS": ["S.A.S.", "sas"], "SA": ["S.A."], "SARL": ["S.A.R.L.", "Sàrl"], "S.L.": ["SL", "S.L", "Sociedad Limitada"],
    "S.A.": ["SA", "Sociedad Anónima"], "Ltda.": ["Ltda", "Limitada"], "K.K.": ["KK", "Kabushiki Kaisha"],
    "Co., Ltd.": ["Co. Ltd.", "Company Limited", "Co Ltd"], "B.V.": ["BV", "B.V"], "N.V.": ["NV"],
    "AB": ["Aktiebolag", "AB (publ)"], "Sp. z o.o.": ["sp. z o.o.", "Sp. z.o.o."],
    "Pvt Ltd": ["Pvt. Ltd.", "Private Limited"], "Private Limited": ["Pvt Ltd", "Pvt. Ltd."],
}
COMPANY_STEMS = ["Nord", "Sol", "Alta", "Blau", "Kai", "Vero", "Lumen", "Terra", "Ferro", "Aqua", "Sakura", "Fuji",
                 "Rio", "Grün", "Hansa", "Oster", "Bright", "Silver", "Iron", "Cedar", "Polar", "Zenit", "Orion",
                 "Delta", "Kite", "Mosaik", "Quanta", "Vista", "Lotus", "Falke", "Krone", "Atlas", "Nimbus", "Stern",
                 "Berg", "Arco", "Tundra", "Sirius", "Vento", "Marlin"]
COMPANY_ENDINGS = ["tech", "werk", "soft", "logic", "works", "data", "systems", "mind", "link", "net", "wave", "gate",
                   "punkt", "haus", "forge", "labs", "line", "core", "flow", "bit", "feld", "port", "stack", "ware"]
COMPANY_WORDS = ["", "", "", "Analytics", "Consulting", "Logistik", "Partners", "Industries", "Medical", "Energy",
                 "Foods", "Capital", "Robotics", "Solutions", "Software", "Engineering"]
DIVISIONS = ["Health", "Ventures", "Labs", "Services", "Digital", "Mobility", "Finance"]
# Real companies whose names contain "Test" (hard negatives for junk rules).
TEST_LOOKALIKE_COMPANIES = ["Testo", "TestRail", "Contest Media", "Attest Analytics", "Testa Rossa Foods",
                            "Protest Werk"]
TITLES = ["Head of Sales", "Account Executive", "Marketing Manager", "CFO", "CTO", "Software Engineer",
          "Operations Manager", "VP Marketing", "Sales Director", "Customer Success Manager", "Data Analyst",
          "Procurement Lead", "HR Business Partner", "Product Manager", "Chief Executive Officer", "Einkaufsleiter",
          "Vertriebsleiter", "Directeur Commercial", "Gerente de Ventas", "Diretor Comercial", "Office Manager"]
LOOKALIKE_TITLES = ["Student Success Manager", "Test Automation Engineer", "QA Test Lead", "Head of Student Affairs"]
ROLE_MAILBOXES = {"de": ["info", "vertrieb", "kontakt", "einkauf", "office"], "pt": ["contato", "comercial", "vendas"],
                  "es": ["ventas", "comercial", "info"], "fr": ["contact", "commercial", "info"],
                  "default": ["info", "sales", "office", "hello", "team", "contact", "marketing", "support"]}
NICKNAMES = {
    "Robert": ["Bob", "Rob", "Bobby"], "William": ["Bill", "Will", "Billy"], "Elizabeth": ["Liz", "Beth", "Betty"],
    "Margaret": ["Peggy", "Maggie", "Meg"], "James": ["Jim", "Jimmy", "Jamie"], "Richard": ["Rick", "Dick", "Rich"],
    "Katherine": ["Kate", "Katie", "Kathy"], "Henry": ["Hank", "Harry"], "Charles": ["Chuck", "Charlie"],
    "Edward": ["Ted", "Ed", "Eddie"], "Michael": ["Mike", "Mick"], "Christopher": ["Chris", "Kit"],
    "Jennifer": ["Jen", "Jenny"], "Patricia": ["Patty", "Trish", "Pat"], "Susan": ["Sue", "Susie"],
    "Thomas": ["Tom", "Tommy"], "Benjamin": ["Ben", "Benji"], "Nicholas": ["Nick", "Nicky"],
    "Andrew": ["Andy", "Drew"], "Joseph": ["Joe", "Joey"], "Daniel": ["Dan", "Danny"], "Alexander": ["Alex", "Sasha"],
    "Anthony": ["Tony"], "Rebecca": ["Becky", "Becca"], "Samuel": ["Sam"], "Theodore": ["Teddy", "Theo"],
    "Dorothy": ["Dot", "Dottie"], "Harriet": ["Hattie"], "Emily": ["Em", "Emmy"], "Olivia": ["Liv"],
    "Johannes": ["Hannes"], "Katharina": ["Kathi", "Katja"], "Maximilian": ["Max"], "Matthias": ["Matze"],
    "Andreas": ["Andi"], "Francisco": ["Paco", "Pancho"], "José": ["Pepe"], "Jesús": ["Chucho"],
    "Antônio": ["Tonho"], "Małgorzata": ["Gosia"], "Wojciech": ["Wojtek"], "Katarzyna": ["Kasia"],
    "Tomasz": ["Tomek"], "Paweł": ["Pawełek"], "Rafael": ["Rafa"], "Beatriz": ["Bia"],
}
JUNK_FIRST = ["Test", "Test", "Testperson", "Max", "Erika", "John", "Jane", "Asdf", "Qwertz", "Xxx", "Fulano", "Dummy",
              "aaa", "sdfsdf", "Mickey"]
JUNK_LAST = ["Test", "Kontakt", "User", "Mustermann", "Mustermann", "Doe", "Doe", "Asdf", "Qwertz", "Xxx", "de Tal",
             "Dummy", "aaa", "jkljkl", "Mouse"]
JUNK_EMAILS = ["test@example.com", "test123@example.com", "foo@bar.com", "asdf@asdf.com", "test@test.de",
               "noreply@{d}", "no-reply@{d}", "donotreply@{d}", "a@a.com", "xxx@xxx.com", "test@{d}",
               "max.mustermann@example.org", "john.doe@example.com", "qwertz@mailinator.com", "testing{n}@gmail.com"]
JUNK_COMPANIES = ["Test GmbH", "Test Company", "N/A", "none", "-", "xxx", "Unknown", "Testfirma", "Musterfirma GmbH",
                  "Private", "asdf", "Test Inc."]


def _ascii(text: str) -> str:
    """Accents dropped (Müller -> Muller, Łukasz -> Lukasz, Ørsted -> Orsted)."""
    special = {"ß": "ss", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "Ae", "đ": "d", "Đ": "D"}
    text = "".join(special.get(ch, ch) for ch in text)
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def _transliterate(text: str, style: int) -> str:
    """Romanization a person or a system may use: German umlauts spelled out, Japanese long vowels written
    as oh/ou/oo/uu, Scandinavian ø/å as oe/aa."""
    table = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss", "ø": "oe", "Ø": "Oe",
             "å": "aa", "Å": "Aa", "ū": ["u", "uu", "u"][style % 3], "Ū": "U",
             "ō": ["oh", "ou", "oo"][style % 3], "Ō": ["Oh", "O", "Oo"][style % 3]}
    return _ascii("".join(table.get(ch, ch) for ch in text))


def _has_special(text: str) -> bool:
    return _ascii(text) != text


def _slug(text: str) -> str:
    return "".join(ch for ch in _ascii(text).lower() if ch.isalnum())


@dataclass
class _Account:
    account_id: int
    country: str
    base: str
    legal: str
    domain: str
    website: str
    street: str
    city: str
    postal: str
    main_phone: str
    email_pattern: int
    umlaut_style: bool
    switchboard: bool
    parent: int | None = None
    construct: str = "plain"
    name: str = ""
    record_ids: list[int] = field(default_factory=list)


@dataclass
class _Person:
    person_id: int
    account: _Account
    culture: str
    first: str
    last: str
    email: str
    phone: str
    mobile: str
    linkedin: str
    title: str
    street: str
    city: str
    postal: str
    negative_kind: str | None = None
    lookalike_person_id: int | None = None


class _HardWorld:
    """State of one generation run: the random stream, accounts, people and the rows written."""

    def __init__(self, contacts: int, seed: int):
        self.rng = rng_for(seed, 16_000)
        self.contacts = contacts
        self.accounts: list[_Account] = []
        self.people: list[_Person] = []
        self.company_rows: list[dict] = []
        self.company_truth: list[dict] = []
        self.contact_rows: list[dict] = []
        self.contact_truth: list[dict] = []
        self.used_locals: dict[str, set[str]] = {}
        self.used_domains: set[str] = set()
        self.used_slugs: set[str] = set()
        self.next_company_id = FIRST_COMPANY_ID

    # -- small helpers ---------------------------------------------------------------------------------------
    def u(self) -> float:
        return float(self.rng.random())

    def choice(self, values, weights=None):
        if weights is not None:
            w = np.asarray(weights, dtype=float)
            return values[int(self.rng.choice(len(values), p=w / w.sum()))]
        return values[int(self.rng.integers(0, len(values)))]

    def zipf_choice(self, values: list[str], s: float = 0.9):
        w = 1.0 / (np.arange(len(values)) + 1.5) ** s
        return self.choice(values, w)

    def digits(self, n: int) -> str:
        return str(int(self.rng.integers(2, 10))) + "".join(str(d) for d in self.rng.integers(0, 10, n - 1))

    def postal(self, pattern: str) -> str:
        out = []
        for ch in pattern:
            if ch == "#":
                out.append(str(int(self.rng.integers(0, 10))))
            elif ch in "AB":
                out.append("ABDEFGHJLNPRSTUWXY"[int(self.rng.integers(0, 18))])
            else:
                out.append(ch)
        return "".join(out)

    def phone_text(self, country: str, nsn: str, style: int, extension: str | None = None) -> str:
        """A national number written as people do: international, national with its trunk prefix, with (0), spaced."""
        dial = COUNTRIES[country]["dial"]
        if dial == "1":
            forms = [f"+1 {nsn[:3]} {nsn[3:6]} {nsn[6:]}", f"({nsn[:3]}) {nsn[3:6]}-{nsn[6:]}",
                     f"{nsn[:3]}.{nsn[3:6]}.{nsn[6:]}", f"+1{nsn}", f"1-{nsn[:3]}-{nsn[3:6]}-{nsn[6:]}"]
        else:
            # The national form has the country's trunk prefix ('0'; none in Spain or Poland).
            forms = [f"+{dial} {nsn[:2]} {nsn[2:6]} {nsn[6:]}", f"{trunk_prefix(dial)}{nsn[:3]} {nsn[3:]}",
                     f"+{dial}{nsn}", f"00{dial} {nsn}", f"+{dial} (0){nsn[:3]} {nsn[3:]}"]
        text = forms[style % len(forms)]
        if extension:
            text += [f" ext. {extension}", f" x{extension}", f" #{extension}", f" ext {extension}"][style % 4]
        return text

    # -- accounts --------------------------------------------------------------------------------------------
    def new_domain(self, slug: str, tld: str) -> str:
        domain = f"{slug}{tld}"
        k = 2
        while domain in self.used_domains:
            domain = f"{slug}{k}{tld}"
            k += 1
        self.used_domains.add(domain)
        return domain

    def make_account(self, country: str, base: str | None = None, construct: str = "plain",
                     domain: str | None = None, parent: int | None = None) -> _Account:
        c = COUNTRIES[country]
        if base is None:
            base = self.choice(COMPANY_STEMS) + self.choice(COMPANY_ENDINGS)
            word = self.choice(COMPANY_WORDS)
            base = f"{base} {word}".strip()
        tld = c["tld"] if self.u() < 0.55 else self.choice([".com", ".com", ".io", ".net", ".eu"])
        domain = domain or self.new_domain(_slug(base.split(" ")[0] if self.u() < 0.6 else base), tld)
        city, pattern = self.choice(c["cities"])
        street_name = self.choice(c["streets"])
        number = str(int(self.rng.integers(1, 250)))
        street = f"{street_name} {number}" if c["street_first"] else f"{number} {street_name}"
        account = _Account(
            account_id=len(self.accounts) + 1, country=country, base=base, legal=self.choice(c["legal"]),
            domain=domain, website=f"https://www.{domain}", street=street, city=city, postal=self.postal(pattern),
            main_phone=self.digits(c["nsn"]), email_pattern=int(self.rng.choice(6, p=[.4, .2, .1, .1, .1, .1])),
            umlaut_style=self.u() < 0.5, switchboard=self.u() < 0.3, parent=parent, construct=construct,
        )
        account.name = f"{base} {account.legal}"
        self.accounts.append(account)
        return account

    def build_accounts(self, n: int) -> None:
        countries = list(COUNTRIES)
        weights = [COUNTRIES[c]["weight"] for c in countries]
        for _ in range(n):
            self.make_account(self.choice(countries, weights))
        plain = list(self.accounts)
        # Foreign subsidiaries on the parent's email domain ("X America Inc.", "X do Brasil Ltda.").
        for parent in plain[: max(1, len(plain) // 25)]:
            for sub_country in self.rng.choice([c for c in countries if c != parent.country],
                                               size=int(self.rng.integers(1, 3)), replace=False):
                sub_country = str(sub_country)
                base = self.choice(SUBSIDIARY_NAMES[sub_country]).format(b=parent.base)
                sub = self.make_account(sub_country, base=base, construct="subsidiary_shared_domain",
                                        domain=parent.domain, parent=parent.account_id)
                sub.website = self.choice([parent.website, f"{parent.website}/{sub_country.lower()}", ""])
                sub.email_pattern = parent.email_pattern
        # The same trading name in another country, on another domain: an unrelated company.
        for original in plain[len(plain) // 25: len(plain) // 25 + max(1, len(plain) // 50)]:
            other = self.choice([c for c in countries if c != original.country])
            twin = self.make_account(other, base=original.base, construct="name_twin")
            original.construct = "name_twin"
            twin.legal = self.choice(COUNTRIES[other]["legal"])
            twin.name = f"{twin.base} {twin.legal}"
        # Children named after the parent, linked by Parent Company ID, on the parent's domain or their own.
        start = len(plain) // 25 + len(plain) // 50
        for parent in plain[start: start + max(1, len(plain) // 33)]:
            division = self.choice(DIVISIONS)
            same_domain = self.u() < 0.5
            child = self.make_account(parent.country, base=f"{parent.base} {division}", construct="child_company",
                                      domain=parent.domain if same_domain else None, parent=parent.account_id)
            if same_domain:
                child.website = f"{parent.website}/{division.lower()}"
        # A few real companies whose names contain "Test" (must not be junk).
        for name in TEST_LOOKALIKE_COMPANIES:
            self.make_account(self.choice(countries, weights), base=name, construct="junk_lookalike")

    def company_record(self, account: _Account, variant: str | None) -> None:
        """One HubSpot company row of `account` (`variant` None = the primary record)."""
        record_id = self.next_company_id
        self.next_company_id += 1
        account.record_ids.append(record_id)
        name, domain, website = account.name, account.domain, account.website
        if variant == "legal_suffix":
            name = f"{account.base} {self.choice(LEGAL_VARIANTS.get(account.legal, [account.legal]))}"
        elif variant == "case_punctuation":
            name = self.choice([account.name.upper(), account.name.lower(), f"{account.base}, {account.legal}",
                                account.base])
        elif variant == "nbsp":
            name = account.name.replace(" ", NBSP, 1) + self.choice(["", NBSP])
        elif variant == "website_format":
            website = self.choice([f"http://{domain}", f"www.{domain}/", f"https://{domain}/about-us",
                                   f"HTTPS://WWW.{domain.upper()}", f"https://eu.{domain}/en/"])
            domain = self.choice(["", domain.upper(), f"www.{domain}"])
        elif variant == "no_domain":
            domain, website = "", ""
        parent_id = ""
        if account.parent is not None:
            parent_account = self.accounts[account.parent - 1]
            declared = {"child_company": 1.0, "subsidiary_shared_domain": 0.4}.get(account.construct, 0.0)
            if parent_account.record_ids and self.u() < declared:
                parent_id = str(parent_account.record_ids[0])
        created = BASE_NOW - int(self.rng.integers(100, 2500)) * DAY
        self.company_rows.append({
            "Record ID": str(record_id), "Company name": name, "Company Domain Name": domain,
            "Website URL": website, "Phone Number": self.phone_text(account.country, account.main_phone, 0),
            "Street Address": account.street, "City": account.city, "Postal Code": account.postal,
            "Country/Region": COUNTRIES[account.country]["name"], "Parent Company ID": parent_id,
            "Create Date": _hub_time(created), "Last Modified Date": _hub_time(created + 30 * DAY),
        })
        self.company_truth.append({
            "record_id": record_id, "account_id": account.account_id, "parent_account_id": account.parent,
            "is_variant": variant is not None, "construct": variant or account.construct,
        })

    def build_company_records(self) -> None:
        # Parents first, so a child's Parent Company ID can name its parent's record.
        for account in sorted(self.accounts, key=lambda a: (a.parent is not None, a.account_id)):
            self.company_record(account, None)
            if self.u() < 0.12:
                for _ in range(1 + int(self.u() < 0.3)):
                    self.company_record(account, self.choice(
                        ["legal_suffix", "case_punctuation", "nbsp", "website_format", "no_domain"]))

    # -- people ----------------------------------------------------------------------------------------------
    def email_local(self, first: str, last: str, account: _Account, pattern: int | None = None) -> str:
        fold = _transliterate if account.umlaut_style else (lambda t, _s: _ascii(t))
        f = "".join(ch for ch in fold(first, 0).lower() if ch.isalnum())
        surname = last.split(" ")[-1] if last.split(" ")[0].lower() in _PARTICLES else last.split(" ")[0]
        surname = surname.split("-")[0]
        sl = "".join(ch for ch in fold(surname, 0).lower() if ch.isalnum())
        pattern = account.email_pattern if pattern is None else pattern
        return [f"{f}.{sl}", f"{f[:1]}{sl}", f"{f}", f"{f}{sl[:1]}", f"{f}_{sl}", f"{sl}.{f}"][pattern]

    def claim_local(self, local: str, domain: str) -> str:
        used = self.used_locals.setdefault(domain, set())
        candidate, k = local, 2
        while candidate in used:
            candidate = f"{local}{k}"
            k += 1
        used.add(candidate)
        return candidate

    def make_person(self, account: _Account, culture: str | None = None, first: str | None = None,
                    last: str | None = None, email_local: str | None = None) -> _Person:
        c = COUNTRIES[account.country]
        if culture is None:
            cultures = list(c["cultures"])
            culture = self.choice(cultures, [c["cultures"][k] for k in cultures])
        given, family = NAMES[culture]
        first = first or self.zipf_choice(given)
        last = last or self.zipf_choice(family)
        local = self.claim_local(email_local or self.email_local(first, last, account), account.domain)
        email = f"{local}@{account.domain}"
        if self.u() < 0.04:
            provider = self.choice(["gmail.com", "yahoo.com", "outlook.com", "gmx.de", "web.de", "hotmail.fr",
                                    "uol.com.br", "qq.com"])
            local = self.claim_local(f"{_slug(first)}.{_slug(last)}{int(self.rng.integers(1, 99))}", provider)
            email = f"{local}@{provider}"
        if account.switchboard and self.u() < 0.6:
            ext = str(int(self.rng.integers(100, 999))) if self.u() < 0.5 else None
            phone = self.phone_text(account.country, account.main_phone, int(self.rng.integers(0, 5)), ext)
        else:
            phone = self.phone_text(account.country, self.digits(c["nsn"]), int(self.rng.integers(0, 5)))
        mobile = self.phone_text(account.country, self.digits(c["nsn"]), int(self.rng.integers(0, 5))) \
            if self.u() < 0.4 else ""
        linkedin = ""
        if self.u() < 0.65:
            tag = f"{int(self.rng.integers(0, 16 ** 6)):06x}"
            if _has_special(first + last) and self.u() < 0.4:
                slug = f"{first.lower()}-{last.lower().replace(' ', '-')}-{tag}"  # LinkedIn keeps unicode slugs
            else:
                slug = f"{_slug(first)}-{_slug(last)}-{tag}" if self.u() < 0.8 else f"{_slug(first)}{_slug(last)}"
            # A profile URL belongs to one member: a taken vanity name gets the member's tag.
            slug = slug if slug not in self.used_slugs else f"{slug}-{tag}"
            self.used_slugs.add(slug)
            linkedin = f"https://www.linkedin.com/in/{slug}"
        street, city, postal = account.street, account.city, account.postal
        if self.u() < 0.15:  # another office of the company in the same country
            city, pattern = self.choice(c["cities"])
            street = f"{self.choice(c['streets'])} {int(self.rng.integers(1, 250))}"
            postal = self.postal(pattern)
        person = _Person(len(self.people) + 1, account, culture, first, last, email, phone, mobile, linkedin,
                         self.choice(TITLES), street, city, postal)
        self.people.append(person)
        return person

    def build_people(self, n_people: int) -> None:
        sizes = np.array([1.0 + (a.construct == "plain") for a in self.accounts]) * \
            self.rng.pareto(1.2, len(self.accounts)).clip(0.05, 40)
        counts = self.rng.multinomial(n_people, sizes / sizes.sum())
        for account, count in zip(self.accounts, counts, strict=True):
            for _ in range(int(count)):
                self.make_person(account)
        base_people = list(self.people)
        by_account: dict[int, list[_Person]] = {}
        for p in base_people:
            by_account.setdefault(p.account.account_id, []).append(p)
        crowded = [ps for ps in by_account.values() if len(ps) >= 3]
        order = self.rng.permutation(len(crowded))
        k = max(1, len(crowded) // 12)
        # Two people with the same (common) name at the same company: another office, title, phone, LinkedIn.
        for i in order[:k]:
            original = self.choice(crowded[i])
            twin = self.make_person(original.account, original.culture, original.first, original.last,
                                    email_local=self.email_local(original.first, original.last, original.account,
                                                                 int(self.rng.integers(0, 6))))
            c = COUNTRIES[twin.account.country]
            city, pattern = self.choice([x for x in c["cities"] if x[0] != original.city] or c["cities"])
            twin.street, twin.city, twin.postal = f"{self.choice(c['streets'])} {int(self.rng.integers(1, 250))}", \
                city, self.postal(pattern)
            twin.negative_kind, twin.lookalike_person_id = "same_name_same_company", original.person_id
            twin.phone = self.phone_text(twin.account.country, self.digits(c["nsn"]), int(self.rng.integers(0, 5)))
            original.negative_kind = original.negative_kind or "same_name_same_company"
        # A colleague with the same surname recorded with an initial, or with first and last name swapped.
        for i in order[k: 2 * k]:
            original = self.choice(crowded[i])
            given = [g for g in NAMES[original.culture][0] if g != original.first]
            colleague = self.make_person(original.account, original.culture, self.choice(given), original.last)
            colleague.negative_kind, colleague.lookalike_person_id = "initial_or_swapped_colleague", original.person_id
            if self.u() < 0.5:
                colleague.first = colleague.first[0] + self.choice([".", ""])
            else:
                colleague.first, colleague.last = colleague.last, colleague.first
        # Role mailboxes shared by several people of one company.
        for i in order[2 * k: 3 * k]:
            members = crowded[i][: int(self.rng.integers(2, 5))]
            box = self.choice(ROLE_MAILBOXES.get(members[0].culture, ROLE_MAILBOXES["default"]))
            for p in members:
                p.email = f"{box}@{p.account.domain}"
                p.negative_kind = "role_mailbox"
        # People whose records only look like junk: real titles, surnames, companies.
        lookalike_accounts = [a for a in self.accounts if a.construct == "junk_lookalike"]
        for p in self.rng.choice(base_people, size=max(4, len(base_people) // 300), replace=False):
            p.title = self.choice(LOOKALIKE_TITLES)
            p.negative_kind = p.negative_kind or "junk_lookalike"
        for account in lookalike_accounts:
            for _ in range(3):
                self.make_person(account).negative_kind = "junk_lookalike"

    # -- contact rows ----------------------------------------------------------------------------------------
    def contact_row(self, p: _Person, *, first=None, last=None, email=None, phone=None, mobile=None,
                    linkedin=None, title=None, company=None, website=None, street=None, city=None, postal=None,
                    account: _Account | None = None) -> dict:
        account = account or p.account
        created = BASE_NOW - int(self.rng.integers(1, 900)) * DAY
        company_ids = account.record_ids
        company_id = company_ids[0] if (len(company_ids) == 1 or self.u() < 0.85) else self.choice(company_ids)
        return {
            "First Name": p.first if first is None else first, "Last Name": p.last if last is None else last,
            "Email": p.email if email is None else email, "Phone Number": p.phone if phone is None else phone,
            "Mobile Phone Number": p.mobile if mobile is None else mobile,
            "Job Title": p.title if title is None else title,
            "Company Name": account.name if company is None else company,
            "Website URL": account.website if website is None else website,
            "Street Address": p.street if street is None else street, "City": p.city if city is None else city,
            "Postal Code": p.postal if postal is None else postal,
            "Country/Region": COUNTRIES[account.country]["name"],
            "LinkedIn URL": p.linkedin if linkedin is None else linkedin,
            "Associated Company ID (Primary)": str(company_id),
            "Create Date": _hub_time(created), "Last Modified Date": _hub_time(created + int(self.u() * 90) * DAY),
        }

    def add_contact(self, row: dict, person_id: int, account_id: int, duplicate_kind: str | None,
                    negative_kind: str | None, junk_kind: str | None = None, lookalike: int | None = None) -> None:
        self.contact_rows.append(row)
        self.contact_truth.append({
            "person_id": person_id, "account_id": account_id, "duplicate_kind": duplicate_kind,
            "negative_kind": negative_kind, "is_junk": junk_kind is not None, "junk_kind": junk_kind,
            "lookalike_person_id": lookalike, "is_original": duplicate_kind is None,
        })

    def duplicate(self, p: _Person, kind: str) -> dict:
        """A second record of person `p`, made the way `kind` arises in a CRM, plus everyday noise."""
        f = {}
        if kind == "diacritics":
            f["first"], f["last"] = (_ascii(p.first), _ascii(p.last)) if self.u() < 0.5 else \
                (_ascii(p.first), p.last) if _has_special(p.first) else (p.first, _ascii(p.last))
        elif kind == "transliteration":
            style = int(self.rng.integers(0, 3))
            f["first"], f["last"] = _transliterate(p.first, style), _transliterate(p.last, style)
        elif kind == "initials":
            f["first"] = p.first[0] + self.choice([".", "", ". "]).strip()
            if self.u() < 0.3:
                f["first"] = f"{p.first[0]}. {self.choice('ABCDEFGHJKLMNPRSTW')}."
        elif kind == "nickname":
            f["first"] = self.choice(NICKNAMES[p.first])
        elif kind == "swapped_name":
            f["first"], f["last"] = p.last, p.first
            if p.culture in ("cn", "jp") and self.u() < 0.4:
                f["first"] = p.last.upper()  # "ZHANG Wei": family name first, in capitals
        elif kind == "double_surname":
            parts = [w for w in p.last.replace("-", " ").split(" ") if w.lower() not in _PARTICLES]
            f["last"] = parts[-1] if p.culture == "pt" else parts[0]
        elif kind == "particle":
            words = p.last.split(" ")
            stem = " ".join(w for w in words if w.lower() not in _PARTICLES)
            f["last"] = self.choice([stem, p.last.title(), "".join(words), f"{stem}, {' '.join(words[:-1])}"])
        elif kind == "married_name":
            other = self.zipf_choice(NAMES[p.culture][1])
            f["last"] = self.choice([other, f"{p.last}-{other}"])
            f["email"] = p.email
        elif kind in ("acquisition", "job_change"):
            others = [a for a in self.accounts if a.country == p.account.country and a is not p.account
                      and a.construct == "plain"]
            new = self.choice(others) if others else p.account
            f["account"] = new
            local = p.email.split("@")[0]
            if kind == "acquisition":
                f["email"] = f"{local}@{new.domain}"
                f["phone"] = self.choice([p.phone, ""])
            else:
                f["email"] = f"{self.claim_local(self.email_local(p.first, p.last, new), new.domain)}@{new.domain}"
                f["phone"] = self.phone_text(new.country, self.digits(COUNTRIES[new.country]["nsn"]), 1)
                f["title"] = self.choice(TITLES)
                f["mobile"] = self.phone_text(p.account.country, _digits_of(p.mobile, p.account.country), 2)
                f["linkedin"] = self.linkedin_variant(p.linkedin)
            f["street"], f["city"], f["postal"] = new.street, new.city, new.postal
        elif kind == "missing_email":
            f["email"] = ""
        elif kind == "phone_format":
            nsn = _digits_of(p.phone, p.account.country)
            ext = p.phone.split(" ")[-1].lstrip("x#") if any(t in p.phone for t in ("ext", " x", "#")) else None
            f["phone"] = self.phone_text(p.account.country, nsn, int(self.rng.integers(0, 5)),
                                         None if ext and self.u() < 0.5 else ext)
            if p.mobile:
                f["mobile"] = self.phone_text(p.account.country, _digits_of(p.mobile, p.account.country),
                                              int(self.rng.integers(0, 5)))
        elif kind == "linkedin_variant":
            f["linkedin"] = self.linkedin_variant(p.linkedin)
        elif kind == "legal_suffix":
            f["company"] = self.choice([f"{p.account.base} {self.choice(LEGAL_VARIANTS.get(p.account.legal, ['']))}",
                                        p.account.base, p.account.name.upper()]).strip()
        elif kind == "nbsp":
            f["first"] = p.first + NBSP if self.u() < 0.5 else p.first.replace(" ", NBSP)
            f["last"] = NBSP + p.last.replace(" ", NBSP) if self.u() < 0.5 else p.last
            f["company"] = p.account.name.replace(" ", NBSP)
        elif kind == "typo":
            target = "first" if self.u() < 0.5 else "last"
            f[target] = _typo(getattr(p, target), self.rng)
        # Everyday noise on the fields the kind does not define.
        if "email" not in f:
            r = self.u()
            if r < 0.2:
                f["email"] = ""
            elif r < 0.32:
                local, _, domain = p.email.partition("@")
                f["email"] = self.choice([f"{local}+crm@{domain}", p.email.upper(), f" {p.email}"])
        if "phone" not in f and self.u() < 0.35:
            f["phone"] = ""
        if "mobile" not in f and self.u() < 0.3:
            f["mobile"] = ""
        if "linkedin" not in f and self.u() < 0.35:
            f["linkedin"] = ""
        if "title" not in f and self.u() < 0.2:
            f["title"] = self.choice(["", self.choice(TITLES)])
        if "account" not in f and self.u() < 0.1:
            f["street"], f["postal"] = "", ""
        if "account" not in f and "company" not in f and self.u() < 0.1:
            f["company"] = ""
        if "account" not in f and self.u() < 0.25:
            f["website"] = ""
        return f

    def linkedin_variant(self, url: str) -> str:
        if not url:
            return url
        slug = url.rsplit("/in/", 1)[1]
        encoded = quote(slug, safe="-")
        return self.choice([
            f"https://de.linkedin.com/in/{slug}", f"https://www.linkedin.com/in/{slug}/",
            f"http://linkedin.com/in/{slug}?trk=public_profile", f"www.linkedin.com/in/{encoded}",
            f"https://www.linkedin.com/in/{slug}/details/experience/", f"https://br.linkedin.com/in/{encoded}/",
            f"linkedin.com/in/{slug}?originalSubdomain=uk", f"https://www.linkedin.com/in/{slug.upper()}",
        ])

    def build_contacts(self, duplicate_share: float) -> None:
        kinds = ["diacritics", "transliteration", "initials", "nickname", "swapped_name", "double_surname",
                 "particle", "married_name", "acquisition", "job_change", "missing_email", "phone_format",
                 "linkedin_variant", "legal_suffix", "nbsp", "typo"]
        weights = [8, 8, 6, 8, 7, 5, 5, 5, 4, 5, 8, 8, 7, 6, 5, 5]
        for p in self.people:
            self.add_contact(self.contact_row(p), p.person_id, p.account.account_id, None, p.negative_kind,
                             lookalike=p.lookalike_person_id)
        # Duplicates: must merge with their person's record(s).
        candidates = [p for p in self.people if p.negative_kind != "role_mailbox"]
        # Each kind draws its person among those it can happen to (a particle needs a name with one).
        pools = {kind: [p for p in candidates if _applicable(kind, p)] for kind in kinds}
        n_dups = int(round(duplicate_share * len(candidates)))
        for kind in self.rng.choice(kinds, size=n_dups, p=np.asarray(weights) / sum(weights)):
            kind = str(kind) if pools[str(kind)] else "missing_email"
            p = self.choice(pools[kind])
            if kind == "job_change" and not (p.linkedin and p.mobile):
                # A job change keeps LinkedIn and mobile: give the person both.
                p.linkedin = p.linkedin or f"https://www.linkedin.com/in/{_slug(p.first)}-{_slug(p.last)}-" \
                    f"{int(self.rng.integers(0, 16 ** 6)):06x}"
                p.mobile = p.mobile or self.phone_text(p.account.country, self.digits(
                    COUNTRIES[p.account.country]["nsn"]), 0)
                self.contact_rows[p.person_id - 1].update({"LinkedIn URL": p.linkedin, "Mobile Phone Number": p.mobile})
            f = self.duplicate(p, kind)
            account = f.pop("account", p.account)
            self.add_contact(self.contact_row(p, account=account, **f), p.person_id, account.account_id, kind,
                             p.negative_kind)

    def build_junk(self, n: int) -> None:
        """Test and junk rows, often alike each other; each row is its own (non-)person."""
        person_id = len(self.people) + 1
        for i in range(n):
            account = self.choice(self.accounts)
            kind_draw = self.u()
            first, last = self.choice(JUNK_FIRST), self.choice(JUNK_LAST)
            email = self.choice(JUNK_EMAILS).format(d=account.domain, n=int(self.rng.integers(1, 999)))
            company = account.name
            kinds = []
            if kind_draw < 0.35:
                kinds = ["test_name", "test_email"]
            elif kind_draw < 0.55:
                kinds = ["test_email"]
                first, last = self.zipf_choice(NAMES["en"][0]), self.zipf_choice(NAMES["en"][1])
            elif kind_draw < 0.7:
                kinds = ["keyboard_mash"]
                first = _mash(self.rng)
                last = _mash(self.rng)
                email = f"{_mash(self.rng).lower()}@{_mash(self.rng).lower()}.com"
            elif kind_draw < 0.85:
                kinds = ["test_name", "placeholder_company"]
                company = self.choice(JUNK_COMPANIES)
                email = self.choice(["", email])
            else:
                kinds = ["placeholder_company", "test_email"]
                company = self.choice(JUNK_COMPANIES)
            phone = self.choice(["", "0000000000", "123456789", "+49 123 456789", "+1 555 555 5555", ""])
            row = {
                "First Name": first, "Last Name": last, "Email": email, "Phone Number": phone,
                "Mobile Phone Number": "", "Job Title": self.choice(["", "Test", "asdf", "CEO"]),
                "Company Name": company, "Website URL": "", "Street Address": self.choice(["", "Teststraße 1"]),
                "City": self.choice(["", "Test", account.city]), "Postal Code": self.choice(["", "12345", "00000"]),
                "Country/Region": COUNTRIES[account.country]["name"], "LinkedIn URL": "",
                "Associated Company ID (Primary)": "",
                "Create Date": _hub_time(BASE_NOW - int(self.rng.integers(1, 700)) * DAY),
                "Last Modified Date": _hub_time(BASE_NOW - int(self.rng.integers(0, 1)) * DAY),
            }
            self.add_contact(row, person_id + i, account.account_id, None, None, junk_kind="+".join(kinds))


_PARTICLES = {"van", "von", "der", "den", "de", "da", "das", "do", "dos", "di", "la", "le", "du", "del", "zu", "ten",
              "ter"}


def _applicable(kind: str, p: _Person) -> bool:
    name = p.first + p.last
    return {
        "diacritics": _has_special(name),
        "transliteration": any(ch in name for ch in "äöüÄÖÜßøØåÅōŌūŪ"),
        "nickname": p.first in NICKNAMES,
        "double_surname": len([w for w in p.last.replace("-", " ").split(" ") if w.lower() not in _PARTICLES]) > 1,
        "particle": any(w.lower() in _PARTICLES for w in p.last.split(" ")),
        "married_name": "@" in p.email and not p.email.split("@")[1].startswith(("gmail", "yahoo", "outlook", "gmx",
                                                                                 "web.de", "hotmail", "uol", "qq")),
        "acquisition": "@" in p.email and p.email.endswith("@" + p.account.domain),
        "linkedin_variant": bool(p.linkedin),
        "initials": "@" in p.email,
    }.get(kind, True)


def _digits_of(text: str, country: str) -> str:
    """The national significant number inside a phone text written by `phone_text` (extension removed)."""
    for marker in (" ext", " x", " #"):
        text = text.split(marker)[0]
    digits = "".join(ch for ch in text if ch.isdigit())
    nsn = COUNTRIES[country]["nsn"]
    return digits[-nsn:] if len(digits) >= nsn else digits.rjust(nsn, "2")


def _typo(text: str, rng: np.random.Generator) -> str:
    if len(text) < 4:
        return text + "e"
    i = int(rng.integers(1, len(text) - 1))
    op = int(rng.integers(0, 3))
    if op == 0:
        return text[:i] + text[i + 1:]
    if op == 1:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return text[:i] + "aeiourn"[int(rng.integers(0, 7))] + text[i + 1:]


def _mash(rng: np.random.Generator) -> str:
    rows = ["qwertzuiop", "asdfghjkl", "yxcvbnm", "qwertyuiop", "zxcvbnm"]
    row = rows[int(rng.integers(0, len(rows)))]
    start = int(rng.integers(0, len(row) - 4))
    run = row[start: start + int(rng.integers(4, 6))]
    return (run if rng.random() < 0.6 else run[:3] * 2).capitalize()


def _hub_time(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(epoch))


@dataclass
class HardWorldSummary:
    """What `generate_hard_world` wrote."""

    out_dir: str
    contacts: int
    companies: int
    people: int
    junk: int
    seconds: float


def generate_hard_world(out_dir: Path, contacts: int = 20_000, seed: int = TUNING_SEED) -> HardWorldSummary:
    """Write a HubSpot contacts + companies export full of hard cases into `out_dir/landing`, truth into
    `out_dir/truth` (contacts.parquet, companies.parquet, world_state.json with mode `hard_cases`).

    `contacts` is the approximate number of contact rows. Deterministic per (contacts, seed).
    """
    started = time.perf_counter()
    out = Path(out_dir)
    for folder in (out / "landing" / "hubspot_contacts", out / "landing" / "hubspot_companies", out / "truth"):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    world = _HardWorld(contacts, seed)
    junk = max(10, int(round(contacts * 0.03)))
    people = max(20, int(round((contacts - junk) / 1.16)))
    world.build_accounts(max(12, people // 9))
    world.build_company_records()
    world.build_people(people)
    world.build_contacts(duplicate_share=0.14)
    world.build_junk(junk)
    # Shuffle the export (CRMs export by id; ids do not follow people) and number the records.
    order = world.rng.permutation(len(world.contact_rows))
    rows = [world.contact_rows[i] for i in order]
    truth = [world.contact_truth[i] for i in order]
    for k, (row, t) in enumerate(zip(rows, truth, strict=True)):
        row["Record ID"] = str(FIRST_CONTACT_ID + k)
        t["record_id"] = FIRST_CONTACT_ID + k
    contact_columns = ["Record ID", *[c for c in rows[0] if c != "Record ID"]]
    pl.DataFrame(rows, schema=dict.fromkeys(contact_columns, pl.String)).write_csv(
        out / "landing" / "hubspot_contacts" / "contacts_export.csv")
    companies = pl.DataFrame(world.company_rows, schema=dict.fromkeys(world.company_rows[0], pl.String))
    companies.write_csv(out / "landing" / "hubspot_companies" / "companies_export.csv")
    pl.DataFrame(truth, schema={
        "record_id": pl.Int64, "person_id": pl.Int64, "account_id": pl.Int64, "duplicate_kind": pl.String,
        "negative_kind": pl.String, "is_junk": pl.Boolean, "junk_kind": pl.String, "lookalike_person_id": pl.Int64,
        "is_original": pl.Boolean,
    }).write_parquet(out / "truth" / "contacts.parquet")
    pl.DataFrame(world.company_truth, schema={
        "record_id": pl.Int64, "account_id": pl.Int64, "parent_account_id": pl.Int64, "is_variant": pl.Boolean,
        "construct": pl.String,
    }).write_parquet(out / "truth" / "companies.parquet")
    state = {"mode": MODE, "seed": seed, "contacts": contacts, "contact_records": len(rows),
             "company_records": companies.height, "people": len(world.people), "junk": junk}
    (out / "truth" / "world_state.json").write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    return HardWorldSummary(str(out), len(rows), companies.height, len(world.people), junk,
                            time.perf_counter() - started)
