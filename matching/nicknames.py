"""Nickname table: informal first name -> formal first names it can stand for.

A hand-kept table of common diminutives: English, German, Dutch, Spanish, Portuguese, Italian, Polish,
Russian, Irish and Arabic. Used to compare first names ("Bob" and "Robert", "Pepe" and "José" agree) and
to build a nickname-aware blocking key. Names are looked up by their matching key (`matching.normalize.
name_key`: ASCII, romanization-folded), so "José" and "Jose" find the same entry.
"""

from __future__ import annotations

import polars as pl

from matching.normalize import name_key

FORMAL_TO_NICKNAMES: dict[str, tuple[str, ...]] = {
    "abigail": ("abby", "abbie", "gail"),
    "alexander": ("alex", "xander", "sandy", "al"),
    "alexandra": ("alex", "sasha", "sandra", "lexi"),
    "alfred": ("alf", "fred", "freddie"),
    "amanda": ("mandy", "manda"),
    "andrew": ("andy", "drew"),
    "anthony": ("tony", "ant"),
    "barbara": ("barb", "babs"),
    "benjamin": ("ben", "benny", "benji"),
    "beverly": ("bev",),
    "catherine": ("cathy", "kate", "cat", "katie"),
    "charles": ("charlie", "chuck", "chas"),
    "christina": ("tina", "chris", "chrissy"),
    "christine": ("chris", "tina", "chrissy"),
    "christopher": ("chris", "topher", "kit"),
    "daniel": ("dan", "danny"),
    "david": ("dave", "davy"),
    "deborah": ("debbie", "deb", "debra"),
    "donald": ("don", "donnie"),
    "douglas": ("doug",),
    "edward": ("ed", "eddie", "ted", "ned"),
    "elizabeth": ("liz", "beth", "lizzie", "betty", "eliza", "libby"),
    "frederick": ("fred", "freddie", "fritz"),
    "gerald": ("gerry", "jerry"),
    "gregory": ("greg",),
    "jacob": ("jake", "jakob"),
    "jacqueline": ("jackie", "jacqui"),
    "james": ("jim", "jimmy", "jamie"),
    "jeffrey": ("jeff",),
    "jennifer": ("jen", "jenny", "jenn"),
    "jessica": ("jess", "jessie"),
    "johanna": ("hanna", "hannah", "jo"),
    "johannes": ("hannes", "jo", "hans"),
    "john": ("jack", "johnny"),
    "jonathan": ("jon", "jonny", "nathan"),
    "joseph": ("joe", "joey", "jo"),
    "joshua": ("josh",),
    "katharina": ("kathi", "katja", "kati"),
    "katherine": ("kate", "kathy", "katie", "kat"),
    "kathleen": ("kathy", "kate", "kath"),
    "kathryn": ("kate", "katie", "kathy"),
    "kenneth": ("ken", "kenny"),
    "kimberly": ("kim",),
    "lawrence": ("larry", "laurie"),
    "leonard": ("len", "leo", "lenny"),
    "margaret": ("maggie", "meg", "peggy", "marge"),
    "matthew": ("matt", "matty"),
    "maximilian": ("max",),
    "melissa": ("mel", "missy"),
    "michael": ("mike", "mikey", "mick"),
    "mohammed": ("mo", "moe"),
    "nathaniel": ("nate", "nathan", "nat"),
    "nicholas": ("nick", "nicky"),
    "nicole": ("nikki", "nicky"),
    "padraig": ("paddy",),
    "pamela": ("pam",),
    "patricia": ("pat", "patty", "trish", "tricia"),
    "patrick": ("pat", "paddy"),
    "peter": ("pete",),
    "philip": ("phil",),
    "raymond": ("ray",),
    "rebecca": ("becky", "becca"),
    "richard": ("rick", "rich", "dick", "ricky"),
    "robert": ("bob", "rob", "bobby", "robbie", "bert"),
    "ronald": ("ron", "ronnie"),
    "samantha": ("sam", "sammy"),
    "samuel": ("sam", "sammy"),
    "stephanie": ("steph",),
    "stephen": ("steve",),
    "steven": ("steve",),
    "susan": ("sue", "susie", "suzy"),
    "theodore": ("theo", "ted", "teddy"),
    "theresa": ("tess", "terry", "tessa"),
    "thomas": ("tom", "tommy"),
    "timothy": ("tim", "timmy"),
    "valentina": ("vale", "tina"),
    "victoria": ("vicky", "tori", "vic"),
    "william": ("bill", "will", "billy", "liam", "willy"),
    "zachary": ("zach", "zack"),
    # More English
    "henry": ("hank", "harry", "hal"),
    "harold": ("harry", "hal"),
    "dorothy": ("dot", "dottie", "dolly"),
    "harriet": ("hattie", "hatty"),
    "emily": ("em", "emmy", "millie"),
    "olivia": ("liv", "livvy"),
    "frances": ("fran", "frankie"),
    "francis": ("frank", "fran"),
    "mary": ("molly", "polly", "mae"),
    "sarah": ("sally", "sadie"),
    "eleanor": ("ellie", "nell", "nora"),
    "isabella": ("bella", "izzy"),
    "vincent": ("vince", "vinny"),
    "walter": ("walt", "wally"),
    "albert": ("al", "bert", "bertie"),
    "gilbert": ("gil", "bert"),
    "ernest": ("ernie",),
    "eugene": ("gene",),
    "terence": ("terry",),
    "lucinda": ("cindy", "lucy"),
    "cynthia": ("cindy",),
    "judith": ("judy",),
    "virginia": ("ginny", "ginger"),
    # German, Dutch, Scandinavian
    "matthias": ("matze", "matti", "hias"),
    "andreas": ("andi", "andy"),
    "josef": ("sepp", "seppl", "joe"),
    "friedrich": ("fritz", "fred"),
    "ulrich": ("uli",),
    "gerhard": ("gerd",),
    "wolfgang": ("wolfi",),
    "stefanie": ("steffi",),
    "susanne": ("susi",),
    "gabriele": ("gabi",),
    "christian": ("chris",),
    "christiane": ("chris",),
    "sebastian": ("basti",),
    "tobias": ("tobi",),
    "dominik": ("domi",),
    "jurgen": ("jurg",),
    "hendrik": ("henk",),
    "cornelis": ("kees", "cor"),
    "willem": ("wim",),
    "gijsbert": ("gijs",),
    "margaretha": ("greet", "grietje"),
    # Spanish, Portuguese, Italian
    "jose": ("pepe", "pepito", "ze", "chepe"),
    "francisco": ("paco", "pancho", "kiko", "chico", "fran"),
    "jesus": ("chucho", "chuy", "suso"),
    "ignacio": ("nacho",),
    "enrique": ("quique",),
    "manuel": ("manolo", "manu", "nel"),
    "dolores": ("lola",),
    "pilar": ("pili",),
    "rosario": ("charo",),
    "concepcion": ("concha", "conchi"),
    "guadalupe": ("lupe", "lupita"),
    "alberto": ("beto", "tito"),
    "roberto": ("beto", "tito"),
    "fernando": ("nando",),
    "eduardo": ("edu", "dudu"),
    "antonio": ("tonho", "toni", "tono"),
    "rafael": ("rafa",),
    "beatriz": ("bia", "bea"),
    "isabel": ("bel", "isa"),
    "luiza": ("lu",),
    "gabriela": ("gabi",),
    "giuseppe": ("beppe", "peppe", "pino"),
    "francesco": ("franco", "cecco"),
    "alessandro": ("sandro", "ale"),
    # Polish, Russian
    "malgorzata": ("gosia", "malgosia"),
    "wojciech": ("wojtek",),
    "katarzyna": ("kasia",),
    "tomasz": ("tomek",),
    "pawel": ("pawelek",),
    "aleksander": ("olek", "alek"),
    "agnieszka": ("aga",),
    "nikolai": ("kolya",),
    "mikhail": ("misha",),
    "dmitry": ("dima",),
    "vladimir": ("vova", "volodya"),
    "yekaterina": ("katya",),
    "natalia": ("natasha",),
    "svetlana": ("sveta",),
}


def _name_groups() -> dict[str, frozenset[str]]:
    """Every name key (formal or informal) -> the set of formal name keys it can stand for."""
    keys = pl.Series(sorted({n for formal, nicks in FORMAL_TO_NICKNAMES.items() for n in (formal, *nicks)}))
    key_of = dict(zip(keys.to_list(), pl.select(name_key(pl.lit(keys))).to_series().to_list(), strict=True))
    groups: dict[str, set[str]] = {}
    for formal, nicks in FORMAL_TO_NICKNAMES.items():
        for name in (formal, *nicks):
            groups.setdefault(key_of[name], set()).add(key_of[formal])
    return {name: frozenset(formals) for name, formals in groups.items()}


NAME_GROUPS = _name_groups()


def are_nickname_equivalent(first_a: str | None, first_b: str | None) -> bool:
    """True when two first-name keys (`name_key`) can be the same person by the nickname table."""
    if not first_a or not first_b or first_a == first_b:
        return False
    groups_a = NAME_GROUPS.get(first_a)
    groups_b = NAME_GROUPS.get(first_b)
    return bool(groups_a and groups_b and groups_a & groups_b)


def canonical_first_name(first: str | None) -> str | None:
    """A blocking key for a first-name key: the alphabetically first formal name key it can stand for."""
    if not first:
        return first
    formals = NAME_GROUPS.get(first)
    return min(formals) if formals else first
