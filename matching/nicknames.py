"""Nickname table: informal first name -> formal first names it can stand for.

A small, hand-kept table of common English (and a few German, Irish and Arabic) diminutives. Used to
compare first names ("Bob" and "Robert" agree) and to build a nickname-aware blocking key.
"""

from __future__ import annotations

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
}


def _name_groups() -> dict[str, frozenset[str]]:
    """Every name (formal or informal) -> the set of formal names it can stand for."""
    groups: dict[str, set[str]] = {}
    for formal, nicks in FORMAL_TO_NICKNAMES.items():
        groups.setdefault(formal, set()).add(formal)
        for nick in nicks:
            groups.setdefault(nick, set()).add(formal)
    return {name: frozenset(formals) for name, formals in groups.items()}


NAME_GROUPS = _name_groups()


def are_nickname_equivalent(first_a: str | None, first_b: str | None) -> bool:
    """True when two (normalized, lowercase) first names can be the same person by the nickname table."""
    if not first_a or not first_b or first_a == first_b:
        return False
    groups_a = NAME_GROUPS.get(first_a)
    groups_b = NAME_GROUPS.get(first_b)
    return bool(groups_a and groups_b and groups_a & groups_b)


def canonical_first_name(first: str | None) -> str | None:
    """A blocking key for a first name: the alphabetically first formal name it can stand for."""
    if not first:
        return first
    formals = NAME_GROUPS.get(first)
    return min(formals) if formals else first
