"""A corpus for the identifiable-data check: posts in the forum's voice, with and without things
that could identify a patient.

Every identifier is synthetic: NHS numbers in the 999 range with valid check digits, Ofcom's
drama phone numbers (07700 900xxx, 020 7946 0xxx, 0113 496 0xxx, ...), example.* email domains,
made-up streets and hospital numbers. In IDENTIFYING each identifier is marked
`[[kind:text]]`; the marks are removed and their offsets become the expected findings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MARK = re.compile(r"\[\[(\w+):(.+?)\]\]", re.DOTALL)


@dataclass(frozen=True)
class Example:
    text: str
    expected: tuple[tuple[str, int, int], ...]  # (kind, start, end) in text
    known_limit: str = ""  # why the check gets this one wrong today, if it does

    @property
    def name(self) -> str:
        return self.text[:40].replace("\n", " ")


def marked(source: str, known_limit: str = "") -> Example:
    """Strip the `[[kind:text]]` marks, remembering where each marked text ends up."""
    parts: list[str] = []
    expected: list[tuple[str, int, int]] = []
    length = last = 0
    for m in _MARK.finditer(source):
        before = source[last : m.start()]
        parts.append(before)
        length += len(before)
        expected.append((m.group(1), length, length + len(m.group(2))))
        parts.append(m.group(2))
        length += len(m.group(2))
        last = m.end()
    parts.append(source[last:])
    return Example("".join(parts), tuple(expected), known_limit)


def clean(text: str, known_limit: str = "") -> Example:
    return Example(text, (), known_limit)


IDENTIFYING: list[Example] = [
    # --- NHS numbers ---
    marked(
        "Can someone help me read my letter? It says NHS number [[nhs_number:999 526 0182]] at "
        "the top and I don't know what half of it means."
    ),
    marked("Mum's NHS no is [[nhs_number:9991590838]], the GP surgery keep asking for it."),
    marked(
        "My husband's number is [[nhs_number:999-016-6137]] if anyone from the prehab team "
        "reads this."
    ),
    marked("Patient ref [[nhs_number:999 186 0916]], 67-year-old, pre-op for a Whipple, HbA1c 48."),
    marked(
        "I found [[nhs_number:9993909963]] on the top of my discharge summary. Is that the "
        "number they mean?"
    ),
    marked("(NHS: [[nhs_number:999 030 8241]]) sorry, copied that from the letter by accident."),
    marked(
        "For the referral the form needed her NHS number ([[nhs_number:999 628 1949]]) and the "
        "date of the op, 14/05/2024."
    ),
    marked("His details: [[nhs_number:999-821-9930]], ward 7B, bed 12."),
    marked(
        "Pasting the clinic letter:\n\nRe: Mrs A\nNHS No: [[nhs_number:999 518 1908]]\n"
        "Seen in the diabetes clinic on 02/04/2024."
    ),
    marked(
        "The number on my prescription is [[nhs_number:9992319488]]. Does that change when "
        "you move GP?"
    ),
    marked("Clinic reference [[nhs_number:999 757 4915]]: eGFR 45, creatinine 130."),
    marked("My son's red book has [[nhs_number:999 186 2528]] on the front page."),
    marked(
        "NHS number [[nhs_number:999 760 1890]] and his hospital number is "
        "[[hospital_number:RXX123456]]."
    ),
    marked("Mum: DOB [[date_of_birth:12/03/1941]], [[nhs_number:999 079 2445]], lives alone."),
    marked("ok here goes [[nhs_number:9999528902]] lol"),
    # --- dates of birth ---
    marked(
        "My DOB is [[date_of_birth:12/03/1985]] so I'm just under the age cut-off for the "
        "screening."
    ),
    marked("Dad (D.O.B. [[date_of_birth:03.06.1941]]) has been waiting 14 weeks for his hip."),
    marked("I was born on [[date_of_birth:12 March 1985]] and diagnosed with type 1 at 9."),
    marked(
        "Date of birth: [[date_of_birth:7th Jan 1952]]. Any advice on prehab before a bowel "
        "resection?"
    ),
    marked("She was born [[date_of_birth:March 12 1985]] in Bradford."),
    marked(
        "my date of birth is [[date_of_birth:01-02-78]] and they still put the wrong one on "
        "the letter"
    ),
    marked("Her birthday is [[date_of_birth:4 July 1950]], she'll be 74 this year."),
    marked("Name withheld, b. [[date_of_birth:23/11/1948]], widower, lives alone."),
    marked("[[date_of_birth:15/08/1960]] (DOB) is that what they need on the form?"),
    marked("born [[date_of_birth:2nd of September 1939]], so he's seen a few things!"),
    marked("The letter had my mum's dob wrong, it's [[date_of_birth:19.10.1937]] not 1973."),
    marked("Grandad was born in Leeds on [[date_of_birth:30 Nov 1944]]."),
    marked("[[date_of_birth:21 April 1992]] is my date of birth, for the record."),
    marked("DOB [[date_of_birth:1985-03-12]], MRN [[hospital_number:00123456]]."),
    marked("My daughter was born on [[date_of_birth:Feb 29, 2016]] so birthdays are complicated."),
    marked("dob: [[date_of_birth:5/6/72]]"),
    marked("Patient DOB - [[date_of_birth:01/02/1960]], seen in pre-assessment today."),
    marked(
        "Copied from the top of the letter:\n\nDOB:\n[[date_of_birth:14/02/1956]]\n"
        "Hosp No: [[hospital_number:M1234567]]"
    ),
    # --- phone numbers ---
    marked("Text me on [[phone:07700 900123]] if you want to meet for a walk."),
    marked("My mobile is [[phone:07700900456]], happy to chat about recovery after knee surgery."),
    marked("Ring the house on [[phone:0113 496 0123]] after 6."),
    marked("You can reach my wife on [[phone:+44 7700 900789]]."),
    marked("call [[phone:(020) 7946 0321]] and ask for me, I'm the carer."),
    marked("WhatsApp is [[phone:+447700900111]]."),
    marked("Landline [[phone:0161 496 0555]], mobile [[phone:07700-900-222]]."),
    marked("My number's [[phone:0121 496 0987]], evenings are best."),
    marked("If anyone wants to swap tips ring [[phone:029 2018 0456]]."),
    marked("Belfast folk: I'm on [[phone:028 9018 0123]]."),
    marked("Old number was [[phone:01632 960123]], new one is [[phone:07700 900654]]."),
    marked("I'm the Ward 7B volunteer, [[phone:+44 (0)20 7946 0999]]."),
    marked("mob [[phone:07700 900 333]]"),
    marked("Edinburgh group, call [[phone:0131 496 0777]]."),
    marked("Tel: [[phone:0044 7700 900888]] (my daughter's phone)"),
    # --- email addresses ---
    marked("Email me at [[email:jo.bloggs@example.org]] and I'll send you the exercise sheet."),
    marked("my address is [[email:MaryPatel1952@example.com]], any info welcome"),
    marked("Contact: [[email:carer_support+dad@example.net]]"),
    marked("You can write to [[email:t.smith@mail.example.org]], it's my son's."),
    marked("[[email:dr.jones@example.org]] is my consultant's secretary; she said to post here."),
    marked("Send the photos to [[email:gran.wilson@example.co.uk]] please."),
    marked("I'm [[email:a.khan@example.org]] on email and [[phone:07700 900444]] on the phone."),
    marked("reply to [[email:kate-h@example.org]]."),
    # --- home addresses ---
    marked(
        "Mum lives at [[postcode_address:12 Acacia Avenue, Leeds LS6 2AB]] if anyone local "
        "can pop in."
    ),
    marked("Post it to [[postcode_address:3a Mill Lane, Otley, West Yorkshire LS21 1AA]]."),
    marked("Address:\n[[postcode_address:27 Station Road\nHarrogate\nHG1 1AB]]"),
    marked("we're at [[postcode_address:45 Church Street, Manchester m1 1ae]]"),
    marked("Flat 2, [[postcode_address:8 Victoria Court, SW1A 1AA]]"),
    marked("Cards can go to [[postcode_address:101 Park View Road, Sheffield S10 2TN]]."),
    marked("I'm at [[postcode_address:7 the Green, Ilkley LS29 9AA]] most days."),
    marked("[[postcode_address:16 Oak Drive\nBristol BS8 1AB]], parcels welcome!"),
    marked("They sent it to [[postcode_address:22 High St., York YO1 7HH]] instead."),
    # --- hospital numbers ---
    marked(
        "My hospital number is [[hospital_number:K1234567]], if that helps anyone find my notes."
    ),
    marked("MRN: [[hospital_number:RXX123456]]"),
    marked("Hosp no. [[hospital_number:L987654]] on the wristband."),
    marked("patient number [[hospital_number:00456789]] on the clinic list."),
    marked("CHI [[hospital_number:0101901234]]"),
    marked("Unit number: [[hospital_number:A1234567]]."),
    marked("hospital no [[hospital_number:123 4567]] (Royal Infirmary)"),
    marked("My MRN is [[hospital_number:X00112233]] at the Royal."),
    # --- known limits: written to dodge a pattern ---
    marked(
        "email me: [[email:jo dot bloggs at example dot org]]",
        known_limit="an address spelled out in words is not recognised",
    ),
    marked(
        "call [[phone:07700.900.555]] any time",
        known_limit="phone numbers grouped with dots are not recognised (dots are decimals)",
    ),
]

CLEAN: list[Example] = [
    # --- doses and medicines ---
    clean("I'm on metformin 500mg twice daily and 10 mg of atorvastatin at night."),
    clean("They started me on 5 ml of Oramorph as needed, and 1.5-2 mg/kg for the little one."),
    clean("Insulin: 12 units with breakfast, 8 with lunch, 14 with tea, 22 of Lantus at 10pm."),
    clean("Apixaban 2.5 mg bd from day 3 post-op for 28 days."),
    clean("Co-codamol 30/500, two tablets up to four times a day, and paracetamol 1 g qds."),
    clean("Vitamin B12 injections every 12 weeks, 1000 micrograms each time."),
    clean("Ratio 1:10 for carbs at breakfast, 1:12 at lunch. Correction 1 unit per 3 mmol/L."),
    clean("Dexamethasone 8 mg for 3/7 after surgery, then tapering."),
    clean("Creon 25000, two with meals and one with snacks."),
    # --- lab values and measurements ---
    clean("Hb 112 g/L last week, up from 98. Ferritin 15 ug/L so iron infusion booked."),
    clean("eGFR 45 and creatinine 130 umol/L, so the dose was halved."),
    clean("HbA1c 48 mmol/mol, down from 64! Six months of walking and fewer biscuits."),
    clean("BMI 31.2 at pre-assessment; they want it under 30 before the knee."),
    clean("Blood pressure 140/90 this morning, 132/84 after a rest."),
    clean("FEV1 72% predicted, FVC 3.1 L, so the anaesthetist was happy."),
    clean("CPET: VO2 peak 14.2 ml/kg/min, anaerobic threshold 9.8."),
    clean("INR 2.5 on Monday, 3.1 on Thursday. Warfarin clinic adjusted it."),
    clean("Vitamin D 25 nmol/L, troponin <5 ng/L, CRP 12."),
    clean("Weight 82.4 kg, down 3.6 kg since the prehab programme started."),
    clean("Sats 94% on air, resp rate 18, temp 37.9."),
    clean("PSA 0.02 ng/mL three years after the prostatectomy."),
    clean("Glucose 5.4 fasting, 7.8 two hours after, CGM time in range 78%."),
    # --- dates that are not dates of birth ---
    clean("Surgery is booked for 12/03/2024. Prehab starts next week."),
    clean("Seen on 12/03/2024 in the pre-op clinic, all fine."),
    clean("My appointment is on 3rd April 2024 at 14:30."),
    clean("Op on 12 March 2024 went well, home on 15 March."),
    clean("March 12 2024 was my first session with the physio."),
    clean("Between 1/2/2024 and 1/3/2024 I walked every single day."),
    clean("Discharged 02.05.2024, follow-up 30-05-24."),
    clean("The new guidance came out on 2024-01-15."),
    clean("My daughter was born at 28 weeks, she came home on 12/03/2024."),
    clean("Born with a heart defect; surgery on 02/05/2019 went well."),
    clean("Born in 1950, Dad had his op on 12/03/2024 and is doing brilliantly."),
    clean("They always check your name and DOB at reception, and my appointment was 12/03/2024."),
    clean("It's my birthday next week, so I'll be 50. Still doing the prehab classes."),
    clean("I was born in 1985, and on 12 March 2024 I finally got my diagnosis."),
    clean("Scan results 01-02-2024 10:30, the consultant rang the same afternoon."),
    clean("Diagnosed 14th Feb 2019, which was a great Valentine's present."),
    clean("Check your DOB is right on the letter dated 12/03/2024, mine wasn't."),
    # --- ages, steps, scores ---
    clean("Dad, aged 67, fit and a keen walker, is having a TAVI."),
    clean("67-year-old man, T2DM, for elective hernia repair."),
    clean("I'm up to 8,000 steps a day, aiming for 10000 steps by the op."),
    clean("Walked 200 m on day 3 post-op, 1.2 km by day 10."),
    clean("Clinical frailty scale 4, Rockwood; ASA 3."),
    clean("Six-minute walk 412 m before prehab, 468 m after."),
    clean("11/10 would recommend the pulmonary rehab class."),
    clean("We had 1,234 people through the programme last year, p = 0.03 for the main outcome."),
    clean("Ten sit-to-stands in 30 seconds, up from 6."),
    # --- the NHS, wards, beds, times, years, percentages ---
    clean("NHS England published new prehab guidance this year."),
    clean("If it gets worse call NHS 111, or 999 if you have chest pain."),
    clean("He's on ward 12, bed 14. Visiting is 14:30 to 19:30."),
    clean("Ward 7B were brilliant. Bay 4 bed 2 for a week."),
    clean("Room 12, Outpatients B, the reception is by the lifts."),
    clean("Since 2019 I've done three marathons and one Whipple."),
    clean("About 30% of people on the programme improve by 10% or more."),
    clean("Guidance NG28 (2015, updated 2022) says HbA1c of 48 is the target."),
    clean("Smith et al. 2019; 12(3): 45-67 is the trial I meant."),
    clean("Trial ID NCT01234567, if anyone wants to read the protocol."),
    clean("iOS 17.4.1 broke the CGM app for a day."),
    clean("Ring the ward on extension 4567 and they'll put you through."),
    clean("The Macmillan support line is 0808 808 0000, free from mobiles."),
    clean("The batch number on the box was 9995393363, which the pharmacist wrote down."),
    clean("My Yellow Card reference is 123456789012, they said they'd be in touch."),
    clean("Queue number 3, and we waited 2 hours 45 minutes."),
    # --- places without a home address ---
    clean("Anyone in the LS6 area doing the walking group?"),
    clean("We're in M1 near the station, the clinic is a short walk."),
    clean("The clinic is at the infirmary on Great George Street, LS1 3EX."),
    clean("There's a parkrun at Roundhay Park every Saturday at 9."),
    clean("10 Downing Street could learn a thing or two from our carers' group."),
    # --- everyday forum talk ---
    clean(
        "Has anyone done prehab before a bowel resection? I've got six weeks and want to use "
        "them well."
    ),
    clean(
        "As a physio I'd say: little and often. Two short walks beat one long one when you're "
        "tired."
    ),
    clean("Thank you @sarah_h, the breathing exercises really helped."),
    clean("Email the PALS team through the hospital website if the letter is wrong."),
    clean("My mum's carer comes at 8 and 6, she's been a lifesaver."),
    clean(
        "I'm a practice nurse. Bring your meter and your last three HbA1c results to the review."
    ),
    clean("Type 1 for 30 years, pump for 5, loop for 1. Happy to answer questions."),
    clean("Day 1 after the knee: sore. Day 5: walking to the end of the road. Day 10: stairs."),
    clean("The 12-week programme is 2 gym sessions and 3 home sessions a week."),
    clean("I cried on the way home, then made a cup of tea and read this forum for an hour."),
    clean("The stoma nurse said 2-3 litres of fluid a day, more in the heat."),
    clean("We meet on the first Tuesday of the month, 7pm, in the church hall."),
    clean("Carers: please look after yourselves too. I didn't, and burnt out after 18 months."),
    clean("Anaesthetist said stop smoking at least 8 weeks before; I stopped at 12."),
    clean("Level 3 on the stairs test, which apparently is 'good enough' for the op."),
    clean("Our clinic runs 9:00-12:30 and 13:30-17:00, Mondays to Thursdays."),
    clean(
        "A 2023 review of 38 trials found prehab cut complications by about a fifth.",
    ),
    clean(
        "The charity helpline on 0306 999 0123 was really helpful.",
        known_limit="an organisation's 03 helpline looks like anyone's landline",
    ),
]
