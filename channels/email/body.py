"""The complaint text of a mail: HTML to plain text, and the citizen's own words only.

HTML goes through nh3 (html5ever, the parser browsers use) first, which drops scripts,
styles, comments and any malformed markup, and keeps a small set of structural tags; a
small walker then writes those as plain text (paragraphs, line breaks, list items, links as
"text (url)", quotes as "> " lines). html2text was tried and not used: it writes Markdown
and escapes what citizens type ("1\\." "\\-"), which a plain-text complaint must not show.

Quoted previous messages and signatures are removed by :func:`strip_quotes`, written here
rather than taken from mail-parser-reply: that library has no Indonesian, and its signature
rule cuts everything after any line starting with "-" or "Thanks," -- in a complaint that
is the list of what is broken. Here anything uncertain is kept: losing a citizen's words is
worse than showing an operator a quoted line.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

__all__ = ["html_to_text", "strip_quotes", "unflow"]

_KEEP_TAGS = {
    "a",
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "caption",
    "center",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
}
# Elements whose content is never text for a reader.
_DROP_CONTENT = {
    "script",
    "style",
    "title",
    "template",
    "noscript",
    "iframe",
    "object",
    "svg",
    "math",
    "textarea",
    "select",
    "button",
}
_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "dl", "pre", "figure"}
_BLOCK = {
    "address",
    "article",
    "aside",
    "caption",
    "center",
    "dd",
    "div",
    "dt",
    "figcaption",
    "footer",
    "header",
    "main",
    "section",
    "tbody",
    "tfoot",
    "thead",
    "tr",
}
_SPACES = re.compile(r"\s+")


class _TextWriter(HTMLParser):
    """Writes sanitised HTML as plain text lines, each with its blockquote depth."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str]] = []
        self.buf: list[str] = []
        self.depth = 0
        self.pre = 0
        self.href: str | None = None
        self.link_text: list[str] = []
        self.lists: list[list[int]] = []  # [ordered, counter] per open list

    def _flush(self) -> None:
        text = "".join(self.buf).rstrip()
        if text.strip():
            self.lines.append((self.depth, text if self.pre else text.strip()))
        self.buf = []

    def _blank(self) -> None:
        self._flush()
        if self.lines and self.lines[-1][1]:
            self.lines.append((self.depth, ""))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            if "".join(self.buf).strip():
                self._flush()
            else:
                self.lines.append((self.depth, ""))
        elif tag == "hr":
            self._flush()
            self.lines.append((self.depth, "---"))
        elif tag == "blockquote":
            self._blank()
            self.depth += 1
        elif tag in ("ul", "ol"):
            self._blank() if not self.lists else self._flush()
            self.lists.append([tag == "ol", 0])
        elif tag == "li":
            self._flush()
            if self.lists and self.lists[-1][0]:
                self.lists[-1][1] += 1
                self.buf.append(f"{'  ' * (len(self.lists) - 1)}{self.lists[-1][1]}. ")
            else:
                self.buf.append("  " * max(len(self.lists) - 1, 0) + "- ")
        elif tag in ("td", "th"):
            if "".join(self.buf).strip():
                self.buf.append(" | ")
        elif tag == "a" and self.href is None:
            self.href = dict(attrs).get("href") or ""
            self.link_text = []
        elif tag == "pre":
            self._blank()
            self.pre += 1
        elif tag in _PARAGRAPH:
            self._blank()
        elif tag in _BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "blockquote":
            self._flush()
            self.depth = max(self.depth - 1, 0)
            self._blank()
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._blank() if not self.lists else self._flush()
        elif tag == "a" and self.href is not None:
            self.buf.append(_link_suffix(self.href, "".join(self.link_text)))
            self.href = None
        elif tag == "pre":
            self._flush()
            self.pre = max(self.pre - 1, 0)
            self._blank()
        elif tag in _PARAGRAPH:
            self._blank()
        elif tag in _BLOCK or tag == "li":
            self._flush()

    def handle_data(self, data: str) -> None:
        if self.href is not None:
            self.link_text.append(data)
        if self.pre:
            first, *rest = data.split("\n")
            self.buf.append(first)
            for line in rest:
                self._flush()
                self.buf.append(line)
            return
        text = _SPACES.sub(" ", data)
        current = "".join(self.buf)
        if not current.strip() or current.endswith(" "):
            text = text.lstrip()
        self.buf.append(text)

    def text(self) -> str:
        self._flush()
        out = []
        for depth, line in self.lines:
            out.append(("> " * depth + line).rstrip() if depth else line)
        return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _link_suffix(href: str, label: str) -> str:
    """What a link adds after its text: the address, unless the text already shows it."""
    href = href.strip()
    label = _SPACES.sub(" ", label).strip()
    lower = href.lower()
    if lower.startswith(("mailto:", "tel:")):
        target = href.split(":", 1)[1].split("?", 1)[0]
    elif lower.startswith(("http://", "https://")):
        target = href
    else:
        return ""  # cid:, javascript:, relative links mean nothing in a complaint
    bare = target.rstrip("/")
    if not target or bare in label or bare.split("://", 1)[-1] in label:
        return ""
    return f" ({target})"


def html_to_text(html: str) -> str:
    """Plain text of an HTML mail body: no tags, scripts, styles or comments; paragraphs and
    line breaks kept; links as ``text (url)``; blockquotes as ``> `` lines."""
    clean = nh3.clean(
        html,
        tags=_KEEP_TAGS,
        clean_content_tags=_DROP_CONTENT,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel=None,
        strip_comments=True,
    )
    writer = _TextWriter()
    writer.feed(clean)
    writer.close()
    return writer.text()


def unflow(text: str, *, delsp: bool = False) -> str:
    """Join the soft line breaks of ``format=flowed`` text (RFC 3676), keeping quote depth."""
    out: list[str] = []
    current: str | None = None
    current_depth = 0

    def emit() -> None:
        if current is not None:
            out.append(("> " * current_depth + current) if current_depth else current)

    for line in text.split("\n"):
        stripped = line.lstrip(">")
        depth = len(line) - len(stripped)
        if stripped.startswith(" "):
            stripped = stripped[1:]  # space-stuffing
        flowed = stripped.endswith(" ") and stripped != "-- "
        if flowed and delsp:
            stripped = stripped[:-1]
        if current is not None and depth == current_depth:
            current += stripped
        else:
            emit()
            current, current_depth = stripped, depth
        if not flowed:
            emit()
            current = None
    emit()
    return "\n".join(out)


_ATTR_START = re.compile(r"^\s*(?:on|pada)\s", re.IGNORECASE)
_ATTR_END = re.compile(r"\b(?:wrote|menulis|written|menuliskan)\s*:\s*$", re.IGNORECASE)
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:original message|pesan asli|pesan awal|pesan orisinal)\s*-{2,}\s*$", re.IGNORECASE
)
_FORWARD = re.compile(
    r"^\s*(?:-{2,}\s*(?:forwarded message|pesan (?:yang )?diteruskan|pesan terusan)\s*-{2,}"
    r"|begin forwarded message:|awal pesan yang diteruskan:)\s*$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\*?(?:from|dari)\s*:\*?\s*\S", re.IGNORECASE)
_HEADER_SENT = re.compile(r"^\s*\*?(?:sent|date|dikirim|terkirim|tanggal|waktu)\s*:", re.IGNORECASE)
_HEADER_OTHER = re.compile(r"^\s*\*?(?:to|cc|subject|kepada|subjek|perihal|judul)\s*:", re.IGNORECASE)
_SIGNATURE_DELIMITER = re.compile(r"^--[ \t]?$")
_MOBILE_SIGNATURE = re.compile(
    r"^(?:sent from my\b|sent from (?:yahoo )?mail\b|sent from outlook\b|sent via\b|get outlook for\b"
    r"|dikirim dari\b|dapatkan outlook untuk\b|terkirim dari\b|diketik dari\b|kirim dari\b).{0,60}$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(r"^\s*(?:[-_=*]\s*){3,}$")
# "> text", ">> text" or a bare ">"; ">50 rumah terendam" is the citizen's own line.
_QUOTED = re.compile(r"^[ \t]*>(?:[ \t>]|$)")


def _attribution(lines: list[str], i: int) -> tuple[int, str] | None:
    """``(number of lines, joined text)`` when an "On ... wrote:" / "Pada ... menulis:" line
    (possibly wrapped over up to three lines) starts at ``i``."""
    starts = bool(_ATTR_START.match(lines[i]))
    for span in (1, 2, 3) if starts else (1,):
        if i + span > len(lines) or (span > 1 and not lines[i + span - 1].strip()):
            return None
        joined = " ".join(line.strip() for line in lines[i : i + span])
        if _ATTR_END.search(joined) and (starts or "@" in joined):
            return span, joined
    return None


def _header_block(lines: list[str], i: int) -> bool:
    """True when an Outlook-style "From:" line at ``i`` starts a block with a "Sent:"/"Date:"
    line and at least one more header line (To, Subject...) right below it."""
    sent = other = 0
    for line in lines[i + 1 : i + 6]:
        if _HEADER_SENT.match(line):
            sent += 1
        elif _HEADER_OTHER.match(line):
            other += 1
        elif line.strip():
            break
    return sent >= 1 and sent + other >= 2


def strip_quotes(text: str) -> str:
    """The newest reply in ``text``: quoted lines (``>``), "On ... wrote:"/"Pada ... menulis:"
    lines, Outlook "-----Original Message-----" and "From:/Sent:" blocks with everything below
    them, the "-- " signature and phone signatures ("Sent from my iPhone", "Dikirim dari ...")
    removed.

    A block that starts the mail (nothing written above it) is a forward, not a quote, and is
    kept, as is everything after a "Forwarded message" line. Returns "" when the mail holds
    nothing but quoted lines.
    """
    lines = text.split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        has_text = any(k.strip() and not _SEPARATOR.match(k) for k in kept)
        starts_old_mail = _ORIGINAL.match(stripped) or (_HEADER_FROM.match(stripped) and _header_block(lines, i))
        if _FORWARD.match(stripped) or (starts_old_mail and not has_text):
            kept.extend(lines[i:])  # a forward: the old mail is what the citizen sends us
            break
        if starts_old_mail:
            break
        if _QUOTED.match(line):
            i += 1
            continue
        found = _attribution(lines, i)
        if found:
            span, joined = found
            after = next((ln for ln in lines[i + span :] if ln.strip()), "")
            if _QUOTED.match(after):
                i += span  # the quote itself is dropped line by line above
                continue
            if "@" in joined and has_text:
                break
        if _SIGNATURE_DELIMITER.match(line) and has_text:
            break
        kept.append(line)
        i += 1
    while kept and (not kept[-1].strip() or _SEPARATOR.match(kept[-1]) or _MOBILE_SIGNATURE.match(kept[-1].strip())):
        kept.pop()
    return "\n".join(kept).strip()
