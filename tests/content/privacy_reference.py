"""A frozen copy of forum/content/privacy.py as it was before the single-pass scan: one finder
per kind, each walking the text with its own patterns. The differential test and
bench/privacy.py compare the live module with it. When findings are meant to change, change
this copy in the same commit, so that the differential test keeps meaning "nothing else moved".
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
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


# Speed: digits are ASCII [0-9] (faster to test than \d, and what people type), and each
# pattern that scans the whole text opens with one character class or literal, which lets the
# regex engine skip ahead to candidates instead of trying the full pattern at every position.
# Dates are only parsed near birth words, and addresses only back from a postcode.
_SEP = "[ \u00a0-]"

# --- NHS numbers -----------------------------------------------------------------------------

# 3-3-4 with one kind of separator throughout, or run together; never a slice of a longer number.
_NHS = re.compile(
    rf"[0-9](?<![0-9.][0-9])(?<![0-9]{_SEP}[0-9])[0-9]{{2}}({_SEP}?)[0-9]{{3}}\1[0-9]{{4}}"
    rf"(?![0-9])(?!{_SEP}[0-9])(?!\.[0-9])"
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


def _nhs_numbers(text: str) -> Iterator[Finding]:
    for m in _NHS.finditer(text):
        digits = _NON_DIGITS.sub("", m.group())
        if digits not in _PLACEHOLDERS and is_valid_nhs_number(digits):
            yield Finding("nhs_number", m.start(), m.end())


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
_DATE = re.compile(
    # 12/03/1985, 12-03-85, 12.03.1985 (one separator throughout)
    r"(?<![0-9/])(?<![0-9][.-])(?P<d1>[0-9]{1,2})(?P<sep>[/.-])(?P<m1>[0-9]{1,2})(?P=sep)"
    r"(?P<y1>[0-9]{4}|[0-9]{2})(?![0-9/-])(?!\.[0-9])"
    # 12 March 1985, 12th of Mar. 1985, 3 June '41
    rf"|\b(?P<d2>[0-9]{{1,2}}){_ORDINAL}(?:\s+of)?\s+(?P<m2>{_MONTHS})\.?,?\s+"
    rf"(?P<y2>[0-9]{{4}}\b|{_SHORT_YEAR})"
    # March 12 1985, Mar 12th, 1985
    rf"|\b(?P<m3>{_MONTHS})\.?\s+(?P<d3>[0-9]{{1,2}}){_ORDINAL},?\s+(?P<y3>[0-9]{{4}})\b"
    # 1985-03-12
    r"|\b(?P<y4>[0-9]{4})-(?P<m4>[0-9]{2})-(?P<d4>[0-9]{2})\b",
    re.IGNORECASE,
)
# Words that make a nearby date a date of birth. The DOB words may also follow the date
# ("12/03/1985 (DOB)"); "b." counts only in lower case and directly before the date.
_CUE = re.compile(
    r"[bdBD](?<!\w[bdBD])(?:"
    r"(?P<dob>(?<=[dD])\.?\s?o\.?\s?b\b\.?|(?<=[dD])ate\s+of\s+birth\b|(?<=[bB])irth\s?date\b)"
    r"|(?<=[bB])orn\b|(?<=[bB])irthday\b|(?P<b>(?-i:(?<=b)\.)))",
    re.IGNORECASE,
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
    month_number = int(month) if month.isdigit() else _MONTH_NUMBER[month[:3].lower()]
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


def _dates_of_birth(text: str) -> Iterator[Finding]:
    cues = list(_CUE.finditer(text))
    if not cues:
        return
    cue_ends = [cue.end() for cue in cues]
    # A date cut short by a window is never kept: at a window's far end it lies beyond
    # _CUE_GAP, and at its near end the lookbehinds still see the text before it.
    for lo, hi in _windows(cues):
        for date in _DATE.finditer(text, lo, hi):
            if _valid_date(date) and _is_birth_date(text, date, cues, cue_ends):
                yield Finding("date_of_birth", date.start(), date.end())


# --- UK phone numbers ------------------------------------------------------------------------

# Mobiles (07) and landlines (02, 03) have 11 digits with the 0; 01 landlines 10 or 11. Each
# opening is spelled out so the pattern starts with a literal the engine can skip ahead to.
_PHONE_REST = (
    rf"(?:[237](?:\)?{_SEP}?[0-9]){{9}}|1(?:\)?{_SEP}?[0-9]){{8,9}})(?![0-9])(?!{_SEP}[0-9])"
)
_PHONE_44 = rf"44{_SEP}?(?:\(0\){_SEP}?)?\(?{_PHONE_REST}"
_PHONE = re.compile(rf"\+{_PHONE_44}|00{_PHONE_44}|\(0{_PHONE_REST}|0{_PHONE_REST}")
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


def _phones(text: str) -> Iterator[Finding]:
    for m in _PHONE.finditer(text):
        glued = _PHONE_GLUED.search(text, max(0, m.start() - 2), m.start())
        if not glued and _phone_shaped(m.group()):
            yield Finding("phone", m.start(), m.end())


# --- email addresses -------------------------------------------------------------------------

# Found from the "@" (a literal the engine finds fast), then the local part back from it.
_EMAIL_DOMAIN = re.compile(r"@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?![\w-])")
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+-]*\Z")


def _emails(text: str) -> Iterator[Finding]:
    if "@" in text:
        for domain in _EMAIL_DOMAIN.finditer(text):
            local = _EMAIL_LOCAL.search(text, max(0, domain.start() - 64), domain.start())
            if local:
                yield Finding("email", local.start(), domain.end())


# --- home addresses --------------------------------------------------------------------------

# A full postcode ("LS6 2AB", "m1 1ae"), found from its first digit.
_POSTCODE = re.compile(
    r"[0-9](?:(?<=\b[A-Za-z][0-9])|(?<=\b[A-Za-z]{2}[0-9]))[A-Za-z0-9]?\s?[0-9][A-Za-z]{2}\b"
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


def _addresses(text: str) -> Iterator[Finding]:
    for postcode in _POSTCODE.finditer(text):
        start = postcode.start()  # the outward code's digit: step back over its letters
        while start > 0 and text[start - 1].isalpha():
            start -= 1
        head = _ADDRESS_HEAD.search(text, max(0, start - _ADDRESS_WINDOW), start)
        if head:
            yield Finding("postcode_address", head.start(), postcode.end())


# --- hospital numbers ------------------------------------------------------------------------

# Only after a label saying what the number is: without one, "RXX123456" could be anything.
# The labels' first letters open the pattern, so the engine skips ahead to them.
_HOSPITAL = re.compile(
    r"[chmpuCHMPU](?<!\w[chmpuCHMPU])"
    r"(?:(?<=[mM])(?:rn\b|\.r\.n\b\.?)"  # MRN, M.R.N.
    r"|(?:(?<=[hH])osp(?:ital|\.)?|(?<=[pP])atient|(?<=[uU])nit|(?<=[cC])ase)"
    r"\s*(?:number|num|no|id)\b\.?"  # hospital number, hosp. no, patient ID, unit no.
    r"|(?-i:(?<=C)HI)\b(?:\s*(?:number|no)\b\.?)?)"  # CHI (Scotland), in capitals only
    r"[\s:#=.-]{0,4}(?:(?:is|was|of)\s*:?\s*)?"
    r"(?P<id>[A-Z]{0,4}[ -]?[0-9](?:[ -]?[0-9]){4,11}[A-Z]?)\b",
    re.IGNORECASE,
)


def _hospital_numbers(text: str) -> Iterator[Finding]:
    for m in _HOSPITAL.finditer(text):
        yield Finding("hospital_number", m.start("id"), m.end("id"))


# --- all together ----------------------------------------------------------------------------

_DIGIT = re.compile(r"[0-9]")
_NUMBER_FINDERS = (_nhs_numbers, _dates_of_birth, _phones, _hospital_numbers, _addresses)


def find_identifiers(text: str) -> list[Finding]:
    """Everything in `text` that looks like it could identify a patient, in text order."""
    found = list(_emails(text))
    if _DIGIT.search(text):
        for finder in _NUMBER_FINDERS:
            found.extend(finder(text))
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
