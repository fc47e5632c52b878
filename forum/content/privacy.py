"""Finding patient-identifiable data in a post's raw text, to warn its author before posting.

Pure and fast (precompiled patterns, no I/O). A finding carries a kind and character offsets,
never the matched text, and the messages here never quote it: they may be logged or stored.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

LABELS: dict[str, str] = {
    "nhs_number": "an NHS number",
    "date_of_birth": "a date of birth",
    "phone": "a phone number",
    "email": "an email address",
    "postcode_address": "a home address (postcode with a house number)",
    "hospital_number": "a hospital number",
}

# Where two findings overlap, the more specific kind is kept (a labelled number that passes the
# NHS check is an NHS number, not also a hospital or phone number).
_PRIORITY = {
    kind: rank
    for rank, kind in enumerate(
        [
            "nhs_number",
            "email",
            "hospital_number",
            "date_of_birth",
            "postcode_address",
            "phone",
        ]
    )
}


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int

    @property
    def label(self) -> str:
        return LABELS[self.kind]

    @property
    def message(self) -> str:
        return (
            f"This looks like {self.label}. "
            "Please remove it: posts here must not identify a patient."
        )


def describe(findings: Iterable[Finding]) -> list[str]:
    """One plain-language sentence per kind found, in order of first appearance."""
    seen: dict[str, str] = {}
    for finding in findings:
        seen.setdefault(finding.kind, finding.message)
    return list(seen.values())


# How the text is read: one regex pass, _SCAN, walks it and stops only where a match of some
# kind starts. Each kind is written as a lead (the character class every match of it opens
# with) and the rest. The scan consumes one lead character and tries each kind's rest in a
# lookahead, so it moves on by one character, never by a whole match: candidates of different
# kinds that start at the same place or overlap are all seen, and the priority order sorts
# them out at the end. At each stop, every kind that can open with that character is matched
# there on its own, unless the stop lies inside that kind's previous match: the matches are
# exactly those of one finditer per kind, found without walking the text once per kind.
# Dates are then parsed only in short windows around the birth words found, and addresses and
# email local parts only back from a postcode or an "@".
#
# Speed: digits are ASCII [0-9] (faster to test than \d, and what people type), and _SCAN opens
# with one case-sensitive character class, which lets the regex engine skip ahead to candidates
# instead of trying the pattern at every position. That is why case-insensitive parts are
# scoped, (?i:...): a pattern-wide IGNORECASE stops the engine skipping over cased letters.
_SEP = "[ \u00a0-]"

# --- NHS numbers -----------------------------------------------------------------------------

# 3-3-4 with one kind of separator throughout, or run together; never a slice of a longer number.
_NHS_LEAD = "0-9"
_NHS_REST = (
    rf"(?<![0-9.][0-9])(?<![0-9]{_SEP}[0-9])[0-9]{{2}}(?P<nhs_sep>{_SEP}?)[0-9]{{3}}"
    rf"(?P=nhs_sep)[0-9]{{4}}(?![0-9])(?!{_SEP}[0-9])(?!\.[0-9])"
)
_NON_DIGITS = re.compile(r"[^0-9]+")
# Placeholders people type ("000 000 0000") pass the check but identify no one.
_PLACEHOLDERS = frozenset({"0123456789"} | {str(d) * 10 for d in range(10)})


def is_valid_nhs_number(number: str) -> bool:
    """The modulus-11 check: weights 10..2 on the first nine digits, check = 11 - sum % 11
    (11 means 0; 10 means no valid number has these nine digits)."""
    digits = _NON_DIGITS.sub("", number)
    if len(digits) != 10:
        return False
    total = sum(int(d) * weight for d, weight in zip(digits, range(10, 1, -1), strict=False))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def _nhs_number(text: str, m: re.Match[str]) -> Finding | None:
    digits = _NON_DIGITS.sub("", m.group())
    if digits not in _PLACEHOLDERS and is_valid_nhs_number(digits):
        return Finding("nhs_number", m.start(), m.end())
    return None


# --- dates of birth --------------------------------------------------------------------------

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_MONTH_NUMBER = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_ORDINAL = r"(?:st|nd|rd|th)?"
# A two-digit year after a month name, unless it is really a quantity ("3 May 10 mg").
_SHORT_YEAR = (
    r"'?[0-9]{2}\b(?!\s*(?:mg|mcg|ml|g|kg|units?|years?|yrs?|months?|weeks?|days?|hours?|%))"
)
# Not part of the scan: run only in the windows around birth words. Every form opens with a digit
# or a month's first letter; the lookahead in front lets other places fail on one test.
_DATE = re.compile(
    r"(?=[0-9jfmasond])(?:"
    # 12/03/1985, 12-03-85, 12.03.1985 (one separator throughout)
    r"(?<![0-9/])(?<![0-9][.-])(?P<d1>[0-9]{1,2})(?P<sep>[/.-])(?P<m1>[0-9]{1,2})(?P=sep)"
    r"(?P<y1>[0-9]{4}|[0-9]{2})(?![0-9/-])(?!\.[0-9])"
    # 12 March 1985, 12th of Mar. 1985, 3 June '41
    rf"|\b(?P<d2>[0-9]{{1,2}}){_ORDINAL}(?:\s+of)?\s+(?P<m2>{_MONTHS})\.?,?\s+"
    rf"(?P<y2>[0-9]{{4}}\b|{_SHORT_YEAR})"
    # March 12 1985, Mar 12th, 1985
    rf"|\b(?P<m3>{_MONTHS})\.?\s+(?P<d3>[0-9]{{1,2}}){_ORDINAL},?\s+(?P<y3>[0-9]{{4}})\b"
    # 1985-03-12
    r"|\b(?P<y4>[0-9]{4})-(?P<m4>[0-9]{2})-(?P<d4>[0-9]{2})\b"
    ")",
    re.IGNORECASE,
)
# Words that make a nearby date a date of birth. The DOB words may also follow the date
# ("12/03/1985 (DOB)"); "b." counts only in lower case and directly before the date.
_CUE_LEAD = "bdBD"
_CUE_REST = (
    r"(?i:(?<!\w[bdBD])(?:"
    r"(?P<dob>(?<=[dD])\.?\s?o\.?\s?b\b\.?|(?<=[dD])ate\s+of\s+birth\b|(?<=[bB])irth\s?date\b)"
    r"|(?<=[bB])orn\b|(?<=[bB])irthday\b|(?P<b>(?-i:(?<=b)\.))))"
)
_CUE_GAP = 40  # characters allowed between a cue and the date after it
_DATE_WINDOW = _CUE_GAP + 40  # room for the longest date after the gap
# What may not come between a cue and the date: a new clause, or another event's date
# ("born at 28 weeks, she came home on 12/03/2024").
_CLAUSE_BREAK = re.compile(
    r"[\n;!?]|\.\s|\b(?:and|but|then|so|while|when|after|before|since|until|till"
    r"|appointment|appt|seen|surgery|operation|op|clinic|admitted|admission|discharged?"
    r"|review|scan|referred|referral|diagnosed|diagnosis|started|starting|booked|due"
    r"|died|passed|visit|test|results?|vaccinated|vaccine|jab|procedure|treatment"
    r"|therapy|session|class|moved|married|dated|came|went|had|got|i|we|she|he|they)\b",
    re.IGNORECASE,
)
# Only layout between a cue and the date ("DOB:\n12/03/1985", copied from a letter's header).
_PUNCTUATION = re.compile(r"[\s:.=-]*")
# Between a date and a DOB word after it: "12/03/1985 (DOB)", "... is her date of birth".
_DATE_THEN_CUE = re.compile(
    r"[\s,(\[:-]*(?:(?:is|was)\s+)?(?:(?:my|his|her|their|the|our)\s+)?", re.IGNORECASE
)


def _valid_date(m: re.Match[str]) -> bool:
    day = m.group("d1") or m.group("d2") or m.group("d3") or m.group("d4")
    month = m.group("m1") or m.group("m2") or m.group("m3") or m.group("m4")
    # casefold, not lower: ignoring case, a long s (U+017F) matches the s of "sep", and lower()
    # keeps it, so the look-up raised KeyError.
    month_number = int(month) if month.isdigit() else _MONTH_NUMBER[month[:3].casefold()]
    return 1 <= int(day) <= 31 and 1 <= month_number <= 12


def _windows(cues: list[re.Match[str]]) -> Iterator[tuple[int, int]]:
    """Where a date of birth could be: after each cue, and just before each DOB word. Windows
    that overlap are merged, so no stretch of text is scanned twice."""
    spans = sorted(
        [(c.end(), c.end() + _DATE_WINDOW) for c in cues]
        + [(max(0, c.start() - _DATE_WINDOW), c.start()) for c in cues if c.group("dob")]
    )
    lo, hi = spans[0]
    for start, end in spans[1:]:
        if start > hi:
            yield lo, hi
            lo = start
        hi = max(hi, end)
    yield lo, hi


def _is_birth_date(
    text: str, date: re.Match[str], cues: list[re.Match[str]], cue_ends: list[int]
) -> bool:
    """A cue shortly before the date in the same clause, or a DOB word just after it."""
    i = bisect.bisect_right(cue_ends, date.start())
    if i > 0:
        cue = cues[i - 1]
        gap = text[cue.end() : date.start()]
        if len(gap) <= (2 if cue.group("b") else _CUE_GAP) and (
            _PUNCTUATION.fullmatch(gap) or not _CLAUSE_BREAK.search(gap)
        ):
            return True
    if i < len(cues) and cues[i].start() >= date.end() and cues[i].group("dob"):
        return _DATE_THEN_CUE.fullmatch(text, date.end(), cues[i].start()) is not None
    return False


def _dates_of_birth(text: str, cues: list[re.Match[str]]) -> Iterator[Finding]:
    """The dates near `cues` (in text order, none overlapping) that are dates of birth."""
    cue_ends = [cue.end() for cue in cues]
    # A date cut short by a window is never kept: at a window's far end it lies beyond
    # _CUE_GAP, and at its near end the lookbehinds still see the text before it.
    for lo, hi in _windows(cues):
        for date in _DATE.finditer(text, lo, hi):
            if _valid_date(date) and _is_birth_date(text, date, cues, cue_ends):
                yield Finding("date_of_birth", date.start(), date.end())


# --- UK phone numbers ------------------------------------------------------------------------

# Mobiles (07) and landlines (02, 03) have 11 digits with the 0; 01 landlines 10 or 11.
_PHONE_NATIONAL = (  # after the trunk 0
    rf"(?:[237](?:\)?{_SEP}?[0-9]){{9}}|1(?:\)?{_SEP}?[0-9]){{8,9}})(?![0-9])(?!{_SEP}[0-9])"
)
_PHONE_44 = rf"44{_SEP}?(?:\(0\){_SEP}?)?\(?{_PHONE_NATIONAL}"
# "+44...", "0044...", "(0...)" or "0...", tried in that order.
_PHONE_LEAD = "+(0"
_PHONE_REST = rf"(?:(?<=\+)|(?<=0)0){_PHONE_44}|(?<=\()0{_PHONE_NATIONAL}|(?<=0){_PHONE_NATIONAL}"
# Just before a number: part of a word, a URL or a longer number
_PHONE_GLUED = re.compile(rf"(?:[\w+/]|[0-9]{_SEP})\Z")
_COUNTRY = re.compile(r"^(?:\+|00)44(?:[^0-9]*\(0\))?[^0-9]*")
_DIGIT_GROUPS = re.compile(r"[0-9]+")


def _phone_shaped(number: str) -> bool:
    """Digits grouped as people write phone numbers: the area code (with its 0) in one group of
    3 to 6 digits, then groups of 2 or more. "01-02-2024 10" is a date and a time, not a phone."""
    groups = _DIGIT_GROUPS.findall(_COUNTRY.sub("0", number))
    if len(groups) == 1:
        return True
    return 3 <= len(groups[0]) <= 6 and len(groups) <= 4 and min(map(len, groups[1:])) >= 2


def _phone(text: str, m: re.Match[str]) -> Finding | None:
    if _PHONE_GLUED.search(text, max(0, m.start() - 2), m.start()) or not _phone_shaped(m.group()):
        return None
    return Finding("phone", m.start(), m.end())


# --- email addresses -------------------------------------------------------------------------

# Found from the "@", then the local part back from it.
_EMAIL_LEAD = "@"
_EMAIL_REST = r"(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?![\w-])"
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+-]*\Z")


def _email(text: str, domain: re.Match[str]) -> Finding | None:
    local = _EMAIL_LOCAL.search(text, max(0, domain.start() - 64), domain.start())
    return Finding("email", local.start(), domain.end()) if local else None


# --- home addresses --------------------------------------------------------------------------

# A full postcode ("LS6 2AB", "m1 1ae"), found from its first digit.
_POSTCODE_LEAD = "0-9"
_POSTCODE_REST = (
    r"(?:(?<=\b[A-Za-z][0-9])|(?<=\b[A-Za-z]{2}[0-9]))[A-Za-z0-9]?\s?[0-9][A-Za-z]{2}\b"
)
_STREET = (
    r"(?:road|rd|street|st|avenue|ave|lane|ln|close|drive|dr|way|crescent|cres|court|ct|place"
    r"|terrace|gardens|gdns|grove|hill|park|square|sq|walk|mews|row|view|rise|green|parade"
    r"|villas|cottages|croft|fold|wynd|vale|gate|bank|fields|meadows?|heights|boulevard)"
)
# Before the postcode: a house number and a street ("12 Acacia Avenue", "3a Mill Lane"), then
# only words (town, county; over lines too). A district alone ("the LS6 area") is no address.
_ADDRESS_HEAD = re.compile(
    r"[0-9](?<!\w[0-9])[0-9]{0,3}[A-Z]?\b(?:-[0-9]{1,4}[A-Z]?)?,?\s+"  # 12, 3a, 10-12
    r"(?:[A-Z][\w'\u2019-]*\.?\s+){0,3}"  # Acacia, Park View, St. John's
    rf"{_STREET}\b\.?[A-Z\s,.'\u2019-]{{0,60}}\Z",
    re.IGNORECASE,
)
_ADDRESS_WINDOW = 140


def _address(text: str, postcode: re.Match[str]) -> Finding | None:
    start = postcode.start()  # the outward code's digit: step back over its letters
    while start > 0 and text[start - 1].isalpha():
        start -= 1
    head = _ADDRESS_HEAD.search(text, max(0, start - _ADDRESS_WINDOW), start)
    return Finding("postcode_address", head.start(), postcode.end()) if head else None


# --- hospital numbers ------------------------------------------------------------------------

# Only after a label saying what the number is: without one, "RXX123456" could be anything.
_HOSPITAL_LEAD = "chmpuCHMPU"
_HOSPITAL_REST = (
    r"(?i:(?<!\w[chmpuCHMPU])"
    r"(?:(?<=[mM])(?:rn\b|\.r\.n\b\.?)"  # MRN, M.R.N.
    r"|(?:(?<=[hH])osp(?:ital|\.)?|(?<=[pP])atient|(?<=[uU])nit|(?<=[cC])ase)"
    r"\s*(?:number|num|no|id)\b\.?"  # hospital number, hosp. no, patient ID, unit no.
    r"|(?-i:(?<=C)HI)\b(?:\s*(?:number|no)\b\.?)?)"  # CHI (Scotland), in capitals only
    r"[\s:#=.-]{0,4}(?:(?:is|was|of)\s*:?\s*)?"
    r"(?P<id>[A-Z]{0,4}[ -]?[0-9](?:[ -]?[0-9]){4,11}[A-Z]?)\b)"
)


def _hospital_number(text: str, m: re.Match[str]) -> Finding | None:
    return Finding("hospital_number", m.start("id"), m.end("id"))


# --- the scan --------------------------------------------------------------------------------


_FindingOf = Callable[[str, re.Match[str]], Finding | None]


@dataclass(frozen=True)
class _Kind:
    """What the scan stops for: a match opening with one of the characters in `lead` (the
    inside of a character class) and going on with `rest`. `finding_of` makes a finding of a
    match, or not; None marks the birth words, which are kept for the dates."""

    lead: str
    rest: str
    finding_of: _FindingOf | None

    def compile(self) -> re.Pattern[str]:
        return re.compile(f"[{self.lead}](?:{self.rest})")


_KINDS = (
    _Kind(_NHS_LEAD, _NHS_REST, _nhs_number),
    _Kind(_POSTCODE_LEAD, _POSTCODE_REST, _address),
    _Kind(_PHONE_LEAD, _PHONE_REST, _phone),
    _Kind(_EMAIL_LEAD, _EMAIL_REST, _email),
    _Kind(_HOSPITAL_LEAD, _HOSPITAL_REST, _hospital_number),
    _Kind(_CUE_LEAD, _CUE_REST, None),
)
_LEADS = "".join(kind.lead for kind in _KINDS)
# The scan stops on a lead character where the rest of some kind's pattern matches after it,
# each rest in a lookahead so that the scan moves on by one character. Most lead characters
# start nothing, so lookbehinds sort them cheaply before any rest is tried; each is implied by
# the patterns it guards, so no stop is lost.
_SCAN = re.compile(
    f"[{_LEADS}]"
    # Nothing starts at a letter inside a word, nor at a digit other than 0 inside a number.
    rf"(?<!\w[{_CUE_LEAD}{_HOSPITAL_LEAD}])(?<![0-9][1-9])(?:"
    # A digit: a phone number from a 0; an NHS number where a number starts; a postcode
    # where a number starts after a letter.
    rf"(?<=[0-9])(?:(?<=0)(?={_PHONE_REST})"
    rf"|(?<![0-9][0-9])(?:(?={_NHS_REST})|(?<=[A-Za-z][0-9])(?={_POSTCODE_REST})))"
    # A letter opening a word: a birth word or a hospital number's label.
    rf"|(?<=[{_CUE_LEAD}])(?={_CUE_REST})"
    rf"|(?<=[{_HOSPITAL_LEAD}])(?={_HOSPITAL_REST})"
    # The "@" of an email address, or the "+" or "(" opening a phone number.
    rf"|(?<=[+(@])(?:(?<=@)(?={_EMAIL_REST})|(?={_PHONE_REST}))"
    ")"
)
# For each lead character, the kinds whose matches may open with it: (index in _KINDS, the
# kind's own pattern, what makes a finding of its match).
_PATTERNS = [kind.compile() for kind in _KINDS]
_BY_LEAD: dict[str, tuple[tuple[int, re.Pattern[str], _FindingOf | None], ...]] = {
    char: tuple(
        (index, _PATTERNS[index], kind.finding_of)
        for index, kind in enumerate(_KINDS)
        if re.fullmatch(f"[{kind.lead}]", char)
    )
    for char in map(chr, range(128))
    if re.fullmatch(f"[{_LEADS}]", char)
}


def _scan(text: str) -> tuple[list[Finding], list[re.Match[str]]]:
    """The findings of every kind but dates of birth, and the birth words, in one pass."""
    found: list[Finding] = []
    cues: list[re.Match[str]] = []
    resume = [0] * len(_KINDS)  # per kind, where its last match ended: no match starts inside
    for stop in _SCAN.finditer(text):
        at = stop.start()
        for index, pattern, finding_of in _BY_LEAD[text[at]]:
            if at < resume[index] or (m := pattern.match(text, at)) is None:
                continue
            resume[index] = m.end()
            if finding_of is None:
                cues.append(m)
            elif (finding := finding_of(text, m)) is not None:
                found.append(finding)
    return found, cues


# --- all together ----------------------------------------------------------------------------

# Every kind but an email address holds a digit, and an email address an "@". Most posts hold
# neither, and this finds that out far faster than the scan would.
_DIGIT_OR_AT = re.compile(r"[0-9@]")


def find_identifiers(text: str) -> list[Finding]:
    """Everything in `text` that looks like it could identify a patient, in text order."""
    if not _DIGIT_OR_AT.search(text):
        return []
    found, cues = _scan(text)
    if cues:
        found.extend(_dates_of_birth(text, cues))
    kept: list[Finding] = []  # in text order, none overlapping
    starts: list[int] = []
    for finding in sorted(found, key=lambda f: (_PRIORITY[f.kind], f.start)):
        i = bisect.bisect_left(starts, finding.start)
        if (i > 0 and kept[i - 1].end > finding.start) or (
            i < len(kept) and kept[i].start < finding.end
        ):
            continue
        kept.insert(i, finding)
        starts.insert(i, finding.start)
    return kept
