"""A corpus of forum posts for checking that markdown written before the switch from
markdown-it-py to pyromark still cooks the same (tests/content/test_markdown_corpus.py, and
bench/cook.py measures on it).

POSTS are whole posts in the forum's voice; SNIPPETS are the pieces a post is made of, which
`generated()` combines into more posts (deterministically); HOSTILE are the strings the XSS
tests throw at cook(); EDGES are markup edge cases. `corpus()` is all of them, plus CRLF
copies of some. IMAGE_HOSTS is the allowed image host the posts use (others become links).
"""

from __future__ import annotations

import random

IMAGE_HOSTS = frozenset({"images.example"})

# Posts as most are: no hostile input, no edge case. bench/cook.py measures on these.
EVERYDAY: tuple[str, ...] = (
    "Hi all, I'm new here. My mum was diagnosed with **type 2 diabetes** last month and we're"
    " still finding our feet.\n\nShe's on metformin (500 mg twice a day) and the nurse has"
    " given her a leaflet about diet, but it's a lot to take in. A few questions:\n\n1. Did"
    " anyone else find the tablets upset their stomach at first?\n2. How often should she be"
    " checking her sugar?\n3. Is there a local group that meets in person?\n\nThanks in"
    " advance, any advice welcome.",
    "> Did anyone else find the tablets upset their stomach at first?\n\nYes, for the first"
    " two weeks or so. Taking them *with* food rather than before made a big difference for"
    " me, and the slow-release version (ask the GP about `metformin MR`) was gentler"
    " again.\n\nThe Diabetes UK pages are good: https://www.diabetes.org.uk/guide-to-diabetes"
    "\n\nHope your mum settles in soon.",
    "## Meeting notes, March\n\nThanks to everyone who came on Tuesday. We covered:\n\n-"
    " the new **podiatry** referral route\n- the walking group (Thursdays, 10am, from the"
    " library)\n- ideas for the summer social\n\nNext meeting is the *first Tuesday* in"
    " April. If you can't make it, email the organiser at care@example.org and we'll send"
    " the notes.\n\n~~The room is booked until 8pm~~ The room is now booked until 9pm.",
    "I've been keeping a log since the new dose started:\n\n| Week | Fasting | After"
    " dinner | Notes |\n|:-----|--------:|------------:|:------|\n| 1 | 7.8 | 10.2 |"
    " tired |\n| 2 | 7.1 | 9.4 | better |\n| 3 | 6.6 | 8.9 | walking daily |\n| 4 | 6.4 |"
    " 8.1 | |\n\nSo it's coming down slowly. The consultant said not to expect big changes"
    " before three months.",
    "Does anyone know whether the eye screening letters come from the hospital or the GP?\n"
    "Mine hasn't arrived and it's been over a year.\n\nI found [this page about the"
    ' programme](https://www.nhs.uk/conditions/diabetic-eye-screening/ "Diabetic eye'
    " screening\") but it doesn't say who to chase.",
    "Update: saw the dietitian today. Her main points were\n\n* swap white bread and rice for"
    " wholegrain\n* watch portion sizes more than cutting things out\n* fruit is fine, but"
    " whole rather than juice\n\nShe also recommended keeping a food diary for a week. I'm"
    " using a spreadsheet, happy to share it if anyone wants a copy.\n\n![my food"
    ' diary](https://images.example/diary.png "Food diary")',
    "Thank you all so much for the kind messages after my last post. It's been a hard few"
    " months, but reading everyone's stories here has helped more than I can say.\n\nI"
    " went back to work part-time this week and managed three days. Small steps!",
    "Quick tip for anyone using the app to record readings: you can export everything as a"
    " CSV from *Settings > Data > Export*. Then open it in any spreadsheet.\n\n```\ndate,"
    "time,reading\n2026-03-01,07:30,6.4\n2026-03-01,19:10,8.2\n```\n\nThe clinic said they"
    " can take the file by email, which saves writing it all out.",
)

POSTS: tuple[str, ...] = (
    # --- everyday posts ---
    "Thanks everyone for the replies. I saw the consultant today and we agreed to try a lower"
    " dose first.\n\nWill report back in a couple of weeks.",
    "Has anyone tried **pacing** for post-viral fatigue? My GP suggested it but I'm not sure"
    " where to start.",
    "# Managing fatigue after treatment\n\nI wanted to share what has helped me, since a few of"
    " you asked.\n\n- Pacing: *plan* the day, rest **before** you're exhausted\n- Keep a diary"
    " (`symptom log`) for two weeks\n- Talk to your GP about iron & vitamin D levels\n\nSee"
    " https://www.nhs.uk/conditions/chronic-fatigue-syndrome-cfs/ for background.",
    "> My consultant said it can take 6-12 months.\n> Don't compare yourself to others.\n\n"
    "This is so true. It took me nearly a year.",
    "> > Is it normal to feel this tired?\n> \n> Yes, for me it was.\n\nSame here, and it does"
    " get better.",
    "Quick question: does anyone know if the clinic on Tuesdays is still running?\nI rang but"
    " nobody answered.",
    "Line one\nLine two\nLine three\n\nNew paragraph.",
    "Here are my readings from last week:\n\n| Day | Morning | Evening |\n|:----|:-------:|"
    "--------:|\n| Mon | 5.6 | 7.1 |\n| Tue | 5.9 | 6.8 |\n| Wed | 6.2 | 7.4 |\n\nDoes that"
    " look OK to you?",
    "Results:\n| Week | Hours up |\n|---|---|\n| 1 | 4 |\n| 2 | 6 |",
    "| Drug | Dose | Notes |\n|------|------|-------|\n| Metformin | 500 mg | with food |\n|"
    " Ramipril | 2.5 mg | morning |",
    "Steps I follow every morning:\n\n1. Check blood sugar\n2. Take tablets with breakfast\n3."
    " Write it down\n\nThat's it!",
    "3. Third thing\n4. Fourth thing",
    "- Fruit\n  - apples\n  - pears\n- Vegetables\n  - carrots",
    "- first point\n\n- second point, with a gap\n\n- third",
    "* star bullet\n* another\n\n+ plus bullet\n+ another",
    "I use a little script to log my readings:\n\n```python\nfor day in days:\n    if"
    ' day.reading > 7:\n        print(f"{day}: high")\n```\n\nHappy to share.',
    "Indented code works too:\n\n    $ ./log --today\n    saved\n\nand then text.",
    "Use `Ctrl+F` to search the page, or `/` on the topic list.",
    "~~Cancelled~~ Moved to Thursday at 2pm.",
    'The new leaflet is at [the trust\'s site](https://example.org/leaflets/new "Leaflet")'
    " and [a copy here](/t/123/leaflet).",
    "Email the group organiser at care@example.org or write to mailto:team@example.org.",
    "See <https://example.org/guide> and <help@example.org>.",
    'Photo of the garden: ![our garden](https://images.example/garden.jpg "Garden")',
    "Here's the chart: ![chart](https://tracker.example/chart.png)",
    "![](https://tracker.example/pixel.gif)",
    "Scan attached ![scan](/uploads/scan-1.png)",
    "Old link: ![x](http://images.example/old.png)",
    "Don't forget: *emphasis*, _also emphasis_, **strong**, __also strong__, ***both***.",
    "snake_case_names and 2*3*4 should stay as typed, and so should a * b.",
    "Prices went up 5% and then *another* 10%.",
    "Typed HTML shows as text: <b>bold</b>, <i>italic</i>, <br> and <script>alert(1)</script>.",
    "<div>\nA block that looks like HTML\n</div>",
    "<!-- a comment -->\nAfter the comment.",
    "Entities: &amp; &lt; &gt; &copy; &#169; &#xA9; &nbsp;end &notanentity;",
    "Fish & chips, salt & vinegar, 5 < 7 and 9 > 3.",
    "A hard break with two spaces  \nand one with a backslash\\\nand a soft one\nhere.",
    "Unicode: café, naïve, 日本語, Ελληνικά, עברית, emoji 😀👍🏽, and ½ a tablet.",
    "Zero width: a\u200bb, word\u2060joiner, soft\u00adhyphen.",
    "Headings\n\n# One\n## Two\n### Three\n#### Four\n##### Five\n###### Six",
    "Setext heading\n==============\n\nSecond level\n------------\n\ntext",
    "A rule:\n\n---\n\nand another\n\n***\n\n___",
    "Escapes: \\*not em\\*, \\_not em\\_, \\# not heading, 1\\. not list, \\[not link\\].",
    "Path C:\\Users\\me\\notes.txt and a \\ backslash.",
    "Version 2.0.1 of the app, see cook.py and notes.md, e.g. the README.",
    "www.example.com is not linked, but https://www.example.com is.",
    "Link in brackets (https://example.org/a) and at end of sentence https://example.org/b.",
    "Wikipedia: https://en.wikipedia.org/wiki/Diabetes_(disambiguation) has more.",
    "Query string: https://example.org/search?q=blood+sugar&lang=en#results",
    "Trailing punctuation: https://example.org/x, https://example.org/y; https://example.org/z!",
    "Quoted 'https://example.org/q' and \"https://example.org/dq\".",
    "Long URL: https://example.org/a/very/long/path/with-many-segments/and-a-file.html?x=1&y=2",
    "An FTP link ftp://files.example.org/pub is not a link here.",
    "IP address 192.168.1.1 and localhost are left as text.",
    "Task list style:\n- [ ] to do\n- [x] done",
    "Footnote style[^1] stays as text.\n\n[^1]: The note.",
    "Reference link to [the guide][guide] and [again][].\n\n[guide]: https://example.org/guide"
    ' "The guide"\n[again]: /t/9',
    "> Quote with a list:\n> - one\n> - two\n>\n> and a paragraph.",
    "- item with a quote\n  > quoted\n- next item",
    "1. step one\n\n   ```\n   code in a list\n   ```\n\n2. step two",
    "Mixed *emphasis with `code` inside* and **strong with [a link](https://example.org)**.",
    "CRLF line one\r\nCRLF line two\r\n\r\nCRLF paragraph.",
    "Tabs\tbetween\twords and a tab at the end\t\nof a line.",
    "Non-breaking\u00a0space at the end\u00a0\n\nand the start of a paragraph.",
    "  Leading spaces on a paragraph.\n   and on the next line.",
    "@sam thanks! And @jo-ann, see you Thursday.",
    '[quote="sam, post:3, topic:12"]\nI said this earlier.\n[/quote]\n\nAnd I agree.',
    "Dose was ~5 mg, now ~10 mg (approx).",
    "Range 5~10 mg, and ~approximately~ right.",
    "Math: 2^10 = 1024, a_1 + a_2, x*y*z.",
    "Ratio 3:1 and time 10:30, at 5:00pm.",
    "Emoticons :) :( :-D and <3 love",
    "Arrows -> and <- and <-> and =>.",
    "Smileys <3 and a <b>tag</b> in the same line as https://example.org/heart.",
    "Email in angle brackets: <care@example.org>, and a bad one <not an email>.",
    "A table with inline markup:\n\n| Name | Link |\n|:-----|:-----|\n"
    "| **Bold** | [site](https://example.org) |\n| `code` | https://example.org/x |",
    "Table with escaped pipe:\n\n| Expr | Meaning |\n|---|---|\n| a \\| b | a or b |",
    "Table without leading pipes\n\nName | Value\n--- | ---\nA | 1\nB | 2",
    "Empty list item:\n\n-\n- second",
    "Numbered from zero:\n\n0. zero\n1. one",
    "Heading with trailing hashes ##\n\n## Title ##",
    "A paragraph ending in a hard break  ",
    "Nested emphasis ***strong em*** and **bold *both* bold**.",
    "Link with parentheses [wiki](https://en.wikipedia.org/wiki/Foo_(bar)) ok.",
    "Angle destination [doc](<https://example.org/a b>) and [rel](<../up>).",
    "Empty link [nothing]() and image ![nothing]().",
    "Image inside link [![logo](https://images.example/logo.png)](https://example.org).",
    "Link to section [see below](#later) and to mail [write](mailto:care@example.org).",
    "Punycode host https://exämple.org/päth and [link](https://bücher.example/x).",
    "Percent-encoded https://example.org/%E2%9C%93/done and <https://example.org/%41%42>.",
)

# Pieces of posts: sentences, lists, quotes, tables, code, links, images and edge cases.
SNIPPETS: tuple[str, ...] = (
    "I've had type 2 diabetes for about six years now.",
    "My HbA1c came back at 48 this time, down from 53.",
    "The dietitian suggested swapping white bread for wholemeal.",
    "Does anyone else get cramp at night? It's worse after walking.",
    "We meet on the **first Tuesday** of the month at the library.",
    "Bring a *friend* if you like - everyone is welcome.",
    "Thank you all, this group has been a lifeline.",
    "I'm not a doctor, so please check with yours first.",
    "It's `metformin` for me, twice a day with meals.",
    "The leaflet says to avoid grapefruit juice with it.",
    "Reading this back, I think I was just anxious.",
    "See https://www.diabetes.org.uk/guide-to-diabetes for the basics.",
    "There's a good summary at [Diabetes UK](https://www.diabetes.org.uk).",
    "Write to me at helper@example.org if you want the spreadsheet.",
    "The forms are on our page: /t/45/forms (sign in first).",
    "Photo: ![walk](https://images.example/walk.jpg)",
    'Screenshot: ![app screen](https://elsewhere.example/screen.png "My app")',
    "> I was told the same thing.",
    "> > And so was I.\n> Really?",
    "> Quote\nlazy continuation line",
    "- eggs\n- milk\n- bread",
    "1. Call the surgery\n2. Ask for the nurse\n3. Book the review",
    "- [link one](https://example.org/1)\n- https://example.org/2\n- <https://example.org/3>",
    "| A | B |\n|---|---|\n| 1 | 2 |",
    "| Left | Centre | Right |\n|:--|:--:|--:|\n| l | c | r |",
    "```\nplain code block\nwith two lines\n```",
    "```js\nconst x = a < b && c > d;\n```",
    "~~~\ntilde fence\n~~~",
    "    indented code line",
    "## A small heading",
    "### Update",
    "---",
    "Some *emphasis*, some **strong** and some ~~strikethrough~~.",
    "A line with a break  \nand the next line.",
    "Back\\slash and \\*literal stars\\*.",
    "Typing <em>tags</em> shows them as text.",
    "Entity &eacute; and &#8364; and &amp;amp;.",
    "Trailing spaces   ",
    "Tab\tseparated\tvalues",
    "Emoji 🎉 and accents: crème brûlée.",
    "Right-to-left: مرحبا and שלום.",
    "Numbers 1,000 and 1.5 and 3/4.",
    "Underscores in snake_case and __init__ stay.",
    "Stars in 2*3 and **bold** together.",
    "A URL in emphasis *https://example.org/em* and strong **https://example.org/st**.",
    "A URL with underscores https://example.org/some_page_name ok.",
    "Parenthesised (see https://example.org/p) text.",
    "Mention @alex and @sam_smith please.",
    'Reply to [quote="jo, post:2, topic:7"]this[/quote] inline.',
    "Ask at the desk (9:00-17:00).",
    "Use A&E only in an emergency; call 111 otherwise.",
    "x <y> z and a < b > c",
    'He said "it\'s fine" -- and it was...',
    "Checklist:\n- [x] bloods\n- [ ] eye test",
    "First\n\nSecond\n\n\n\nThird after blank lines",
    "Heading below\n---",
    "Term\n: definition style stays text",
    "`code with a | pipe` in text",
    "An image on this site ![me](/uploads/me.png) in text.",
    "Broken link [text](javascript:alert(1)) stays text.",
    "Another ![img](data:image/png;base64,AAAA) source.",
    "Relative [page](/t/1) and anchor [top](#top).",
    "Mail link [mail](mailto:jo@example.org?subject=Hi).",
    "Autolink with path <https://example.org/a/b?c=d>.",
    "Autolink javascript <javascript:alert(1)> is text.",
    "Bare https://example.org/end",
    "https://example.org/start of a line",
    "Two links https://a.example and https://b.example in a row.",
    "Email at start care@example.org and end of text care@example.org",
    "Email with dot name first.last@example.co.uk works.",
    "Not an email: a@b and name@localhost.",
    "Not a link: http:// and https:/ and //",
    "Protocol-relative //cdn.example.org/x.js appears here.",
)

# The strings the XSS tests in test_cook.py give cook(), and a few more of the same family.
HOSTILE: tuple[str, ...] = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<p onclick="alert(1)">click</p>',
    "<svg onload=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    "<style>body{display:none}</style>",
    '<a href="http://x.example" style="position:fixed;inset:0">x</a>',
    '<a href="javascript:alert(1)">x</a>',
    "<b>hi</b> & <script>x</script>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](jav&#x09;ascript:alert(1))",
    "[x](&#x6A;avascript:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](<javascript:alert(1)>)",
    "<javascript:alert(1)>",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    "[x](file:///etc/passwd)",
    "![pic](data:image/png;base64,iVBORw0KGgo=)",
    "![pic](data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=)",
    "![pic](javascript:alert(1))",
    "![pic](http://images.example/a.png)",
    "![pic](//evil.example/a.png)",
    "![pic](HTTP://images.example/a.png)",
    '![a scan](https://images.example/a.png "Scan")',
    '![a scan](/uploads/a.png "Scan")',
    '![a scan](HTTPS://images.example/b.png "Scan")',
    "![a scan](https://tracker.example/a.png)",
    "![x](https://Images.Example.evil/a.png)",
    "![x](https://exa\u200bmple.com/a.png)",
    "[bank](https://exa\u200bmple.com/login)",
    "[bank](https://example.com/lo\u200bgin)",
    "https://example.com/lo\u200bgin",
    "[bank](https://example.com/lo\u202egin)",
    "https://example.com/lo\u2066gin",
    "[bank](https://exa\u00admple.com/login)",
    "https://example.com/lo\ufeffgin",
    '```x"onmouseover=alert(1)\ncode\n```',
    '```python\nif a < b:\n    print("<b>hi</b>")\n```',
    "<table><tr><td>x</td></tr></table>",
    '[x](https://example.org "title" onmouseover="alert(1)")',
    "[x](/\\evil.example)",
    "![x](/\\evil.example/a.png)",
    "<a href=\"https://example.org\">typed anchor</a> and <img src='/uploads/a.png'>",
    "javascript:alert(1) as plain text",
    "[click me](javascript&colon;alert(1))",
    '[a](https://example.org/"onmouseover="alert(1))',
    '<https://example.org/"onmouseover="alert(1)>',
)

# Markup edge cases, where two CommonMark parsers could part.
EDGES: tuple[str, ...] = (
    "*a **b** c*",
    "**a *b* c**",
    "*a*b*c*",
    "_a_b_c_",
    "a*b*c and a_b_c",
    "***a** b*",
    "**a*",
    "*a**",
    "[a [b] c](/x)",
    "[a](/x \"t\") [b](/y 't') [c](/z (p))",
    "[link](/u\\)rl)",
    "![a ![b](/b.png)](/a.png)",
    "`` a ` b ``",
    "` code `",
    "`unclosed code",
    "```\nunclosed fence",
    "    code\n\n    more code",
    "> quote\n\n> second quote",
    "- a\n- b\n\n\n- c",
    "1) paren list\n2) second",
    "10. ten\n11. eleven",
    "- a\n 1. b",
    "text\n- list interrupting",
    "text\n1. not interrupting\n2. because not one",
    "# \n\n#\n\n# #",
    "#not a heading",
    "\\\\ double backslash",
    "a\\\nb",
    "a  \nb",
    "a\nb\nc",
    "&#0; &#x110000; &#xD800;",
    "&amp &lt",
    "[foo]: /url\n\n[foo]",
    "[Foo]: /url\n\n[FOO] and [foo]",
    '[ref]\n\n[ref]: <> "empty"',
    "<http://a.b/c?d=e&f=g>",
    "<mailto:a@b.c>",
    "<MAILTO:A@B.C>",
    "<a@b.c>",
    "http://example.org:8080/path and https://user@example.org/x",
    "https://example.org/?a=(1)&b=[2]",
    "https://example.org/a.b.c.",
    "https://example.org/a--b---c",
    "https://example.org/a?b?c?",
    "https://example.org/a!b!!",
    "(https://example.org/in-parens)",
    "[https://example.org/in-brackets]",
    "https://example.org/*starred*",
    "*https://example.org/emph*",
    "**https://example.org/strong**",
    "_https://example.org/under_",
    "~~https://example.org/struck~~",
    "`https://example.org/code`",
    "https://example.org/a_b_c_",
    "mailto:a@b.co, mailto:c@d.co",
    "a@b.co.uk. b@c.com,",
    "x@y",
    "https://example.org/a\\_b",
    "https://example.org/?a=1&amp;b=2",
    "| a |\n|---|\n| `x | y` |",
    "| a | b |\n|---|---|\n| 1 |",
    "| a | b |\n|---|---|\n| 1 | 2 | 3 |",
    "| a |\n|:-:|\n| centre |",
    "a | b\n--|--",
    "| a | b |\n|---|---|\nrow without pipes",
    "Some text\n| a | b |\n|---|---|\n| 1 | 2 |",
    "~~one~~ ~two~ ~~~three~~~",
    "~~a ~~b~~ c~~",
    "x ~~y~~z",
    "***\n---\n___",
    "- - -",
    "line\n===",
    "line\n---",
    "*\n*",
    "<\n>",
    "<div>\n\n*md*\n\n</div>",
    "<pre>\n*x*\n</pre>",
    "<?php echo 1; ?>",
    "<![CDATA[ x ]]>",
    "<!DOCTYPE html>",
    "a <!-- b --> c",
    '<a href="x">\n*y*\n</a>',
    "<span>*x*</span>",
    "Tab\there",
    "\ttab-indented code",
    "  \n  \n",
    "",
    "\n\n\n",
    "   ",
    "\u00a0",
    "\ufeffBOM at start",
    "a\u2028b\u2029c",
    "\x00nul",
    "\x1bescape",
)


def generated(count: int = 260, seed: int = 20261204) -> list[str]:
    """Posts made of two to six SNIPPETS, joined as posts join them."""
    rng = random.Random(seed)
    joins = ("\n\n", "\n\n", "\n\n", "\n", " ")
    posts: list[str] = []
    for _ in range(count):
        parts = rng.sample(SNIPPETS, rng.randint(2, 6))
        post = parts[0]
        for part in parts[1:]:
            post += rng.choice(joins) + part
        posts.append(post)
    return posts


def corpus() -> list[str]:
    """Every post to compare, without repeats, in a fixed order."""
    everything = [*EVERYDAY, *POSTS, *SNIPPETS, *HOSTILE, *EDGES, *generated()]
    everything += [post.replace("\n", "\r\n") for post in POSTS[::3]]
    return list(dict.fromkeys(everything))
